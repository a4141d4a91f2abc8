"""What the service sends back in an action is valid R4, however the EHR shaped its draft."""

from __future__ import annotations

from typing import Any

from service.fhir.r4 import as_valid_r4

SANDBOX_DRAFT: dict[str, Any] = {
    "resourceType": "MedicationRequest",
    "id": "request-123",
    "status": "draft",
    # The sandbox sends no intent, and category / reasonCode as single objects.
    "category": {
        "coding": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/medicationrequest-category",
                "code": "outpatient",
            }
        ]
    },
    "reasonCode": {"coding": [{"system": "http://snomed.info/sct", "code": "24700007"}]},
    "subject": {"reference": "Patient/p1"},
    "medicationCodeableConcept": {"text": "dalfampridine 10 MG"},
    "dosageInstruction": [{"text": "one tablet twice daily"}],
}


def test_single_objects_become_lists_and_intent_is_set() -> None:
    fixed = as_valid_r4(SANDBOX_DRAFT)
    assert fixed is not None
    assert isinstance(fixed["category"], list) and isinstance(fixed["reasonCode"], list)
    assert fixed["intent"] == "order"
    assert fixed["reasonCode"][0]["coding"][0]["code"] == "24700007"


def test_an_intent_the_draft_has_is_kept_and_the_input_is_not_changed() -> None:
    draft = {**SANDBOX_DRAFT, "intent": "plan"}
    fixed = as_valid_r4(draft)
    assert fixed is not None and fixed["intent"] == "plan"
    assert isinstance(SANDBOX_DRAFT["category"], dict)


def test_null_and_empty_values_are_left_out() -> None:
    fixed = as_valid_r4({**SANDBOX_DRAFT, "note": [], "priority": None, "groupIdentifier": {}})
    assert fixed is not None
    assert not {"note", "priority", "groupIdentifier"} & set(fixed)


def test_what_cannot_be_made_valid_is_not_sent() -> None:
    without_medication = {
        k: v for k, v in SANDBOX_DRAFT.items() if k != "medicationCodeableConcept"
    }
    without_subject = {k: v for k, v in SANDBOX_DRAFT.items() if k != "subject"}
    assert as_valid_r4(without_medication) is None
    assert as_valid_r4(without_subject) is None
    assert as_valid_r4({**SANDBOX_DRAFT, "authoredOn": "2026-13-01"}) is None
    assert as_valid_r4({"resourceType": "NoSuchType"}) is None
