"""What a hostile or broken client can send: each ends in a clean 4xx or in the cards.

Regression tests for the security review of issue 10 (client side).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.cds.pipeline import SUPPRESS_REPEATS
from tests.conftest import FOOT_DROP, full_prefetch, hook_request
from tests.http.test_order_hooks import (
    EPILEPSY_RESOLVED,
    cards_by_topic,
    dalfampridine_draft,
    order_request,
)
from tests.support.ehr import SignedClient

PATIENT_VIEW = "/cds-services/footdrop-patient-view"
ORDER_SELECT = "/cds-services/footdrop-order-select"
ORDER_SIGN = "/cds-services/footdrop-order-sign"


def body_bytes(**kwargs: Any) -> bytes:
    return json.dumps(hook_request(prefetch=full_prefetch(FOOT_DROP), **kwargs)).encode()


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_a_call_that_is_not_json_is_415(client: TestClient, content_type: str) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post(PATIENT_VIEW, content=body_bytes(), headers=headers)
    assert response.status_code == 415
    assert response.json()["resourceType"] == "OperationOutcome"


def test_json_with_a_charset_is_accepted(client: TestClient) -> None:
    headers = {"Content-Type": "application/json; charset=utf-8"}
    assert client.post(PATIENT_VIEW, content=body_bytes(), headers=headers).status_code == 200


def test_a_cross_site_text_plain_order_select_cannot_hide_the_critical_card(
    signed_client_factory: Callable[..., SignedClient], tmp_path: Any
) -> None:
    """The review's attack: a simple (no-preflight) POST writing the shown-card memory."""
    service = signed_client_factory(database_url=f"sqlite:///{tmp_path / 'cds.db'}")
    drafts = [dalfampridine_draft()]
    forged = order_request("order-select", drafts, ["MedicationRequest/med-draft-1"], FOOT_DROP)
    response = service.post(
        ORDER_SELECT, content=json.dumps(forged), headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 415
    sign = order_request("order-sign", drafts, None, FOOT_DROP, EPILEPSY_RESOLVED)
    sign["extension"] = {SUPPRESS_REPEATS: True}
    assert "dalfampridine-contraindicated" in cards_by_topic(service.post(ORDER_SIGN, json=sign))


@pytest.mark.parametrize(
    "value",
    [b"NaN", b"Infinity", b"-Infinity", b"1e999999", b"9" * 5000],
    ids=["NaN", "Infinity", "-Infinity", "huge exponent", "5000 digits"],
)
def test_numbers_outside_json_are_400(client: TestClient, value: bytes) -> None:
    body = body_bytes().replace(b'"hook":', b'"x": ' + value + b', "hook":', 1)
    response = client.post(PATIENT_VIEW, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("encoding", ["latin-1", "utf-16"])
def test_a_body_that_is_not_utf_8_is_400(client: TestClient, encoding: str) -> None:
    body = body_bytes().decode().replace('"hook":', '"x": "pied tombant é", "hook":', 1)
    response = client.post(
        PATIENT_VIEW, content=body.encode(encoding), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert "not UTF-8" in response.json()["issue"][0]["diagnostics"]


def test_duplicate_keys_are_400(client: TestClient) -> None:
    body = body_bytes().replace(b'"hook":', b'"hook": "order-select", "hook":', 1)
    response = client.post(PATIENT_VIEW, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400


@pytest.mark.parametrize("depth", [150, 300, 450])
def test_deeply_nested_extension_is_400_not_500(client: TestClient, depth: int) -> None:
    nested: Any = {"url": "urn:x", "valueString": "x"}
    for _ in range(depth):
        nested = {"url": "urn:x", "extension": [nested]}
    condition = {**FOOT_DROP, "extension": [nested]}
    body = hook_request(prefetch=full_prefetch(condition))
    response = client.post(PATIENT_VIEW, json=body)
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["issue"][0]["diagnostics"]


def test_error_bodies_never_echo_what_was_sent(client: TestClient) -> None:
    marker = "ECHO-MARKER-1234"
    replies = [
        client.post(f"/cds-services/{marker}", json=hook_request()),
        client.post(PATIENT_VIEW, json=hook_request(hook=f"hook-{marker}")),
        client.post(
            ORDER_SELECT,
            json=order_request("order-select", [], [f"not a reference {marker}"], FOOT_DROP),
        ),
        client.post(PATIENT_VIEW, json={"hook": "patient-view", "hookInstance": marker}),
    ]
    for response in replies:
        assert 400 <= response.status_code < 500
        assert marker not in response.text


def test_every_response_carries_the_security_headers(client: TestClient) -> None:
    for response in (
        client.get("/cds-services"),
        client.post(PATIENT_VIEW, json=hook_request(prefetch=full_prefetch(FOOT_DROP))),
        client.get("/no-such-page"),
    ):
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-content-type-options"] == "nosniff"


def test_an_internal_error_is_one_operation_outcome_logged_once(
    client_factory: Callable[..., TestClient], caplog: pytest.LogCaptureFixture
) -> None:
    client = client_factory()

    async def broken() -> None:
        patient = {"name": "Jane Doe", "mrn": "12345"}
        raise RuntimeError(f"patient {patient['name']}, MRN {patient['mrn']}")  # never logged

    client.app.router.add_api_route("/broken", broken)  # type: ignore[attr-defined]
    response = client.get("/broken")
    assert response.status_code == 500
    assert response.json()["issue"][0]["diagnostics"] == "internal error"
    assert response.headers["cache-control"] == "no-store"
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1
    assert "RuntimeError" in errors[0].getMessage()
    assert "Jane Doe" not in caplog.text and "12345" not in caplog.text
    assert client.get("/cds-services").status_code == 200
