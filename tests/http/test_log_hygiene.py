"""No patient data or secrets in logs, even at DEBUG (issue 10 item 7).

A full set of calls — patient-view from prefetch and from the FHIR server with a
bearer token, order-select, order-sign, refused tokens, bad requests — runs with
CDS_LOG_LEVEL=DEBUG and every log record of every logger is captured; none may
contain the patient's id, name or identifier, a code from the patient's record,
the FHIR access token or the EHR's JWT.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import condition, full_prefetch, hook_request, serve_record
from tests.http.test_order_hooks import dalfampridine_draft, order_request
from tests.support.ehr import SignedClient
from tests.support.fhir_server import FhirServer

SECRET_PATIENT = "zq-patient-7741"
NAME = "Zebulon"
IDENTIFIER = "MRN-99887766"
ACCESS_TOKEN = "fhir-token-c4f1a9"
RECORD_CODE = "G57.32"  # lesion of the left common peroneal nerve: in the record only


def the_patient() -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": SECRET_PATIENT,
        "birthDate": "1970-05-01",
        "gender": "female",
        "name": [{"given": [NAME], "family": "Quixote"}],
        "identifier": [{"system": "urn:mrn", "value": IDENTIFIER}],
    }


def record() -> list[dict[str, Any]]:
    subject = {"subject": {"reference": f"Patient/{SECRET_PATIENT}"}}
    return [
        condition("6077001", display="Foot-drop", rid="fd-1", **subject),
        condition(RECORD_CODE, "http://hl7.org/fhir/sid/icd-10-cm", rid="pn-1", **subject),
        condition("84757009", display="Epilepsy", rid="ep-1", **subject),
    ]


def call(body: dict[str, Any]) -> dict[str, Any]:
    body["context"]["patientId"] = SECRET_PATIENT
    return body


def test_no_patient_data_token_or_jwt_in_any_log_record(
    signed_client_factory: Callable[..., SignedClient],
    fhir: FhirServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    service = signed_client_factory(fhir_allowlist=[fhir.base_url], log_level="DEBUG")
    serve_record(fhir, *record(), patient_resource=the_patient())
    prefetch = full_prefetch(*record(), patient_resource=the_patient())
    jwts = []

    def post(path: str, body: dict[str, Any]) -> None:
        authorization = service.ehr.authorization(path)
        jwts.append(authorization.removeprefix("Bearer "))
        service.client.post(path, json=body, headers={"Authorization": authorization})

    post("/cds-services/footdrop-patient-view", call(hook_request(prefetch=prefetch)))
    post(
        "/cds-services/footdrop-patient-view",
        call(hook_request(fhir_server_url=fhir.base_url, token=ACCESS_TOKEN)),
    )
    drafts = [dalfampridine_draft()]
    select = order_request("order-select", drafts, ["MedicationRequest/med-draft-1"])
    select["prefetch"] = prefetch
    post("/cds-services/footdrop-order-select", call(select))
    sign = order_request("order-sign", drafts, None)
    sign["prefetch"] = {"patient": the_patient()}
    sign["fhirServer"], sign["fhirAuthorization"] = (
        fhir.base_url,
        {
            "access_token": ACCESS_TOKEN,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read",
            "subject": "cds",
        },
    )
    post("/cds-services/footdrop-order-sign", call(sign))
    replayed = service.ehr.authorization("/cds-services")
    for _ in range(2):
        service.client.get("/cds-services", headers={"Authorization": replayed})
    jwts.append(replayed.removeprefix("Bearer "))
    service.client.post("/cds-services/footdrop-patient-view", json={"hook": SECRET_PATIENT})

    assert fhir.requests, "the FHIR-server path must have been exercised"
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert logged, "nothing was logged at DEBUG"
    forbidden = [SECRET_PATIENT, NAME, IDENTIFIER, ACCESS_TOKEN, RECORD_CODE, "G5732"]
    forbidden += [part for jwt in jwts for part in jwt.split(".")]
    leaked = [value for value in forbidden if value in logged]
    assert leaked == []
