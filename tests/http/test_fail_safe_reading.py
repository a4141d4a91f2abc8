"""Fail-safe reading over HTTP (clinical-logic v3, issue 8): what strict R4 rejects is read,
what is another patient's is not, through the real stack and the loopback FHIR server."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import FOOT_DROP, PATIENT_ID, full_prefetch, hook_request, serve_record
from tests.http.test_order_hooks import EPILEPSY_RESOLVED, OS, dalfampridine_draft
from tests.support.fhir_server import FhirServer

PV = "/cds-services/footdrop-patient-view"
CONTRA = "dalfampridine-contraindicated"


def _topics(response: Any) -> set[str]:
    assert response.status_code == 200, response.text
    return {card["source"]["topic"]["code"] for card in response.json()["cards"]}


def _select(draft: dict[str, Any], **record: Any) -> dict[str, Any]:
    context = {
        "draftOrders": {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": draft}],
        },
        "selections": [f"MedicationRequest/{draft['id']}"],
    }
    return hook_request("order-select", context=context, **record)


def _broken(**changes: Any) -> dict[str, Any]:
    draft = dalfampridine_draft()
    draft.update(changes)
    return draft


def _unbounded_frequency() -> dict[str, Any]:
    draft = dalfampridine_draft()
    draft["dosageInstruction"][0]["timing"]["repeat"]["frequency"] = 2**31
    return draft


BROKEN_DRAFTS = [
    _broken(authoredOn="2026-13-01"),
    _unbounded_frequency(),
    _broken(
        medicationCodeableConcept={
            "coding": {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "897021"}
        }
    ),
    _broken(renderedDosageInstruction="10 mg every 12 hours"),
]


@pytest.mark.parametrize("draft", BROKEN_DRAFTS)
def test_a_contraindicated_draft_strict_r4_rejects_still_gets_the_critical_card(
    client: TestClient, draft: dict[str, Any]
) -> None:
    body = _select(draft, prefetch=full_prefetch(EPILEPSY_RESOLVED))
    assert CONTRA in _topics(client.post(OS, json=body))


def test_a_seizure_history_strict_r4_rejects_still_contraindicates(client: TestClient) -> None:
    seizure = copy.deepcopy(EPILEPSY_RESOLVED)
    seizure["onsetDateTime"] = "2026-13-01"
    seizure["code"]["coding"] = seizure["code"]["coding"][0]  # an object, not a list
    body = _select(dalfampridine_draft(), prefetch=full_prefetch(seizure))
    assert CONTRA in _topics(client.post(OS, json=body))


@pytest.mark.parametrize(
    "subject",
    [
        {"reference": "urn:uuid:other"},
        {"identifier": {"system": "urn:mrn", "value": PATIENT_ID}},
        {"reference": f"patient/{PATIENT_ID}"},
        {"reference": "Group/ward-3"},
    ],
)
def test_another_subjects_conditions_are_never_this_patients_evidence(
    client_factory: Callable[..., TestClient], fhir: FhirServer, subject: dict[str, Any]
) -> None:
    client = client_factory(fhir_allowlist=[fhir.base_url])
    foot_drop = dict(FOOT_DROP, subject=subject)
    assert _topics(client.post(PV, json=hook_request(prefetch=full_prefetch(foot_drop)))) == set()
    serve_record(fhir, foot_drop)
    via_server = hook_request(fhir_server_url=fhir.base_url, token="t")
    assert _topics(client.post(PV, json=via_server)) == set()


@pytest.mark.parametrize(
    "subject",
    [
        {"reference": f"urn:uuid:{PATIENT_ID}"},
        {"reference": f"https://ehr.example.org/fhir/Patient/{PATIENT_ID}"},
        None,
    ],
)
def test_this_patients_subjects_and_none_are_read(
    client: TestClient, subject: dict[str, Any] | None
) -> None:
    foot_drop = {k: v for k, v in FOOT_DROP.items() if k != "subject"}
    if subject is not None:
        foot_drop["subject"] = subject
    assert "orthosis" in _topics(
        client.post(PV, json=hook_request(prefetch=full_prefetch(foot_drop)))
    )


def test_a_draft_for_another_patient_is_not_checked(client: TestClient) -> None:
    draft = _broken(subject={"reference": "Patient/someone-else"})
    body = _select(draft, prefetch=full_prefetch(EPILEPSY_RESOLVED))
    assert _topics(client.post(OS, json=body)) == set()
