"""No input, however broken, produces a 500 or a stack trace.

Starting from valid requests of each hook, every field (and nested field) is
replaced in turn by values of the wrong type or shape; the service must answer
200, 400 or 412 with JSON every time.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import FOOT_DROP, full_prefetch, hook_request
from tests.http.test_order_hooks import afo_draft, dalfampridine_draft

WRONG_VALUES: list[Any] = [None, "", "x", 0, -1, 1e308, True, [], [None], {}, {"a": {"b": []}}]
SERVICES = {
    "patient-view": "footdrop-patient-view",
    "order-select": "footdrop-order-select",
    "order-sign": "footdrop-order-sign",
}


def valid_request(hook: str) -> dict[str, Any]:
    context: dict[str, Any] = {}
    if hook != "patient-view":
        drafts = [dalfampridine_draft(), afo_draft()]
        context["draftOrders"] = {
            "resourceType": "Bundle",
            "entry": [{"resource": d} for d in drafts],
        }
    if hook == "order-select":
        context["selections"] = ["MedicationRequest/med-draft-1"]
    return hook_request(hook, prefetch=full_prefetch(FOOT_DROP), context=context)


def paths(value: Any, prefix: tuple[Any, ...] = (), depth: int = 9) -> Iterator[tuple[Any, ...]]:
    """Every path to a field or list item, down to `depth` levels."""
    if depth == 0:
        return
    items: Any = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, child in items:
        yield (*prefix, key)
        yield from paths(child, (*prefix, key), depth - 1)


def replaced(body: dict[str, Any], path: tuple[Any, ...], new: Any) -> dict[str, Any]:
    mutated = copy.deepcopy(body)
    target: Any = mutated
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    return mutated


@pytest.mark.parametrize("hook", list(SERVICES))
def test_mutated_requests_never_cause_a_server_error(client: TestClient, hook: str) -> None:
    body = valid_request(hook)
    url = f"/cds-services/{SERVICES[hook]}"
    assert client.post(url, json=body).status_code == 200
    checked = 0
    for path in paths(body):
        for new in WRONG_VALUES:
            response = client.post(url, json=replaced(body, path, new))
            assert response.status_code in {200, 400, 412}, (path, new, response.text)
            assert response.headers["content-type"].startswith("application/json")
            assert "Traceback" not in response.text
            checked += 1
    assert checked > 500
