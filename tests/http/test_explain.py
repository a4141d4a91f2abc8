"""The rule trace in the response: only when the request asks and CDS_EXPLAIN=true.

Through the real HTTP stack: the trace agrees with the cards of the same response,
names the pipeline's own suppressions (a snoozed topic, an order-sign repeat) and
says where each prefetch key's data came from.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mappings.fhirjson import without_empty_values
from service.cds.explain import EXPLAIN
from service.cds.pipeline import SUPPRESS_REPEATS
from service.cli.demo import EXAMPLE_DATE
from service.cli.explain import explain_file
from service.storage.store import Store
from tests.conftest import FOOT_DROP, condition, full_prefetch, hook_request, serve_record
from tests.http.test_order_hooks import afo_draft, order_request
from tests.http.test_snooze import override
from tests.support import fhir_server
from tests.support.ehr import SignedClient
from tests.support.processes import ROOT
from tests.support.spec_checks import check_response
from tests.support.trace_checks import agrees_with_cards, trace_of, worded

EXAMPLES = ROOT / "examples"
PATIENT_VIEW = "/cds-services/footdrop-patient-view"
ORDER_SELECT = "/cds-services/footdrop-order-select"
ORDER_SIGN = "/cds-services/footdrop-order-sign"
PATIENT_VIEW_TOPICS = [
    "red-flag-urgent-evaluation",
    "orthosis",
    "physical-therapy",
    "localization-workup",
    "peroneal-decompression",
    "nerve-injury-referral",
    "disc-surgery-referral",
    "palliative-surgery",
    "spasticity-botulinum",
    "ms-dalfampridine",
]


def asking(body: dict[str, Any], **extension: Any) -> dict[str, Any]:
    return {**body, "extension": {EXPLAIN: True, **extension}}


def answer(client: TestClient | SignedClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(path, json=body)
    assert response.status_code == 200, response.text
    check_response(response.json())
    result: dict[str, Any] = response.json()
    return result


def by_topic(trace: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["topic"]: t for t in trace["topics"]}


def test_without_cds_explain_the_extension_is_ignored(client: TestClient) -> None:
    body = asking(hook_request(prefetch=full_prefetch(FOOT_DROP)))
    response = answer(client, PATIENT_VIEW, body)
    assert "extension" not in response
    assert {c["source"]["topic"]["code"] for c in response["cards"]} >= {"orthosis"}


def test_with_cds_explain_only_a_request_that_asks_gets_the_trace(
    client_factory: Callable[..., TestClient],
) -> None:
    client = client_factory(explain=True)
    plain = answer(client, PATIENT_VIEW, hook_request(prefetch=full_prefetch(FOOT_DROP)))
    assert "extension" not in plain
    not_true = hook_request(prefetch=full_prefetch(FOOT_DROP))
    not_true["extension"] = {EXPLAIN: "yes"}
    assert "extension" not in answer(client, PATIENT_VIEW, not_true)

    traced = answer(client, PATIENT_VIEW, asking(hook_request(prefetch=full_prefetch(FOOT_DROP))))
    assert [c["summary"] for c in traced["cards"]] == [c["summary"] for c in plain["cards"]]
    trace = trace_of(traced)
    assert [t["topic"] for t in trace["topics"]] == PATIENT_VIEW_TOPICS
    assert trace["service"] == "footdrop-patient-view" and trace["hook"] == "patient-view"
    assert trace["cross_call_state"] == "not-kept"
    agrees_with_cards(traced)
    orthosis = by_topic(trace)["orthosis"]
    assert orthosis["fired"] and orthosis["indicator"] == "warning"
    assert "Condition/fd-1" in orthosis["records"] and "Patient/pat-1" in orthosis["records"]
    assert {"foot_drop", "orthosis_in_use"} <= set(orthosis["features"])


def test_a_patient_without_foot_drop_is_explained(
    client_factory: Callable[..., TestClient],
) -> None:
    client = client_factory(explain=True)
    other = condition("38341003", display="Hypertension", rid="htn")
    response = answer(client, PATIENT_VIEW, asking(hook_request(prefetch=full_prefetch(other))))
    assert response["cards"] == []
    topics = trace_of(response)["topics"]
    assert {t["stopped_by"] for t in topics} == {"no-foot-drop"}
    assert all(worded("no-foot-drop", t["reason"]) for t in topics)


def test_prefetch_keys_supplied_fetched_missing_and_unreadable(
    client_factory: Callable[..., TestClient], fhir: fhir_server.FhirServer
) -> None:
    serve_record(fhir, FOOT_DROP)
    fhir.reply("/fhir/Procedure", status=500)
    client = client_factory(explain=True, fhir_allowlist=[fhir.base_url])
    prefetch = full_prefetch(FOOT_DROP)
    del prefetch["observations"]  # absent: fetched
    del prefetch["procedures"]  # absent, and the server fails: missing
    prefetch["allergies"] = {"resourceType": "OperationOutcome", "issue": []}  # refetched
    body = asking(hook_request(prefetch=prefetch, fhir_server_url=fhir.base_url))
    keys = {k["key"]: k for k in trace_of(answer(client, PATIENT_VIEW, body))["prefetch"]}
    assert keys["patient"] == {
        "key": "patient",
        "status": "supplied",
        "unreadable": False,
        "partial": False,
    }
    assert keys["observations"]["status"] == "fetched"
    assert keys["procedures"]["status"] == "missing"
    assert keys["allergies"]["status"] == "fetched" and keys["allergies"]["unreadable"]
    assert not keys["conditions"]["unreadable"]


def test_a_snoozed_topic_is_named_as_snoozed(
    signed_client_factory: Callable[..., SignedClient],
) -> None:
    service = signed_client_factory(explain=True)
    body = asking(hook_request(prefetch=full_prefetch(FOOT_DROP)))
    first = answer(service, PATIENT_VIEW, body)
    assert trace_of(first)["cross_call_state"] == "applied"
    orthosis = next(c for c in first["cards"] if c["source"]["topic"]["code"] == "orthosis")
    override(service, orthosis)

    again = answer(service, PATIENT_VIEW, asking(hook_request(prefetch=full_prefetch(FOOT_DROP))))
    agrees_with_cards(again)
    topics = by_topic(trace_of(again))
    assert topics["orthosis"]["stopped_by"] == "snoozed"
    assert "Condition/fd-1" in topics["orthosis"]["records"]  # what it would have rested on
    assert topics["physical-therapy"]["fired"]


def test_an_order_sign_repeat_is_named(
    signed_client_factory: Callable[..., SignedClient], tmp_path: Any
) -> None:
    service = signed_client_factory(explain=True, database_url=f"sqlite:///{tmp_path / 'c.db'}")
    drafts = [afo_draft()]
    select = order_request("order-select", drafts, ["DeviceRequest/dev-draft-1"], FOOT_DROP)
    assert "add-physical-therapy" in {
        c["source"]["topic"]["code"] for c in answer(service, ORDER_SELECT, select)["cards"]
    }
    sign = asking(order_request("order-sign", drafts, None, FOOT_DROP), **{SUPPRESS_REPEATS: True})
    response = answer(service, ORDER_SIGN, sign)
    agrees_with_cards(response)
    trace = trace_of(response)
    pt = next(t for t in trace["topics"] if t["topic"] == "add-physical-therapy")
    assert pt == {
        **pt,
        "fired": False,
        "stopped_by": "shown-at-order-select",
        "order": "DeviceRequest/dev-draft-1",
    }


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_order_hooks_trace_every_rule_for_every_order(
    client_factory: Callable[..., TestClient], hook: str
) -> None:
    client = client_factory(explain=True)
    drafts = [afo_draft(), afo_draft("dev-draft-2")]
    selections = ["DeviceRequest/dev-draft-1"] if hook == "order-select" else None
    body = asking(order_request(hook, drafts, selections, FOOT_DROP))
    response = answer(client, f"/cds-services/footdrop-{hook}", body)
    agrees_with_cards(response)
    orders = {t["order"] for t in trace_of(response)["topics"]}
    expected = {"DeviceRequest/dev-draft-1"}
    assert orders == (
        expected if hook == "order-select" else expected | {"DeviceRequest/dev-draft-2"}
    )


def test_a_database_out_of_reach_is_named_and_every_card_shown(
    signed_client_factory: Callable[..., SignedClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    service = signed_client_factory(explain=True)
    body = hook_request(prefetch=full_prefetch(FOOT_DROP))
    healthy = answer(service, PATIENT_VIEW, asking(body))

    def fails(*args: object) -> None:
        raise OSError("database gone")

    monkeypatch.setattr(Store, "snoozed_topics", fails)
    during = answer(service, PATIENT_VIEW, asking(hook_request(prefetch=full_prefetch(FOOT_DROP))))
    agrees_with_cards(during)
    assert trace_of(during)["cross_call_state"] == "database-unavailable"
    assert [c["summary"] for c in during["cards"]] == [c["summary"] for c in healthy["cards"]]


def test_the_extension_carries_the_same_trace_as_footdrop_cds_explain(
    client_factory: Callable[..., TestClient],
) -> None:
    path = EXAMPLES / "order-select.json"
    body = json.loads(path.read_text())
    noon = datetime.combine(date.fromisoformat(body["extension"][EXAMPLE_DATE]), time(12), UTC)
    client = client_factory(lambda: noon, explain=True)
    response = answer(client, ORDER_SELECT, {**body, "extension": {EXPLAIN: True}})
    explained = explain_file(path, None, noon).model_dump(mode="json")
    assert trace_of(response) == without_empty_values(explained)
