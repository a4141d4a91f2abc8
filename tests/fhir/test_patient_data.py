"""The hand-off keeps raw JSON: only what is not this patient's is dropped (clinical-logic v3).

Subject matching: `Patient/<id>`, `<any base>/Patient/<id>` and `urn:uuid:<id>` are this
patient; results without a subject are kept; every other subject is dropped, and one
that cannot be read as a reference is recorded as unreadable. Drafts are checked alike.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from service.fhir.patient_data import PatientData, Resource, assemble
from service.fhir.readers import Unreadable

PATIENT_ID = "pat-1"
NOW = datetime(2026, 6, 15, tzinfo=UTC)
Json = dict[str, Any]


def condition(rid: str, subject: object = None, **fields: Any) -> Json:
    resource: Json = {"resourceType": "Condition", "id": rid, "code": {"text": "x"}, **fields}
    if subject is not None:
        resource["subject"] = subject
    return resource


def assembled(*resources: Json, drafts: tuple[Json, ...] = ()) -> PatientData:
    return assemble(
        [list(resources)],
        patient_id=PATIENT_ID,
        now=NOW,
        draft_entries=[{"resource": d} for d in drafts],
    )


def kept(data: PatientData, resource_type: str = "Condition") -> list[str | None]:
    return [r.id for r in data.of_type(resource_type)]


@pytest.mark.parametrize(
    "reference",
    [
        "Patient/pat-1",
        "https://ehr.example.org/fhir/Patient/pat-1",
        "Patient/pat-1/_history/3",
        "urn:uuid:pat-1",
    ],
)
def test_this_patients_references_are_kept(reference: str) -> None:
    data = assembled(condition("c1", {"reference": reference}))
    assert kept(data) == ["c1"]
    assert data.skipped == 0


def test_a_result_without_a_subject_is_kept() -> None:
    assert kept(assembled(condition("c1"))) == ["c1"]


@pytest.mark.parametrize(
    "reference", ["Patient/other", "https://x.org/fhir/Patient/other", "urn:uuid:other", "Group/g1"]
)
def test_other_subjects_are_dropped(reference: str) -> None:
    data = assembled(condition("c1", {"reference": reference}))
    assert kept(data) == []
    assert data.skipped == 1
    assert data.unreadable == ()  # someone else's, not unreadable


@pytest.mark.parametrize(
    "subject",
    [
        {"identifier": {"system": "urn:mrn", "value": "123"}},
        {"reference": "patient/pat-1"},
        {"display": "Jane Doe"},
        "Patient/pat-1",
    ],
)
def test_unreadable_subjects_are_dropped_and_recorded(subject: object) -> None:
    data = assembled(condition("c1", subject))
    assert kept(data) == []
    assert data.unreadable == (Unreadable("Condition", "c1", "subject"),)


def test_one_assembly_tells_each_reference_as_it_would_alone() -> None:
    """Verdicts are remembered by the reference's text within one assembly: a record mixing
    this patient, others and unreadable subjects (repeated, spaced, in `subject` and in
    `patient`) keeps, drops and records exactly what assembling each resource alone does."""
    subjects: list[object] = [
        {"reference": "Patient/pat-1"},
        {"reference": " Patient/pat-1 "},
        {"reference": "Patient/other"},
        {"reference": "patient/pat-1"},
        {"reference": "urn:uuid:pat-1"},
        {"display": "Jane Doe"},
        "Patient/pat-1",
    ]
    resources = [
        condition(f"c{i}", subject, patient=subjects[(i * 3) % len(subjects)])
        for i, subject in enumerate(subjects * 3)
    ]
    together = assembled(*resources)
    alone = [assembled(r) for r in resources]
    assert kept(together) == [rid for data in alone for rid in kept(data)]
    assert together.skipped == sum(data.skipped for data in alone)
    assert together.unreadable == tuple(u for data in alone for u in data.unreadable)


def test_allergy_patient_and_another_patient_resource() -> None:
    allergy = {
        "resourceType": "AllergyIntolerance",
        "id": "a1",
        "patient": {"reference": "Patient/x"},
    }
    other = {"resourceType": "Patient", "id": "someone-else"}
    data = assembled(allergy, other, {"resourceType": "Patient", "id": PATIENT_ID})
    assert kept(data, "AllergyIntolerance") == []
    assert data.patient is not None and data.patient.id == PATIENT_ID


def test_invalid_r4_is_kept_for_the_readers() -> None:
    """Strict R4B would drop all three; the features read what they can."""
    data = assembled(
        condition("c1", {"reference": "Patient/pat-1"}, onsetDateTime="2026-13-01"),
        condition("c2", {"reference": "Patient/pat-1"}, someR5Element={"a": 1}),
        {"resourceType": "ServiceRequest", "id": "sr", "status": 42, "code": {"text": "MRI"}},
    )
    assert kept(data) == ["c1", "c2"]
    assert kept(data, "ServiceRequest") == ["sr"]


def test_entries_that_are_not_resources_are_counted_and_recorded() -> None:
    data = assemble([[{"no": "type"}, "junk"]], patient_id=PATIENT_ID, now=NOW)
    assert data.skipped == 2
    assert [u.field for u in data.unreadable] == ["resourceType", "resourceType"]


def test_drafts_are_checked_like_the_record_and_kept_once() -> None:
    mine = {
        "resourceType": "ServiceRequest",
        "id": "d1",
        "subject": {"reference": "urn:uuid:pat-1"},
    }
    theirs = {"resourceType": "ServiceRequest", "id": "d2", "subject": {"reference": "Patient/x"}}
    no_subject = {"resourceType": "MedicationRequest", "id": "d3"}
    data = assembled(drafts=(mine, theirs, no_subject, dict(mine)))
    assert [d.reference for d in data.draft_orders] == ["ServiceRequest/d1", "MedicationRequest/d3"]


def test_a_record_copy_of_a_draft_is_read_as_the_draft() -> None:
    recorded = {
        "resourceType": "ServiceRequest",
        "id": "d1",
        "status": "draft",
        "priority": "routine",
    }
    draft = dict(recorded, priority="urgent")
    data = assembled(recorded, drafts=(draft,))
    assert data.of_type("ServiceRequest") == ()
    assert data.draft_orders[0].raw["priority"] == "urgent"


def test_a_recorded_order_is_sent_back_only_when_it_is_valid_r4() -> None:
    valid = {
        "resourceType": "ServiceRequest",
        "id": "sr1",
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/pat-1"},
    }
    invalid = dict(valid, id="sr2", authoredOn="2026-13-01")
    data = PatientData(
        patient_id=PATIENT_ID,
        now=NOW,
        resources={"ServiceRequest": (Resource.of(valid), Resource.of(invalid))},
    )
    assert data.order_json("ServiceRequest/sr1") == valid
    assert data.order_json("ServiceRequest/sr2") is None
