"""CDS_MAX_RECORDS_IN_FLIGHT: at most N hook calls hold a record at once; the rest wait
for a slot, unparsed, and every call gets the cards it would have got alone. A call
waiting for the FHIR server lends its slot meanwhile."""

from __future__ import annotations

import asyncio
import gc
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from service.cds import pipeline
from service.cds.admission import RecordAdmission
from service.fhir.strict_json import loads
from service.http import body
from tests.conftest import (
    FOOT_DROP,
    PATIENT_HASH_KEY,
    condition,
    full_prefetch,
    hook_request,
    patient,
)
from tests.support.ehr import PUBLIC_BASE_URL, Ehr, SignedClient
from tests.support.fhir_server import FhirServer
from tests.support.service_process import ServiceProcess, service_process

PATIENT_VIEW = "/cds-services/footdrop-patient-view"
LIMIT = 2
WAITING = re.compile(r"^footdrop_cds_hook_calls_waiting (\S+)$", re.MULTILINE)


def eventually(condition: Callable[[], bool], what: str, timeout_s: float = 60) -> None:
    """Wait for `condition` (a deadline against a hang, not a timing assertion)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.02)


def waiting(server: ServiceProcess) -> float:
    metrics = httpx.get(f"{server.base_url}/metrics", timeout=10).text
    found = WAITING.search(metrics)
    assert found, "the hook_calls_waiting gauge is missing"
    return float(found.group(1))


def call_without_patient(fhir: FhirServer) -> dict[str, Any]:
    """The foot-drop chart in prefetch but for the Patient, which the service must read
    from the FHIR server."""
    prefetch = full_prefetch(FOOT_DROP)
    del prefetch["patient"]
    return hook_request(prefetch=prefetch, fhir_server_url=fhir.base_url)


def test_calls_past_the_limit_wait_unparsed_and_all_get_their_cards(
    client_factory: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = client_factory(max_records_in_flight=LIMIT)
    alone = client.post(PATIENT_VIEW, json=hook_request(prefetch=full_prefetch(FOOT_DROP)))
    assert alone.status_code == 200, alone.text
    parsed, deciding, go_on = [], [], threading.Event()
    parse, decide = body.parse_hook_request, pipeline.decide

    def counted_parse(*args: Any) -> Any:
        parsed.append(1)
        return parse(*args)

    def held_decide(*args: Any, **kwargs: Any) -> Any:
        deciding.append(1)
        go_on.wait(timeout=120)
        return decide(*args, **kwargs)

    monkeypatch.setattr(body, "parse_hook_request", counted_parse)
    monkeypatch.setattr(pipeline, "decide", held_decide)
    monkeypatch.setattr(pipeline, "INLINE_RESOURCES", -1)  # decided in a pool thread
    admission = client.app.state.engine.admission  # type: ignore[attr-defined]
    request = hook_request(prefetch=full_prefetch(FOOT_DROP))
    try:
        with ThreadPoolExecutor(LIMIT + 1) as pool:
            calls = [
                pool.submit(
                    client.post, PATIENT_VIEW, json={**request, "hookInstance": str(uuid.uuid4())}
                )
                for _ in range(LIMIT + 1)
            ]
            eventually(lambda: len(deciding) == LIMIT, f"{LIMIT} calls deciding")
            eventually(lambda: admission.waiting == 1, "the third call waiting for a slot")
            assert len(parsed) == LIMIT  # the waiting call's body is not parsed yet
            go_on.set()
            answers = [call.result() for call in calls]
    finally:
        go_on.set()
    assert (len(parsed), admission.waiting) == (LIMIT + 1, 0)
    assert [answer.status_code for answer in answers] == [200] * (LIMIT + 1)
    assert [summaries(answer) for answer in answers] == [summaries(alone)] * (LIMIT + 1)
    assert any(topic == "localization-workup" for topic, _, _ in summaries(alone))


@pytest.fixture
def held_fhir(fhir: FhirServer) -> Iterator[tuple[FhirServer, threading.Event, list[str]]]:
    """A FHIR server that holds every Patient read until the test releases it."""
    release, arrived = threading.Event(), []

    def answer(relative: str) -> dict[str, Any] | None:
        if not relative.startswith("Patient/"):
            return None
        arrived.append(relative)
        release.wait(timeout=120)
        return patient()

    fhir.answer = answer
    try:
        yield fhir, release, arrived
    finally:
        release.set()


def test_a_call_waiting_for_the_fhir_server_lends_its_slot(
    tmp_path: Path, held_fhir: tuple[FhirServer, threading.Event, list[str]]
) -> None:
    """With one slot, a call whose Patient the FHIR server holds back does not keep a call
    that brought its whole record from being answered (a real uvicorn process, jwt mode)."""
    fhir, release, arrived = held_fhir
    ehr = Ehr(tmp_path)
    settings = {
        "CDS_AUTH_MODE": "jwt",
        "CDS_TRUSTED_ISSUERS": ehr.trusted_issuers(),
        "CDS_PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "CDS_PATIENT_HASH_KEY": PATIENT_HASH_KEY,
        "CDS_DATABASE_URL": f"sqlite:///{tmp_path / 'cds.db'}",
        "CDS_FHIR_ALLOWLIST": fhir.base_url,
        "CDS_FHIR_TIMEOUT_S": "60",
        "CDS_MAX_RECORDS_IN_FLIGHT": "1",
    }
    with service_process(tmp_path / "server.log", settings) as server:

        def post(request: dict[str, Any]) -> httpx.Response:
            headers = {"Authorization": ehr.authorization(PATIENT_VIEW)}
            url = server.base_url + PATIENT_VIEW
            return httpx.post(url, json=request, headers=headers, timeout=120)

        with ThreadPoolExecutor(1) as pool:
            fetching = pool.submit(post, call_without_patient(fhir))
            eventually(lambda: len(arrived) == 1, "the call reading its Patient")
            brought = post(hook_request(prefetch=full_prefetch(FOOT_DROP)))
            assert brought.status_code == 200, brought.text
            assert not fetching.done()
            release.set()
            fetched = fetching.result()
        assert waiting(server) == 0
    assert fetched.status_code == 200, fetched.text
    assert summaries(fetched) == summaries(brought)
    assert any(topic == "localization-workup" for topic, _, _ in summaries(brought))


def summaries(response: httpx.Response) -> list[tuple[str, str, str]]:
    return [
        (card["source"]["topic"]["code"], card["indicator"], card["summary"])
        for card in response.json()["cards"]
    ]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_at_most_the_limit_are_inside_and_the_rest_follow_in_order() -> None:
    admission = RecordAdmission(LIMIT)
    inside, most, order = 0, 0, []
    gate = asyncio.Event()

    async def call(number: int) -> None:
        nonlocal inside, most
        async with admission.admitted():
            inside += 1
            most = max(most, inside)
            order.append(number)
            await gate.wait()
            inside -= 1

    tasks = [asyncio.create_task(call(n)) for n in range(LIMIT + 3)]
    while admission.waiting < 3:
        await asyncio.sleep(0)
    assert (inside, order) == (LIMIT, list(range(LIMIT)))
    gate.set()
    await asyncio.gather(*tasks)
    assert (most, order, admission.waiting) == (LIMIT, list(range(LIMIT + 3)), 0)


@pytest.mark.anyio
async def test_a_failed_call_gives_its_slot_back() -> None:
    admission = RecordAdmission(1)
    with pytest.raises(ValueError):
        async with admission.admitted():
            raise ValueError("the call failed")
    async with asyncio.timeout(10), admission.admitted():  # would wait forever if it leaked
        pass


def resources_with_id(rid: str) -> int:
    return sum(1 for o in gc.get_objects() if isinstance(o, dict) and o.get("id") == rid)


@pytest.mark.parametrize("on_loop", [True, False])
def test_nothing_keeps_the_record_once_the_call_is_answered(
    signed_client_factory: Callable[..., SignedClient],
    monkeypatch: pytest.MonkeyPatch,
    on_loop: bool,
) -> None:
    """A slot bounds memory only if the record dies with the call (jwt mode: the database
    hops too); found without a collection, so not even garbage waiting for one."""
    monkeypatch.setattr(pipeline, "INLINE_RESOURCES", 10**6 if on_loop else -1)
    client = signed_client_factory()
    probe = f"probe-{uuid.uuid4().hex}"
    record = full_prefetch(FOOT_DROP, condition("38341003", rid=probe))
    body = json.dumps(hook_request(prefetch=record)).encode()
    del record
    alive = loads(body)
    assert resources_with_id(probe) == 1  # the probe sees a record while one is alive
    del alive
    headers = {"Content-Type": "application/json"}
    response = client.post(PATIENT_VIEW, content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["cards"]
    assert resources_with_id(probe) == 0
