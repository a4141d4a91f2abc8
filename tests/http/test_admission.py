"""CDS_MAX_RECORDS_IN_FLIGHT: at most N hook calls hold a record at once; the rest wait
for a slot, and every call gets the cards it would have got alone."""

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

from service.cds import pipeline
from service.cds.admission import RecordAdmission
from service.fhir.strict_json import loads
from tests.conftest import FOOT_DROP, condition, full_prefetch, hook_request, patient
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


def call_without_patient(fhir: FhirServer, call: int) -> dict[str, Any]:
    """The foot-drop chart in prefetch but for the Patient, which the service reads from
    its own FHIR server path (`call-<n>`), so the FHIR server sees which call it is."""
    prefetch = full_prefetch(FOOT_DROP)
    del prefetch["patient"]
    return hook_request(prefetch=prefetch, fhir_server_url=f"{fhir.base_url}/call-{call}")


@pytest.fixture
def held_fhir(
    fhir: FhirServer,
) -> Iterator[tuple[FhirServer, list[int], dict[int, threading.Event]]]:
    """A FHIR server that holds each call's Patient read until the test releases it."""
    arrived: list[int] = []
    release = {call: threading.Event() for call in range(LIMIT + 1)}

    def answer(relative: str) -> dict[str, Any] | None:
        found = re.fullmatch(r"call-(\d+)/Patient/[^/?]+", relative)
        if found is None:
            return None
        call = int(found.group(1))
        arrived.append(call)
        release[call].wait(timeout=120)
        return patient()

    fhir.answer = answer
    try:
        yield fhir, arrived, release
    finally:
        for event in release.values():
            event.set()


def test_a_call_past_the_limit_waits_for_a_slot_and_gets_its_cards(
    tmp_path: Path, held_fhir: tuple[FhirServer, list[int], dict[int, threading.Event]]
) -> None:
    fhir, arrived, release = held_fhir
    ehr = Ehr(tmp_path)
    settings = {
        "CDS_AUTH_MODE": "jwt",
        "CDS_TRUSTED_ISSUERS": ehr.trusted_issuers(),
        "CDS_PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "CDS_PATIENT_HASH_KEY": "test-patient-hash-key-0123456789abcdef",
        "CDS_DATABASE_URL": f"sqlite:///{tmp_path / 'cds.db'}",
        "CDS_FHIR_ALLOWLIST": fhir.base_url,
        "CDS_FHIR_TIMEOUT_S": "60",
        "CDS_MAX_RECORDS_IN_FLIGHT": str(LIMIT),
    }

    with service_process(tmp_path / "server.log", settings) as server:

        def post(body: dict[str, Any]) -> httpx.Response:
            headers = {"Authorization": ehr.authorization(PATIENT_VIEW)}
            return httpx.post(
                server.base_url + PATIENT_VIEW, json=body, headers=headers, timeout=120
            )

        alone = post(hook_request(prefetch=full_prefetch(FOOT_DROP)))
        assert alone.status_code == 200, alone.text
        with ThreadPoolExecutor(LIMIT + 1) as pool:
            calls = [pool.submit(post, call_without_patient(fhir, n)) for n in range(LIMIT + 1)]
            eventually(lambda: len(arrived) == LIMIT, f"{LIMIT} calls reading their Patient")
            eventually(lambda: waiting(server) == 1, "the third call waiting for a slot")
            assert len(arrived) == LIMIT  # the waiting call holds no record: it fetches nothing
            release[arrived[0]].set()
            eventually(lambda: len(arrived) == LIMIT + 1, "the third call admitted")
            for event in release.values():
                event.set()
            answers = [call.result() for call in calls]
        assert waiting(server) == 0

    assert [answer.status_code for answer in answers] == [200] * (LIMIT + 1)
    expected = summaries(alone)
    assert any(topic == "localization-workup" for topic, _, _ in expected)
    assert [summaries(answer) for answer in answers] == [expected] * (LIMIT + 1)


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
