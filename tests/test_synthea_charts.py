"""Realistic Synthea charts (../shared, when present): negative controls and injected scenarios.

None of the 100 charts has foot drop, so patient-view must stay silent on every
one; with a foot drop injected, the first-line cards must appear, and the same
cards must come back whether the chart arrives as prefetch or from the FHIR server.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import days_ago
from tests.support.fhir_server import FhirServer, searchset
from tests.support.synthea import as_prefetch, chart_paths, iter_charts, load_chart, needs_synthea

PV = "/cds-services/footdrop-patient-view"
OS = "/cds-services/footdrop-order-select"
SEIZURE_CODES = {"84757009", "128613002"}
ADULT_CHARTS = 8


def templates(client: TestClient) -> dict[str, str]:
    services = client.get("/cds-services").json()["services"]
    prefetch: dict[str, str] = services[0]["prefetch"]
    return prefetch


def request_for(
    client: TestClient, resources: list[dict[str, Any]], hook: str = "patient-view", **context: Any
) -> dict[str, Any]:
    patient_id, prefetch = as_prefetch(resources, templates(client))
    return {
        "hook": hook,
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/doc-1", "patientId": patient_id, **context},
        "prefetch": prefetch,
    }


def foot_drop_for(resources: list[dict[str, Any]]) -> dict[str, Any]:
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    return {
        "resourceType": "Condition",
        "id": "injected-foot-drop",
        "subject": {"reference": f"urn:uuid:{patient['id']}"},
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "active",
                }
            ]
        },
        "verificationStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                    "code": "confirmed",
                }
            ]
        },
        "code": {
            "coding": [
                {
                    "system": "http://hl7.org/fhir/sid/icd-10-cm",
                    "code": "M21.371",
                    "display": "Foot drop, right foot",
                }
            ]
        },
        "onsetDateTime": days_ago(20),
    }


def is_adult(resources: list[dict[str, Any]]) -> bool:
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    return "deceasedDateTime" not in patient and patient["birthDate"] <= days_ago(365 * 19)


def topics(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [card["source"]["topic"]["code"] for card in response.json()["cards"]]


@needs_synthea
def test_no_chart_without_foot_drop_gets_a_patient_view_card(client: TestClient) -> None:
    checked = 0
    for name, resources in iter_charts():
        response = client.post(PV, json=request_for(client, resources))
        assert topics(response) == [], name
        checked += 1
    assert checked == 100


@needs_synthea
def test_injected_foot_drop_brings_the_first_line_cards(client: TestClient) -> None:
    adults = [load_chart(p) for p in chart_paths()]
    adults = [r for r in adults if is_adult(r)][:ADULT_CHARTS]
    assert len(adults) == ADULT_CHARTS
    for resources in adults:
        resources = [*resources, foot_drop_for(resources)]
        found = topics(client.post(PV, json=request_for(client, resources)))
        assert "orthosis" in found and "physical-therapy" in found, found


@needs_synthea
def test_dalfampridine_is_contraindicated_on_every_chart_with_a_seizure_disorder(
    client: TestClient,
) -> None:
    checked = 0
    for name, resources in iter_charts():
        codes = {
            coding.get("code")
            for r in resources
            if r["resourceType"] == "Condition"
            for coding in r["code"].get("coding", [])
        }
        if not codes & SEIZURE_CODES:
            continue
        patient = next(r for r in resources if r["resourceType"] == "Patient")
        draft = {
            "resourceType": "MedicationRequest",
            "id": "dalf-1",
            "status": "draft",
            "intent": "order",
            "subject": {"reference": f"Patient/{patient['id']}"},
            "medicationCodeableConcept": {
                "coding": [
                    {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "897021"}
                ]
            },
        }
        body = request_for(
            client,
            resources,
            "order-select",
            selections=["MedicationRequest/dalf-1"],
            draftOrders={"resourceType": "Bundle", "entry": [{"resource": draft}]},
        )
        assert "dalfampridine-contraindicated" in topics(client.post(OS, json=body)), name
        checked += 1
    assert checked >= 5


@needs_synthea
@pytest.mark.parametrize("chart_index", [0, 1])
def test_chart_via_fhir_server_gives_the_same_cards_as_prefetch(
    client_factory: Callable[..., TestClient], fhir: FhirServer, chart_index: int
) -> None:
    adults = [r for r in (load_chart(p) for p in chart_paths()) if is_adult(r)]
    resources = [*adults[chart_index], foot_drop_for(adults[chart_index])]
    client = client_factory(fhir_allowlist=[fhir.base_url])
    body = request_for(client, resources)
    patient_id = body["context"]["patientId"]
    fhir.reply(f"/fhir/Patient/{patient_id}", body["prefetch"]["patient"])
    for key, query in templates(client).items():
        if key != "patient":
            path = "/fhir/" + query.split("?")[0]
            fhir.reply(path, searchset(*(e["resource"] for e in body["prefetch"][key]["entry"])))
    via_prefetch = topics(client.post(PV, json=body))
    body.pop("prefetch")
    body["fhirServer"] = fhir.base_url
    via_server = topics(client.post(PV, json=body))
    assert via_server == via_prefetch
    assert "orthosis" in via_server
