"""Dalfampridine doses over HTTP (clinical-logic v3 §4): the labelled order in tablets is
silent whatever its spelling, and absurd numbers never give a 500 or a false card."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import PATIENT_ID, full_prefetch, hook_request
from tests.http.test_order_hooks import OS, dalfampridine_draft

CRCL_90 = {
    "resourceType": "Observation",
    "id": "crcl-90",
    "status": "final",
    "subject": {"reference": f"Patient/{PATIENT_ID}"},
    "code": {"coding": [{"system": "http://loinc.org", "code": "2164-2"}]},
    "effectiveDateTime": "2026-06-10",
    "valueQuantity": {
        "value": 90,
        "unit": "mL/min",
        "system": "http://unitsofmeasure.org",
        "code": "mL/min",
    },
}


def _dosage(**changes: Any) -> dict[str, Any]:
    draft = dalfampridine_draft()
    dosage = draft["dosageInstruction"][0]
    for path, value in changes.items():
        *parents, name = path.split("__")
        target: Any = dosage
        for parent in parents:
            target = target[int(parent)] if parent.isdigit() else target[parent]
        target[name] = value
    return draft


def _cards(client: TestClient, draft: dict[str, Any]) -> list[dict[str, Any]]:
    context = {
        "draftOrders": {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": copy.deepcopy(draft)}],
        },
        "selections": [f"MedicationRequest/{draft['id']}"],
    }
    body = hook_request("order-select", context=context, prefetch=full_prefetch(CRCL_90))
    response = client.post(OS, json=body)
    assert response.status_code == 200, response.text
    cards: list[dict[str, Any]] = response.json()["cards"]
    return cards


ONE_PILL = {"value": 1, "unit": "{pill}"}
BID = {"code": {"coding": [{"code": "BID"}]}}

LABELLED = {
    "one {pill} BID": _dosage(doseAndRate=[{"doseQuantity": ONE_PILL}], timing=BID),
    "one tablet, UCUM 1, twice daily": _dosage(
        doseAndRate=[{"doseQuantity": {"value": 1, "unit": "tablet", "code": "1"}}],
        timing={"code": {"text": "twice daily"}},
    ),
    "one TAB q12h": _dosage(
        doseAndRate=[{"doseQuantity": {"value": 1, "unit": "tab", "code": "TAB"}}],
        timing={"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
    ),
}

ABSURD = {
    "dose 1e30 mg": _dosage(doseAndRate__0__doseQuantity__value=1e30),
    "period 1e-30 h": _dosage(timing__repeat__period=1e-30),
    "timing code of 5,000 digits": _dosage(
        timing={"code": {"coding": [{"code": "Q" + "9" * 5000 + "H"}]}}
    ),
    "frequency 2^31": _dosage(timing__repeat__frequency=2**31),
}


@pytest.mark.parametrize("draft", LABELLED.values(), ids=LABELLED.keys())
def test_the_labelled_dose_in_tablets_gets_no_card(client: TestClient, draft: Any) -> None:
    assert _cards(client, draft) == []


@pytest.mark.parametrize("draft", ABSURD.values(), ids=ABSURD.keys())
def test_absurd_numbers_give_no_500_and_no_false_card(client: TestClient, draft: Any) -> None:
    assert _cards(client, draft) == []
