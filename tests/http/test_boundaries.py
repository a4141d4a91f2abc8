"""Conformance and robustness defects found by exercising the running service.

Each test names the requirement of docs/cds-hooks-conformance.md it holds the
service to (or the HTTP-layer rule "never a 500").
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.fhir.client import is_allowed
from tests.conftest import FOOT_DROP, full_prefetch, hook_request, patient, serve_record
from tests.support.fhir_server import FhirServer, searchset

PV = "/cds-services/footdrop-patient-view"


def assert_operation_outcome(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return body


# --- never a 500: JSON nested deeper than the parser's recursion limit -----------------------


def test_deeply_nested_request_body_is_400_not_500(client: TestClient) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    response = client.post(PV, content=body, headers={"Content-Type": "application/json"})
    assert_operation_outcome(response, 400)


def test_deeply_nested_fhir_response_leaves_the_key_unavailable(
    client_factory: Callable[..., TestClient], fhir: FhirServer
) -> None:
    serve_record(fhir, FOOT_DROP)
    nested = b"[" * 100_000 + b"]" * 100_000
    fhir.reply("/fhir/Procedure", raw=b'{"resourceType": "Bundle", "x": ' + nested + b"}")
    client = client_factory(fhir_allowlist=[fhir.base_url])
    response = client.post(PV, json=hook_request(fhir_server_url=fhir.base_url, token="tok"))
    assert response.status_code == 200, response.text


# --- SSRF allowlist: dot segments must not climb out of the allowlisted prefix ---------------


@pytest.mark.parametrize(
    "url",
    [
        "https://fhir.example.org/r4/../admin",
        "https://fhir.example.org/r4/%2e%2e/admin",
        "https://fhir.example.org/r4/Patient/%2E%2E/%2e%2E/admin",
        "https://fhir.example.org/r4/./../admin",
        "https://fhir.example.org/r4/..",
        "https://fhir.example.org/r4/%252e%252e/admin",  # encoded twice (security review)
        "https://fhir.example.org/r4/%25252E%25252E/admin",
        "https://fhir.example.org/r4/%5c..%5cadmin",
    ],
)
def test_dot_segments_are_not_allowed(url: str) -> None:
    assert not is_allowed(url, ["https://fhir.example.org/r4"])


def _outside(fhir: FhirServer) -> list[str]:
    return [path for path in fhir.paths() if not path.startswith("/fhir/") or ".." in path]


def test_fhir_server_with_dot_segments_is_never_called(
    client_factory: Callable[..., TestClient], fhir: FhirServer
) -> None:
    client = client_factory(fhir_allowlist=[fhir.base_url])
    body = hook_request(fhir_server_url=fhir.base_url + "/../secret", token="tok")
    assert_operation_outcome(client.post(PV, json=body), 412)
    assert fhir.requests == []


def test_patient_id_cannot_climb_out_of_the_fhir_base(
    client_factory: Callable[..., TestClient], fhir: FhirServer
) -> None:
    serve_record(fhir, FOOT_DROP)
    client = client_factory(fhir_allowlist=[fhir.base_url])
    body = hook_request(
        fhir_server_url=fhir.base_url, token="tok", context={"patientId": "../../secret/x"}
    )
    response = client.post(PV, json=body)
    assert response.status_code in (400, 412), response.text
    assert _outside(fhir) == []


def test_next_link_cannot_climb_out_of_the_fhir_base(
    client_factory: Callable[..., TestClient], fhir: FhirServer
) -> None:
    serve_record(fhir, FOOT_DROP)
    fhir.reply("/fhir/Procedure", searchset(next_url=fhir.base_url + "/../secret/x"))
    client = client_factory(fhir_allowlist=[fhir.base_url])
    response = client.post(PV, json=hook_request(fhir_server_url=fhir.base_url, token="tok"))
    assert response.status_code == 200, response.text
    assert _outside(fhir) == []


# --- another patient's data is never used (P-5: data must be the context patient's) ----------


def test_prefetched_patient_with_another_id_is_not_used(client: TestClient) -> None:
    other = dict(patient(), id="someone-else")
    body = hook_request(prefetch=full_prefetch(FOOT_DROP, patient_resource=other))
    response = client.post(PV, json=body)
    assert response.status_code in (200, 412), response.text
    if response.status_code == 200:
        assert response.json() == {"cards": []}


@pytest.mark.parametrize(
    "reference",
    ["Patient/someone-else", "https://ehr.example.org/fhir/Patient/someone-else/_history/2"],
)
def test_conditions_of_another_patient_are_not_used(client: TestClient, reference: str) -> None:
    foot_drop_elsewhere = dict(FOOT_DROP, subject={"reference": reference})
    response = client.post(PV, json=hook_request(prefetch=full_prefetch(foot_drop_elsewhere)))
    assert response.status_code == 200, response.text
    assert response.json() == {"cards": []}


def test_absolute_reference_to_the_context_patient_is_used(client: TestClient) -> None:
    reference = "https://ehr.example.org/fhir/Patient/pat-1"
    foot_drop = dict(FOOT_DROP, subject={"reference": reference})
    response = client.post(PV, json=hook_request(prefetch=full_prefetch(foot_drop)))
    assert response.status_code == 200, response.text
    assert response.json()["cards"]


def test_fhir_server_answering_with_another_patient_is_not_used(
    client_factory: Callable[..., TestClient], fhir: FhirServer
) -> None:
    serve_record(fhir, FOOT_DROP, patient_resource=dict(patient(), id="someone-else"))
    client = client_factory(fhir_allowlist=[fhir.base_url])
    response = client.post(PV, json=hook_request(fhir_server_url=fhir.base_url, token="tok"))
    assert response.status_code in (200, 412), response.text
    if response.status_code == 200:
        assert response.json() == {"cards": []}


# --- hookInstance is a UUID; fhirAuthorization fields are typed and present -------


@pytest.mark.parametrize("value", ["x", "not\na uuid", "1234", "0f3b2b43-1c55-4d0e-9a43"])
def test_hook_instance_must_be_a_uuid(client: TestClient, value: str) -> None:
    body = hook_request(prefetch=full_prefetch(FOOT_DROP))
    body["hookInstance"] = value
    outcome = assert_operation_outcome(client.post(PV, json=body), 400)
    assert "hookInstance" in outcome["issue"][0]["diagnostics"]
    assert value not in outcome["issue"][0]["diagnostics"]


def test_upper_case_uuid_hook_instance_is_accepted(client: TestClient) -> None:
    body = hook_request(prefetch=full_prefetch(FOOT_DROP))
    body["hookInstance"] = body["hookInstance"].upper()
    assert client.post(PV, json=body).status_code == 200


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("expires_in", "300"),
        ("expires_in", True),
        ("expires_in", 300.0),
        ("scope", ""),
        ("subject", ""),
        ("access_token", "   "),
        ("token_type", "MAC"),
    ],
)
def test_fhir_authorization_fields_are_checked(
    client: TestClient, fhir: FhirServer, field: str, value: Any
) -> None:
    body = hook_request(prefetch=full_prefetch(FOOT_DROP), fhir_server_url=fhir.base_url, token="t")
    body["fhirAuthorization"][field] = value
    outcome = assert_operation_outcome(client.post(PV, json=body), 400)
    assert field in outcome["issue"][0]["diagnostics"]


# --- JSON over the wire is UTF-8 (RFC 8259 §8.1); anything else is malformed ------------------


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "utf-16-be"])
def test_body_not_in_utf8_is_400(client: TestClient, encoding: str) -> None:
    body = json.dumps(hook_request(prefetch=full_prefetch(FOOT_DROP))).encode(encoding)
    response = client.post(PV, content=body, headers={"Content-Type": "application/json"})
    assert_operation_outcome(response, 400)


# --- errors are OperationOutcome JSON, a refused CORS preflight included (C-2, S-10) ----------


def test_refused_preflight_is_an_operation_outcome_without_a_grant(
    client_factory: Callable[..., TestClient],
) -> None:
    client = client_factory(cors_origins=["https://sandbox.cds-hooks.org"])
    response = client.options(
        PV, headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert_operation_outcome(response, 400)
    assert "access-control-allow-origin" not in response.headers


# --- P-3 (d)/(e), P-7: an optional key's gap is not a 412, even with a refused fhirServer -----


@pytest.mark.parametrize(
    "procedures",
    [
        {"resourceType": "OperationOutcome", "issue": []},
        searchset(next_url="https://elsewhere.example/fhir/Procedure?page=2"),
    ],
)
def test_optional_gap_with_server_off_the_allowlist_still_answers(
    client: TestClient, fhir: FhirServer, procedures: dict[str, Any]
) -> None:
    prefetch = full_prefetch(FOOT_DROP)
    prefetch["procedures"] = procedures
    body = hook_request(prefetch=prefetch, fhir_server_url=fhir.base_url, token="tok")
    response = client.post(PV, json=body)
    assert response.status_code == 200, response.text
    assert response.json()["cards"]
    assert fhir.requests == []
