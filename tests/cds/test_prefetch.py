"""Every prefetch state of CDS Hooks 2.0 (P-3), against a real loopback FHIR server."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.cds.errors import PreconditionFailed
from service.cds.models import HookRequest, PatientViewContext
from service.cds.prefetch import fill_template, resolve
from service.cds.services import PrefetchKey
from service.fhir.patient_data import PatientData
from service.fhir.transport import HttpTransport
from tests.conftest import (
    FOOT_DROP,
    PATIENT_ID,
    bundle,
    discovery_queries,
    hook_request,
    make_settings,
    patient,
)
from tests.support.fhir_search import search
from tests.support.fhir_server import FhirServer, searchset

KEYS = {
    "patient": PrefetchKey("patient", "Patient/{{context.patientId}}", essential=True),
    "conditions": PrefetchKey(
        "conditions", "Condition?patient={{context.patientId}}", essential=True
    ),
    "procedures": PrefetchKey("procedures", "Procedure?patient={{context.patientId}}"),
}
NOW = datetime(2026, 11, 24, tzinfo=UTC)
#: Longest the server holds a query for the others of its call (a bound, not a timing).
HOLD_S = 5.0
PROCEDURE = {
    "resourceType": "Procedure",
    "id": "proc-1",
    "status": "completed",
    "subject": {"reference": f"Patient/{PATIENT_ID}"},
    "code": {"text": "something"},
}


def run(body: dict[str, Any], **settings: Any) -> PatientData:
    request = HookRequest.model_validate(body)
    context = PatientViewContext.model_validate(request.context)
    limits = make_settings(**settings).fhir_limits

    async def resolve_once() -> PatientData:
        transport = HttpTransport(10**7)
        try:
            return await resolve(KEYS, request, context, transport, limits, NOW)
        finally:
            await transport.aclose()

    return asyncio.run(resolve_once())


def serve_all(fhir: FhirServer) -> None:
    fhir.reply("/fhir/Patient/" + PATIENT_ID, patient())
    fhir.reply("/fhir/Condition", searchset(FOOT_DROP))
    fhir.reply("/fhir/Procedure", searchset(PROCEDURE))


def ids(data: PatientData, resource_type: str) -> list[str]:
    return [r.id for r in data.of_type(resource_type)]


def test_complete_prefetch_needs_no_server_call(fhir: FhirServer) -> None:
    prefetch = {"patient": patient(), "conditions": bundle(FOOT_DROP), "procedures": bundle()}
    data = run(
        hook_request(prefetch=prefetch, fhir_server_url=fhir.base_url, token="t"),
        fhir_allowlist=[fhir.base_url],
    )
    assert ids(data, "Condition") == ["fd-1"]
    assert data.patient is not None and data.patient.id == PATIENT_ID
    assert fhir.requests == []
    assert data.unavailable == frozenset()


def test_absent_keys_are_fetched_with_the_bearer_token(fhir: FhirServer) -> None:
    serve_all(fhir)
    data = run(
        hook_request(fhir_server_url=fhir.base_url, token="secret-token"),
        fhir_allowlist=[fhir.base_url],
    )
    assert ids(data, "Condition") == ["fd-1"]
    assert ids(data, "Procedure") == ["proc-1"]
    assert sorted(fhir.paths()) == ["/fhir/Condition", "/fhir/Patient/pat-1", "/fhir/Procedure"]
    assert {r.authorization for r in fhir.requests} == {"Bearer secret-token"}
    assert fhir.requests[0].query.get("patient", [PATIENT_ID]) == [PATIENT_ID]


def test_null_means_no_data_and_no_query(fhir: FhirServer) -> None:
    """CDS Hooks: a key sent as null means the client found no data; do not query for it."""
    prefetch = {"patient": patient(), "conditions": bundle(FOOT_DROP), "procedures": None}
    data = run(
        hook_request(prefetch=prefetch, fhir_server_url=fhir.base_url),
        fhir_allowlist=[fhir.base_url],
    )
    assert data.of_type("Procedure") == ()
    assert fhir.requests == []
    assert data.unavailable == frozenset()


def test_empty_bundle_means_no_data(fhir: FhirServer) -> None:
    prefetch = {"patient": patient(), "conditions": bundle(), "procedures": bundle()}
    data = run(
        hook_request(prefetch=prefetch, fhir_server_url=fhir.base_url),
        fhir_allowlist=[fhir.base_url],
    )
    assert data.of_type("Condition") == ()
    assert fhir.requests == []


def test_operation_outcome_is_fetched_again_from_the_server(fhir: FhirServer) -> None:
    serve_all(fhir)
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "timeout"}],
    }
    prefetch = {"patient": patient(), "conditions": outcome, "procedures": bundle()}
    data = run(
        hook_request(prefetch=prefetch, fhir_server_url=fhir.base_url),
        fhir_allowlist=[fhir.base_url],
    )
    assert ids(data, "Condition") == ["fd-1"]
    assert fhir.paths() == ["/fhir/Condition"]


def test_operation_outcome_for_essential_key_without_server_is_412() -> None:
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "timeout"}],
    }
    prefetch = {"patient": patient(), "conditions": outcome, "procedures": bundle()}
    with pytest.raises(PreconditionFailed, match="conditions"):
        run(hook_request(prefetch=prefetch))


def test_operation_outcome_for_optional_key_without_server_is_unavailable() -> None:
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "timeout"}],
    }
    prefetch = {"patient": patient(), "conditions": bundle(FOOT_DROP), "procedures": outcome}
    data = run(hook_request(prefetch=prefetch))
    assert data.unavailable == frozenset({"procedures"})
    assert ids(data, "Condition") == ["fd-1"]


def test_next_link_in_prefetch_is_followed(fhir: FhirServer) -> None:
    second = dict(FOOT_DROP, id="fd-2")
    third = dict(FOOT_DROP, id="fd-3")
    fhir.reply("/fhir/page-2", searchset(second, next_url=fhir.base_url + "/page-3"))
    fhir.reply("/fhir/page-3", searchset(third))
    first_page = searchset(FOOT_DROP, next_url=fhir.base_url + "/page-2")
    prefetch = {"patient": patient(), "conditions": first_page, "procedures": bundle()}
    data = run(
        hook_request(prefetch=prefetch, fhir_server_url=fhir.base_url, token="tok"),
        fhir_allowlist=[fhir.base_url],
    )
    assert ids(data, "Condition") == ["fd-1", "fd-2", "fd-3"]
    assert fhir.paths() == ["/fhir/page-2", "/fhir/page-3"]
    assert {r.authorization for r in fhir.requests} == {"Bearer tok"}


def test_paging_stops_at_the_page_bound(fhir: FhirServer) -> None:
    fhir.reply("/fhir/Patient/" + PATIENT_ID, patient())
    fhir.reply("/fhir/Condition", searchset(FOOT_DROP, next_url=fhir.base_url + "/Condition"))
    fhir.reply("/fhir/Procedure", searchset())
    data = run(
        hook_request(fhir_server_url=fhir.base_url),
        fhir_allowlist=[fhir.base_url],
        fhir_max_pages=3,
    )
    assert fhir.paths().count("/fhir/Condition") == 4  # the first page and three next links
    assert ids(data, "Condition") == ["fd-1"]  # the same resource repeated is kept once


def test_server_error_on_optional_key_leaves_it_unavailable(fhir: FhirServer) -> None:
    serve_all(fhir)
    fhir.reply("/fhir/Procedure", {"resourceType": "OperationOutcome"}, status=500)
    data = run(hook_request(fhir_server_url=fhir.base_url), fhir_allowlist=[fhir.base_url])
    assert data.unavailable == frozenset({"procedures"})
    assert ids(data, "Condition") == ["fd-1"]


def test_invalid_json_on_essential_key_is_412(fhir: FhirServer) -> None:
    serve_all(fhir)
    fhir.routes["/fhir/Condition"] = fhir.routes["/fhir/Condition"].__class__(raw=b"{not json")
    with pytest.raises(PreconditionFailed, match="conditions"):
        run(hook_request(fhir_server_url=fhir.base_url), fhir_allowlist=[fhir.base_url])


def test_missing_patient_is_412(fhir: FhirServer) -> None:
    fhir.reply("/fhir/Condition", searchset())
    fhir.reply("/fhir/Procedure", searchset())
    with pytest.raises(PreconditionFailed, match="patient"):
        run(hook_request(fhir_server_url=fhir.base_url), fhir_allowlist=[fhir.base_url])


def test_hung_server_is_abandoned_within_the_timeout(fhir: FhirServer) -> None:
    serve_all(fhir)
    fhir.reply("/fhir/Procedure", searchset(PROCEDURE), delay_s=5)
    started = time.monotonic()
    data = run(
        hook_request(fhir_server_url=fhir.base_url),
        fhir_allowlist=[fhir.base_url],
        fhir_timeout_s=0.5,
    )
    elapsed = time.monotonic() - started
    assert elapsed < 4.0, elapsed  # the hung query would hold the call for 5 s
    assert data.unavailable == frozenset({"procedures"})


def test_server_not_on_allowlist_gets_412_without_any_call(fhir: FhirServer) -> None:
    serve_all(fhir)
    with pytest.raises(PreconditionFailed, match="allowlist"):
        run(
            hook_request(fhir_server_url=fhir.base_url, token="t"),
            fhir_allowlist=["https://fhir.example.org"],
        )
    assert fhir.requests == []


def test_missing_essential_data_without_server_is_412() -> None:
    with pytest.raises(PreconditionFailed, match="conditions, patient"):
        run(hook_request(prefetch={"procedures": bundle()}))


def test_one_invalid_resource_is_skipped_and_counted() -> None:
    broken = {"resourceType": "Condition", "id": "bad", "subject": "not-a-reference"}
    prefetch = {
        "patient": patient(),
        "conditions": bundle(FOOT_DROP, broken),
        "procedures": bundle(),
    }
    data = run(hook_request(prefetch=prefetch))
    assert ids(data, "Condition") == ["fd-1"]
    assert data.skipped == 1


def test_template_tokens_are_filled_and_unresolvable_ones_skip_the_key() -> None:
    context = PatientViewContext(userId="Practitioner/1", patientId="abc")
    assert (
        fill_template("Condition?patient={{context.patientId}}", context) == "Condition?patient=abc"
    )
    assert fill_template("Encounter/{{context.encounterId}}", context) is None
    assert fill_template("Observation?patient={{context.patient}}", context) is None  # no field


def test_template_values_are_percent_encoded_and_cannot_add_a_token() -> None:
    odd = PatientViewContext(userId="Practitioner/1", patientId="a b&{{context.userId}}")
    query = "Condition?patient={{context.patientId}}&asker={{context.userId}}"
    filled = "Condition?patient=a%20b%26%7B%7Bcontext.userId%7D%7D&asker=Practitioner/1"
    assert fill_template(query, odd) == filled
    # The same template for another patient (templates are read once, values each call).
    assert fill_template(query, PatientViewContext(userId="Practitioner/2", patientId="p")) == (
        "Condition?patient=p&asker=Practitioner/2"
    )


def test_missing_keys_are_fetched_concurrently(fhir: FhirServer) -> None:
    """Three slow queries answer in about the time of one, not three."""
    fhir.reply("/fhir/Patient/" + PATIENT_ID, patient(), delay_s=1.0)
    fhir.reply("/fhir/Condition", searchset(FOOT_DROP), delay_s=1.0)
    fhir.reply("/fhir/Procedure", searchset(PROCEDURE), delay_s=1.0)
    started = time.monotonic()
    data = run(
        hook_request(fhir_server_url=fhir.base_url),
        fhir_allowlist=[fhir.base_url],
        fhir_timeout_s=5,
    )
    assert time.monotonic() - started < 2.5  # one after another: 3 s
    assert ids(data, "Procedure") == ["proc-1"]
    assert data.unavailable == frozenset()


def test_the_queries_of_one_call_are_all_in_flight_before_the_first_is_answered(
    client_factory: Callable[..., TestClient], fhir: FhirServer
) -> None:
    """Every missing key is asked at once: the server holds each query until all have
    arrived (or HOLD_S has passed), so a cap below the number of keys, or queries sent
    one after another, shows as fewer arrivals when the first answer goes out."""
    queries = len(discovery_queries())
    arrived: list[str] = []
    arrived_at_first_answer: list[int] = []
    together = threading.Condition()
    record = [patient(), FOOT_DROP]

    def held_answer(query: str) -> Any:
        with together:
            arrived.append(query)
            together.notify_all()
            together.wait_for(lambda: len(arrived) >= queries, timeout=HOLD_S)
            if not arrived_at_first_answer:
                arrived_at_first_answer.append(len(arrived))
        return search(record, query)

    fhir.answer = held_answer
    client = client_factory(fhir_allowlist=[fhir.base_url], fhir_timeout_s=2 * HOLD_S)
    response = client.post(
        "/cds-services/footdrop-patient-view",
        json=hook_request(fhir_server_url=fhir.base_url, token="t"),
    )
    assert response.status_code == 200, response.text
    assert arrived_at_first_answer == [queries]
    assert len(arrived) == queries == 20
