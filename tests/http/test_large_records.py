"""A large record is decided and rendered off the event loop, a small one on it: the
cards are the same either way."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.cds import pipeline
from service.http import body
from tests.conftest import FOOT_DROP, condition, full_prefetch, hook_request

PATIENT_VIEW = "/cds-services/footdrop-patient-view"


def padded_request(extra: int) -> dict[str, Any]:
    """The foot-drop chart with `extra` Conditions the rules never react to."""
    unrelated = [
        condition("38341003", display="Hypertension", rid=f"htn-{n}") for n in range(extra)
    ]
    return hook_request(prefetch=full_prefetch(FOOT_DROP, *unrelated))


def cards(client: TestClient, request: dict[str, Any]) -> list[tuple[str, str, str]]:
    response = client.post(PATIENT_VIEW, json=request)
    assert response.status_code == 200, response.text
    return [
        (card["source"]["topic"]["code"], card["indicator"], card["summary"])
        for card in response.json()["cards"]
    ]


@pytest.mark.parametrize("extra", [0, pipeline.INLINE_RESOURCES + 50])
def test_the_cards_do_not_depend_on_where_the_work_ran(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, extra: int
) -> None:
    request = padded_request(extra)
    monkeypatch.setattr(pipeline, "INLINE_RESOURCES", 10**6)
    monkeypatch.setattr(body, "INLINE_PARSE_BYTES", 10**9)
    on_loop = cards(client, request)
    monkeypatch.setattr(pipeline, "INLINE_RESOURCES", -1)
    monkeypatch.setattr(body, "INLINE_PARSE_BYTES", -1)
    off_loop = cards(client, request)
    assert on_loop == off_loop
    assert any(topic == "localization-workup" for topic, _, _ in on_loop)
