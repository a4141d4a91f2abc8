"""The service over its real HTTP stack: discovery, errors, CORS, data sources."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import (
    FOOT_DROP,
    PATIENT_ID,
    condition,
    discovery_queries,
    full_prefetch,
    hook_request,
    serve_record,
)
from tests.support.fhir_server import FhirServer
from tests.support.spec_checks import empty_values

PV = "/cds-services/footdrop-patient-view"
OS = "/cds-services/footdrop-order-select"
SANDBOX = "https://sandbox.cds-hooks.org"
HI = "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"  # valid: bodies fail for another reason
TOKEN_RE = re.compile(r"\{\{([^}]*)\}\}")


def assert_operation_outcome(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["diagnostics"]
    assert "Traceback" not in response.text
    return body


# --- discovery -------------------------------------------------------------------------------


def test_discovery_lists_both_services_with_spec_fields(client: TestClient) -> None:
    response = client.get("/cds-services")
    assert response.status_code == 200
    services = {s["id"]: s for s in response.json()["services"]}
    assert services["footdrop-patient-view"]["hook"] == "patient-view"
    assert services["footdrop-order-select"]["hook"] == "order-select"
    for service in services.values():
        for field in ("id", "hook", "title", "description", "usageRequirements", "prefetch"):
            assert service[field], field


def test_prefetch_templates_use_only_spec_tokens_and_query_subset(client: TestClient) -> None:
    services = client.get("/cds-services").json()["services"]
    allowed_tokens = {"context.patientId", "context.userId", "context.encounterId"}
    for service in services:
        prefetch = service["prefetch"]
        assert {
            "patient",
            "conditions",
            "observations",
            "procedures",
            "serviceRequests",
            "deviceRequests",
            "medicationRequests",
        } <= prefetch.keys()
        for query in prefetch.values():
            assert set(TOKEN_RE.findall(query)) <= allowed_tokens, query
            path, _, params = query.partition("?")
            assert re.fullmatch(r"[A-Z][A-Za-z]+(/\{\{context\.patientId\}\})?", path), query
            for param in filter(None, params.split("&")):
                name, _, value = param.partition("=")
                # P-2: reference, token equality (the code-bearing R4 parameters), _count, _sort
                tokens = {"code", "type", "category", "activity-code"}
                assert name in {"patient", *tokens, "_count", "_sort"}, query
                assert value, query
        # Conditions of every clinical status: no status filter.
        assert prefetch["conditions"] == "Condition?patient={{context.patientId}}"
        assert "code=" in prefetch["observations"]


# --- errors ----------------------------------------------------------------------------------


def test_unknown_service_is_404(client: TestClient) -> None:
    assert_operation_outcome(client.post("/cds-services/nope", json=hook_request()), 404)


def test_wrong_method_is_405(client: TestClient) -> None:
    response = client.get(PV)
    assert_operation_outcome(response, 405)
    assert "POST" in response.headers["allow"]
    assert_operation_outcome(client.delete("/cds-services"), 405)


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"",
        b"[]",
        b'"text"',
        b"\xff\xfe",
        json.dumps({"hookInstance": HI, "context": {}}).encode(),
        json.dumps({"hook": "patient-view", "context": {}}).encode(),
        json.dumps({"hook": "patient-view", "hookInstance": HI}).encode(),
        json.dumps({"hook": 7, "hookInstance": HI, "context": {}}).encode(),
        json.dumps({"hook": "patient-view", "hookInstance": HI, "context": "ctx"}).encode(),
        json.dumps({"hook": "patient-view", "hookInstance": HI, "context": {}}).encode(),
        json.dumps(
            {"hook": "patient-view", "hookInstance": HI, "context": {"userId": "Practitioner/1"}}
        ).encode(),
        json.dumps(
            {
                "hook": "patient-view",
                "hookInstance": HI,
                "prefetch": [],
                "context": {"userId": "Practitioner/1", "patientId": "p"},
            }
        ).encode(),
    ],
)
def test_malformed_requests_are_400(client: TestClient, body: bytes) -> None:
    response = client.post(PV, content=body, headers={"Content-Type": "application/json"})
    assert_operation_outcome(response, 400)


def test_missing_field_is_named_without_echoing_values(client: TestClient) -> None:
    body = hook_request()
    del body["hookInstance"]
    body["context"]["secret"] = "SSN-123"
    outcome = assert_operation_outcome(client.post(PV, json=body), 400)
    assert "hookInstance" in outcome["issue"][0]["diagnostics"]
    assert "SSN-123" not in json.dumps(outcome)


def test_hook_the_service_does_not_serve_is_400(client: TestClient) -> None:
    outcome = assert_operation_outcome(client.post(PV, json=hook_request("order-select")), 400)
    assert "patient-view" in outcome["issue"][0]["diagnostics"]


def test_fhir_authorization_without_fhir_server_is_400(client: TestClient) -> None:
    body = hook_request(prefetch=full_prefetch(), token="abc")
    outcome = assert_operation_outcome(client.post(PV, json=body), 400)
    assert "fhirServer" in outcome["issue"][0]["diagnostics"]


@pytest.mark.parametrize(
    "context",
    [
        {"selections": ["MedicationRequest/1"]},
        {"draftOrders": {"resourceType": "Bundle", "entry": []}},
        {"selections": [], "draftOrders": {"resourceType": "Bundle", "entry": []}},
        {"selections": ["not a reference"], "draftOrders": {"resourceType": "Bundle"}},
        {"selections": ["ServiceRequest/1"], "draftOrders": {"resourceType": "Patient"}},
    ],
)
def test_order_select_context_is_checked(client: TestClient, context: dict[str, Any]) -> None:
    body = hook_request("order-select", prefetch=full_prefetch(), context=context)
    outcome = assert_operation_outcome(client.post(OS, json=body), 400)
    assert "context" in outcome["issue"][0]["diagnostics"]


def test_no_prefetch_and_no_server_is_412(client: TestClient) -> None:
    assert_operation_outcome(client.post(PV, json=hook_request()), 412)


def test_server_off_the_allowlist_is_412_without_a_call(
    client: TestClient, fhir: FhirServer
) -> None:
    body = hook_request(fhir_server_url=fhir.base_url, token="tok")
    assert_operation_outcome(client.post(PV, json=body), 412)
    assert fhir.requests == []


def test_unknown_fields_and_extension_are_accepted(client: TestClient) -> None:
    body = hook_request(prefetch=full_prefetch())
    body["extension"] = {"org.example.flag": True}
    body["somethingNew"] = {"x": 1}
    response = client.post(PV, json=body)
    assert response.status_code == 200
    assert response.json() == {"cards": []}


# --- CORS ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/cds-services", PV, PV + "/feedback"])
def test_preflight_from_an_allowed_origin_needs_no_auth(
    client_factory: Callable[..., TestClient], path: str
) -> None:
    client = client_factory(cors_origins=[SANDBOX])
    response = client.options(
        path,
        headers={
            "Origin": SANDBOX,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == SANDBOX
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "authorization" in response.headers["access-control-allow-headers"].lower()


def test_other_origins_get_no_cors_grant(client_factory: Callable[..., TestClient]) -> None:
    client = client_factory(cors_origins=[SANDBOX])
    response = client.get("/cds-services", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers
    preflight = client.options(
        PV, headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_no_origin_is_allowed_by_default(client: TestClient) -> None:
    response = client.get("/cds-services", headers={"Origin": SANDBOX})
    assert "access-control-allow-origin" not in response.headers


# --- data from the FHIR server ---------------------------------------------------------------


def test_fhir_server_fallback_gives_the_same_cards_as_prefetch(
    client_factory: Callable[..., TestClient], fhir: FhirServer
) -> None:
    serve_record(fhir, FOOT_DROP)
    client = client_factory(fhir_allowlist=[fhir.base_url])
    via_server = client.post(PV, json=hook_request(fhir_server_url=fhir.base_url, token="tok"))
    via_prefetch = client.post(PV, json=hook_request(prefetch=full_prefetch(FOOT_DROP)))
    assert via_server.status_code == via_prefetch.status_code == 200

    def topics(response: Any) -> list[str]:
        return [card["source"]["topic"]["code"] for card in response.json()["cards"]]

    assert topics(via_server) == topics(via_prefetch)
    assert "orthosis" in topics(via_server)
    assert len(fhir.requests) == len(discovery_queries())  # one query per key


def test_access_token_never_reaches_the_logs(
    client_factory: Callable[..., TestClient], fhir: FhirServer, caplog: pytest.LogCaptureFixture
) -> None:
    serve_record(fhir, FOOT_DROP)
    fhir.reply("/fhir/Procedure", {"resourceType": "OperationOutcome"}, status=500)
    client = client_factory(fhir_allowlist=[fhir.base_url], log_level="DEBUG")
    with caplog.at_level(logging.DEBUG):
        response = client.post(
            PV, json=hook_request(fhir_server_url=fhir.base_url, token="very-secret-token")
        )
    assert response.status_code == 200
    assert "procedures" in caplog.text  # the failure is logged ...
    assert "very-secret-token" not in caplog.text  # ... without the token


# --- the first card --------------------------------------------------------------------------


def test_active_foot_drop_gets_an_orthosis_card(client: TestClient) -> None:
    response = client.post(PV, json=hook_request(prefetch=full_prefetch(FOOT_DROP)))
    assert response.status_code == 200
    cards = response.json()["cards"]
    orthosis = [c for c in cards if c["source"]["topic"]["code"] == "orthosis"]
    assert len(orthosis) == 1
    card = orthosis[0]
    assert card["source"]["topic"]["system"] == "urn:footdrop-cds:card-topic"
    assert card["selectionBehavior"] == "at-most-one"
    assert len(card["summary"]) < 140
    assert "Foot-drop" in card["detail"] and "fd-1" not in card["detail"]
    assert card["extension"]["org.footdrop-cds.basis"][0] == "Condition/fd-1"
    resource = card["suggestions"][0]["actions"][0]["resource"]
    assert resource["status"] == "draft"
    assert resource["subject"] == {"reference": f"Patient/{PATIENT_ID}"}


@pytest.mark.parametrize(
    "conditions",
    [
        [],
        [condition("38341003", display="Hypertension")],
        [condition("6077001", clinical_status="resolved")],
        [
            dict(
                FOOT_DROP,
                verificationStatus={
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                            "code": "entered-in-error",
                        }
                    ]
                },
            )
        ],
    ],
)
def test_patient_without_active_foot_drop_gets_no_cards(
    client: TestClient, conditions: list[dict[str, Any]]
) -> None:
    response = client.post(PV, json=hook_request(prefetch=full_prefetch(*conditions)))
    assert response.status_code == 200
    assert response.json() == {"cards": []}


def test_oversized_body_is_413(client_factory: Callable[..., TestClient]) -> None:
    client = client_factory(max_request_bytes=10_000)
    body = hook_request(prefetch=full_prefetch(FOOT_DROP))
    body["extension"] = {"org.example.padding": "x" * 20_000}
    assert_operation_outcome(client.post(PV, json=body), 413)


def test_trailing_slash_is_not_redirected(client: TestClient) -> None:
    response = client.post(PV + "/", json=hook_request(), follow_redirects=False)
    assert_operation_outcome(response, 404)


def test_context_errors_are_400_and_named(client: TestClient) -> None:
    body = hook_request(prefetch=full_prefetch())
    body["context"]["userId"] = "not a reference"
    outcome = assert_operation_outcome(client.post(PV, json=body), 400)
    assert "context.userId" in outcome["issue"][0]["diagnostics"]


# --- response bodies -------------------------------------------------------------------------


@pytest.mark.parametrize("example", ["patient-view", "order-select", "order-sign"])
def test_a_response_is_compact_utf8_json_with_no_empty_value_anywhere(
    client: TestClient, example: str
) -> None:
    """CDS Hooks G-2: no null or empty value in a response; the body is written as UTF-8 JSON."""
    request = json.loads(
        (Path(__file__).parents[2] / "examples" / f"{example}.json").read_text("utf-8")
    )
    response = client.post(f"/cds-services/footdrop-{example}", json=request)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = json.loads(response.content.decode("utf-8"))
    assert body["cards"]
    assert empty_values(body) == []
    assert response.content == json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
