"""Fail-safe reading (clinical-logic v3, issue 8): a resource strict R4 parsing rejects is
still read for what the rules need, and what cannot be read is recorded, never silent."""

from __future__ import annotations

from typing import Any

from service.fhir.readers import Unreadable
from tests.support.clinical import (
    SCT,
    allergy,
    condition,
    creatinine,
    features_of,
    foot_drop,
    observation,
    service_request,
    weight,
)

Json = dict[str, Any]
EPILEPSY = "84757009"


def epilepsy(**fields: Any) -> Json:
    return {**condition(EPILEPSY, SCT, rid="seizure-1"), **fields}


def test_a_seizure_condition_with_fields_strict_r4_rejects_still_counts() -> None:
    odd = [
        epilepsy(someR5Element={"valueString": "x"}),  # an element R4 does not know
        epilepsy(onsetDateTime="2026-13-01"),  # an impossible date
        epilepsy(code={"coding": {"system": SCT, "code": EPILEPSY}}),  # coding as an object
        epilepsy(note="seen in clinic"),  # a string where Annotations are expected
    ]
    for resource in odd:
        f = features_of(resource, valid_r4=False)
        assert [x.reference for x in f.seizure_history] == ["Condition/seizure-1"], resource


def test_what_could_not_be_read_is_recorded_with_its_field() -> None:
    f = features_of(
        epilepsy(onsetDateTime="2026-13-01", recordedDate="2025-01-01"),
        {**condition("G40.909", rid="cond-x"), "code": {"coding": "G40.909"}},
        valid_r4=False,
    )
    assert Unreadable("Condition", "seizure-1", "onsetDateTime") in f.unreadable
    assert Unreadable("Condition", "cond-x", "code.coding") in f.unreadable
    # the date that could be read is used
    assert f.seizure_history[0].evidence.date == "2025-01-01"


def test_a_condition_whose_code_cannot_be_read_is_recorded() -> None:
    f = features_of({**condition(None, rid="c-9"), "code": "G40.909"}, valid_r4=False)
    assert f.unreadable == (Unreadable("Condition", "c-9", "code"),)


def test_a_lab_value_that_cannot_be_read_is_not_used_and_is_recorded() -> None:
    nan = creatinine(1.0)
    nan["valueQuantity"]["value"] = float("nan")
    huge = weight(70)
    huge["valueQuantity"]["value"] = 1e30
    f = features_of(foot_drop(), nan, huge, valid_r4=False)
    assert f.renal.status == "unknown"
    assert {(u.resource_id, u.field) for u in f.unreadable} == {
        (nan["id"], "valueQuantity.value"),
        (huge["id"], "valueQuantity.value"),
    }


def test_unread_resources_are_read_for_their_codes_only() -> None:
    """A resource whose codes name nothing the rules use is not read further, so
    nothing else in it can be reported as unreadable."""
    vital = observation("8867-4", when="yesterday", value=72)  # heart rate
    vital["status"] = 7
    visit = service_request("185349003", authored="2026-13-01")
    f = features_of(foot_drop(), vital, visit, valid_r4=False)
    assert f.unreadable == ()


def test_an_allergy_that_names_dalfampridine_with_an_impossible_date_counts() -> None:
    entry = {**allergy(text="Dalfampridine"), "recordedDate": "2026-02-30"}
    f = features_of(foot_drop(), entry, valid_r4=False)
    assert f.dalfampridine_allergy
    assert [u.field for u in f.unreadable] == ["recordedDate"]


def test_a_care_record_with_an_unreadable_status_does_not_count_and_is_recorded() -> None:
    mri = service_request("41333006", rid="mri-9")
    mri["status"] = {"code": "active"}
    f = features_of(foot_drop(), mri, valid_r4=False)
    assert not f.lumbar_mri
    assert f.unreadable == (Unreadable("ServiceRequest", "mri-9", "status"),)
