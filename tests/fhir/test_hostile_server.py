"""A broken or hostile FHIR server on the allowlist cannot exhaust the service.

Regression tests for the security review of issue 10 (FHIR side): bodies are
capped in bytes, records in entries and pages, the whole fetch in time; work
still running at the deadline is cancelled (nothing keeps reading after the
answer), and whatever the server sends ends in 200 with the cards that could be
computed, or the clean 412 when essential data is missing.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import (
    FOOT_DROP,
    PATIENT_ID,
    full_prefetch,
    hook_request,
    make_settings,
    patient,
)
from tests.support.fhir_server import FhirServer, searchset

PATIENT_VIEW = "/cds-services/footdrop-patient-view"


def observation(n: int) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": f"obs-{n}",
        "status": "final",
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
        "valueQuantity": {"value": 70, "unit": "kg"},
    }


def missing_observations(fhir: FhirServer) -> dict[str, Any]:
    """Everything supplied but the Observations, which the service must fetch."""
    prefetch = full_prefetch(FOOT_DROP)
    del prefetch["observations"]
    return hook_request(prefetch=prefetch, fhir_server_url=fhir.base_url, token="t")


def topics(response: Any) -> set[str]:
    assert response.status_code == 200, response.text
    return {card["source"]["topic"]["code"] for card in response.json()["cards"]}


def data_unavailable_noted(response: Any) -> bool:
    return all("could not be obtained" in card["detail"] for card in response.json()["cards"])


def test_a_body_over_the_byte_cap_leaves_the_key_unavailable_and_the_call_answers(
    client_factory: Callable[..., TestClient], fhir: FhirServer
) -> None:
    padding = {"resourceType": "Bundle", "type": "searchset", "padding": "x" * 300_000}
    fhir.reply("/fhir/Observation", padding)
    client = client_factory(fhir_allowlist=[fhir.base_url], fhir_max_response_bytes=100_000)
    response = client.post(PATIENT_VIEW, json=missing_observations(fhir))
    assert "orthosis" in topics(response)
    assert data_unavailable_noted(response)


def test_a_huge_bundle_is_cut_at_the_entry_cap_and_marked_partial(
    client_factory: Callable[..., TestClient], fhir: FhirServer
) -> None:
    fhir.reply("/fhir/Observation", searchset(*(observation(n) for n in range(5_000))))
    client = client_factory(fhir_allowlist=[fhir.base_url], fhir_max_entries=1_000)
    started = time.monotonic()
    response = client.post(PATIENT_VIEW, json=missing_observations(fhir))
    assert time.monotonic() - started < 10
    assert "orthosis" in topics(response)
    assert data_unavailable_noted(response)


def test_endless_next_links_stop_at_the_page_cap(
    client_factory: Callable[..., TestClient], fhir: FhirServer
) -> None:
    fhir.reply(
        "/fhir/Observation",
        searchset(observation(1), next_url=f"{fhir.base_url}/Observation?page=again"),
    )
    client = client_factory(fhir_allowlist=[fhir.base_url], fhir_max_pages=3)
    response = client.post(PATIENT_VIEW, json=missing_observations(fhir))
    assert "orthosis" in topics(response)
    assert len([r for r in fhir.requests if r.path == "/fhir/Observation"]) == 4
    assert data_unavailable_noted(response)


def test_a_slow_drip_is_cut_at_the_deadline_and_not_read_on(
    client_factory: Callable[..., TestClient], fhir: FhirServer
) -> None:
    fhir.reply("/fhir/Observation", searchset(observation(1)), drip_s=0.05)
    client = client_factory(fhir_allowlist=[fhir.base_url], fhir_timeout_s=1.0)
    threads_before = threading.active_count()
    started = time.monotonic()
    response = client.post(PATIENT_VIEW, json=missing_observations(fhir))
    elapsed = time.monotonic() - started
    assert "orthosis" in topics(response)
    # Read to its end, the drip would take a byte per 50 ms: over 10 s.
    assert elapsed < 5, f"answered after {elapsed:.1f} s against a 1 s budget"
    # The service hung up on the dripping server: its next write fails.
    deadline = time.monotonic() + 5
    while fhir.disconnects == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fhir.disconnects == 1
    assert threading.active_count() <= threads_before + 1  # no reader thread left behind


def test_a_server_answering_with_strict_json_violations_is_unavailable(
    client_factory: Callable[..., TestClient], fhir: FhirServer
) -> None:
    fhir.reply("/fhir/Observation", None, raw=b'{"resourceType": "Bundle", "total": NaN}')
    client = client_factory(fhir_allowlist=[fhir.base_url])
    response = client.post(PATIENT_VIEW, json=missing_observations(fhir))
    assert "orthosis" in topics(response)
    assert data_unavailable_noted(response)


def test_a_token_that_cannot_be_sent_in_a_header_is_not_a_500(
    client_factory: Callable[..., TestClient], fhir: FhirServer
) -> None:
    client = client_factory(fhir_allowlist=[fhir.base_url])
    body = missing_observations(fhir)
    body["fhirAuthorization"]["access_token"] = "tøken-ünïcode"
    response = client.post(PATIENT_VIEW, json=body)
    assert "orthosis" in topics(response)
    assert fhir.requests == []


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "resourceType",
                    "entry",
                    "resource",
                    "link",
                    "id",
                    "code",
                    "subject",
                    "status",
                    "x",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=30,
)


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[tuple[FhirServer, TestClient]]:
    """One FHIR stand-in and one app for every generated example."""
    from service.app import create_app
    from tests.support import fhir_server

    servers = fhir_server.start()
    fhir = next(servers)
    app = create_app(make_settings(fhir_allowlist=[fhir.base_url]))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield fhir, client
    next(servers, None)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=JSON)
def test_any_json_from_the_fhir_server_ends_in_cards_or_412(
    fuzzed: tuple[FhirServer, TestClient], body: Any
) -> None:
    fhir, client = fuzzed
    fhir.reply(f"/fhir/Patient/{PATIENT_ID}", patient())
    fhir.reply("/fhir/Condition", body)
    fhir.reply("/fhir/Observation", body)
    prefetch = full_prefetch(FOOT_DROP)
    del prefetch["conditions"], prefetch["observations"]
    request = hook_request(prefetch=prefetch, fhir_server_url=fhir.base_url, token="t")
    response = client.post(PATIENT_VIEW, json=request)
    assert response.status_code in (200, 412), (json.dumps(body)[:200], response.text)
