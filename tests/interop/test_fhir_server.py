"""The FHIR server of the tier behaves as an EHR's FHIR R4 server does.

The scenarios trust it to hold the record, so what they rely on is checked here:
capabilities, CORS, transactions with bundle-local references, searches by GET and
by POST, paging, R4 validation of writes, `$validate`, and the request log.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.interop.harness import FhirServer

Json = dict[str, Any]
FHIR_JSON = {"Content-Type": "application/fhir+json"}
SCT = "http://snomed.info/sct"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"


def condition(subject: str, code: str) -> Json:
    return {
        "resourceType": "Condition",
        "subject": {"reference": subject},
        "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "active"}]},
        "code": {"coding": [{"system": SCT, "code": code}]},
    }


def chart(*codes: str) -> Json:
    """A Synthea-style transaction: POST entries referring to the Patient by urn:uuid."""
    patient_url = f"urn:uuid:{uuid.uuid4()}"
    entries = [
        {
            "fullUrl": patient_url,
            "resource": {"resourceType": "Patient", "birthDate": "1970-01-01"},
            "request": {"method": "POST", "url": "Patient"},
        }
    ]
    for code in codes:
        entries.append(
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": condition(patient_url, code),
                "request": {"method": "POST", "url": "Condition"},
            }
        )
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def load_chart(fhir_server: FhirServer, *codes: str) -> str:
    """Load a chart; returns the id the server gave the Patient."""
    result = fhir_server.load(chart(*codes))
    patient_id: str = result["entry"][0]["resource"]["id"]
    return patient_id


def ids(bundle: Json) -> list[str]:
    return sorted(entry["resource"]["id"] for entry in bundle.get("entry", []))


def test_capability_statement_says_fhir_r4(fhir_server: FhirServer) -> None:
    response = httpx.get(f"{fhir_server.base_url}/metadata", timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    capabilities = response.json()
    assert capabilities["resourceType"] == "CapabilityStatement"
    assert capabilities["fhirVersion"] == "4.0.1"
    types = {resource["type"] for resource in capabilities["rest"][0]["resource"]}
    assert {"Patient", "Condition", "Observation", "MedicationRequest"} <= types


def test_browser_apps_may_call_it(fhir_server: FhirServer) -> None:
    origin = "https://ehr.example.org"
    preflight = httpx.options(
        f"{fhir_server.base_url}/Patient",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
        timeout=5,
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == origin
    assert "Authorization" in preflight.headers["access-control-allow-headers"]
    read = httpx.get(f"{fhir_server.base_url}/metadata", headers={"Origin": origin}, timeout=5)
    assert read.headers["access-control-allow-origin"] == origin


def test_transaction_resolves_bundle_local_references(fhir_server: FhirServer) -> None:
    patient_id = load_chart(fhir_server, "6077001")
    found = httpx.get(
        f"{fhir_server.base_url}/Condition", params={"patient": patient_id}, timeout=5
    ).json()
    assert found["total"] == 1
    assert found["entry"][0]["resource"]["subject"]["reference"] == f"Patient/{patient_id}"
    patient = httpx.get(f"{fhir_server.base_url}/Patient/{patient_id}", timeout=5)
    assert patient.status_code == 200 and patient.json()["birthDate"] == "1970-01-01"


def test_search_by_get_and_by_post_agree_and_filter_by_token(fhir_server: FhirServer) -> None:
    patient_id = load_chart(fhir_server, "6077001", "24700007", "84757009")
    query = {"patient": patient_id, "code": f"{SCT}|6077001,{SCT}|84757009"}
    by_get = httpx.get(f"{fhir_server.base_url}/Condition", params=query, timeout=5).json()
    by_post = httpx.post(f"{fhir_server.base_url}/Condition/_search", data=query, timeout=5)
    assert by_post.status_code == 200
    assert by_get["total"] == 2
    assert ids(by_get) == ids(by_post.json())
    for entry in by_get["entry"]:
        resource = entry["resource"]
        assert entry["fullUrl"] == f"{fhir_server.base_url}/Condition/{resource['id']}"


def test_pages_carry_a_next_link_to_the_rest(fhir_server: FhirServer) -> None:
    patient_id = load_chart(fhir_server, "6077001", "24700007", "84757009")
    first = httpx.get(
        f"{fhir_server.base_url}/Condition", params={"patient": patient_id, "_count": 2}, timeout=5
    ).json()
    assert len(first["entry"]) == 2
    next_url = next(link["url"] for link in first["link"] if link["relation"] == "next")
    rest = httpx.get(next_url, timeout=5).json()
    assert len(rest["entry"]) == 1
    assert not any(link["relation"] == "next" for link in rest["link"])
    assert len(set(ids(first)) | set(ids(rest))) == 3


def test_invalid_resources_are_refused_as_a_real_server_does(fhir_server: FhirServer) -> None:
    invalid = {"resourceType": "Patient", "gender": {"code": "female"}}
    response = httpx.post(
        f"{fhir_server.base_url}/Patient", json=invalid, headers=FHIR_JSON, timeout=5
    )
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"
    missing = httpx.get(f"{fhir_server.base_url}/Patient/{uuid.uuid4()}", timeout=5)
    assert missing.status_code == 404


def test_validate_names_what_r4_requires(fhir_server: FhirServer) -> None:
    draft = {
        "resourceType": "MedicationRequest",
        "status": "draft",
        "subject": {"reference": "Patient/x"},
        "medicationCodeableConcept": {"text": "dalfampridine"},
        "category": {"text": "outpatient"},
    }
    errors = fhir_server.validation_errors(draft)
    assert any(error.startswith("MedicationRequest.intent") for error in errors), errors
    assert any(error.startswith("MedicationRequest.category") for error in errors), errors
    fixed = {**draft, "intent": "order", "category": [draft["category"]]}
    assert fhir_server.validation_errors(fixed) == []


def test_the_log_shows_who_read_what(fhir_server: FhirServer) -> None:
    fhir_server.clear_log()
    httpx.get(
        f"{fhir_server.base_url}/Patient/unknown",
        headers={"Authorization": "Bearer some-token"},
        timeout=5,
    )
    assert fhir_server.requests_seen() == [
        {"method": "GET", "path": "/fhir/R4/Patient/unknown", "bearer": "some-token"}
    ]
