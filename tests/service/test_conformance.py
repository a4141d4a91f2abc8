"""Conformance and robustness defects found by exercising the running service.

Each test names the requirement of docs/cds-hooks-conformance.md it holds the
service to (or the HTTP-layer rule "never a 500").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import FOOT_DROP, hook_request, serve_record
from tests.fhir_server import FhirServer

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
