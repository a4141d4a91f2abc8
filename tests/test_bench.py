"""The benchmark harness keeps working: its requests are answered, its clients count them.

Runs what `make bench-smoke` runs at the smallest size, on real uvicorn servers
(the service with JWT authentication, the floor), and sends one request each
way through each load generator. Nothing here is timed: speed is the
benchmark's business (docs/performance.md), not the test suite's.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

import pytest

from bench import report
from bench.load import PythonClient, Wrk
from bench.run import FLOOR, JWT, QUICK, SERVICES, Bench

ONE_REQUEST = dataclasses.replace(QUICK, sizes=(10,), requests_c1=1, requests_c16=2, max_s=30.0)


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    """The floor, the service with and without JWT, and the delayed FHIR server, started."""
    harness = Bench(tmp_path_factory.mktemp("bench"), ONE_REQUEST, say=lambda _: None)
    with harness.started():
        yield harness


def test_every_benchmark_request_is_answered_as_the_service_would(bench: Bench) -> None:
    workloads = list(bench.workloads())
    assert {w.label.split()[0] for w in workloads} == {
        "patient-view",
        "order-select",
        "order-sign",
    }
    for workload in workloads:
        for call in workload.calls:
            response = bench.probe(JWT, call.path, call.body)
            assert response.status_code == 200, (workload.label, response.text)
    first = workloads[0]
    cards = bench.probe(JWT, SERVICES["patient-view"], first.calls[0].body).json()["cards"]
    assert {"orthosis", "physical-therapy"} <= {c["source"]["topic"]["code"] for c in cards}
    floor = bench.probe(FLOOR, SERVICES["patient-view"], first.calls[0].body)
    assert floor.json() == {"cards": []}


def test_both_load_generators_send_signed_requests_that_are_accepted(bench: Bench) -> None:
    workload = next(iter(bench.workloads()))
    generators = [PythonClient(), *([Wrk(bench.workdir)] if Wrk.available() else [])]
    for generator in generators:
        bench.loadgen = generator
        for variant, concurrency in ((JWT, 1), (FLOOR, 16)):
            bench.per_request_s[(workload.label, variant)] = 0.1
            measured = bench.timed(workload, variant, concurrency)
            assert measured.outcome is not None, measured.note
            assert measured.outcome.requests >= 1, (generator.name, variant)
            assert measured.outcome.not_ok == measured.outcome.failed == 0
            assert measured.outcome.replayed == 0


def test_the_card_log_cost_is_read_from_the_services_metrics(bench: Bench) -> None:
    before = bench.card_log_figures()
    assert before is not None
    first = next(iter(bench.workloads()))
    assert bench.probe(JWT, first.calls[0].path, first.calls[0].body).status_code == 200
    after = bench.card_log_figures()
    deadline = time.monotonic() + 30  # the writer lingers 50 ms, more on a busy machine
    while after and after["cards"] == before["cards"] and time.monotonic() < deadline:
        time.sleep(0.05)
        after = bench.card_log_figures()
    assert after is not None
    assert after["calls"] == before["calls"] + 1
    assert after["cards"] > before["cards"] and after["writer_cpu_s"] > before["writer_cpu_s"]


def test_the_card_log_target_is_its_writers_cpu_over_the_calls(bench: Bench) -> None:
    bench.card_log = {"writer_cpu_s": 0.5, "batches": 40.0, "cards": 2400.0, "calls": 1000.0}
    verdict = report._card_log(bench)
    assert (verdict.status, verdict.found.split(":")[0]) == ("PASS", "0.500 ms")
    bench.card_log = None
    assert report._card_log(bench).status == "SKIP"
