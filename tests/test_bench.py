"""The benchmark harness keeps working: its requests are answered, its clients count them.

Runs what `make bench-smoke` runs at the smallest size, on real uvicorn servers
(the service with JWT authentication, the floor), and sends one request each
way through each load generator. Nothing here is timed: speed is the
benchmark's business (docs/performance.md), not the test suite's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

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
