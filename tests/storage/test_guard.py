"""The database guard: a slow, failing or hung database costs a caller its budget, never more.

The "hung" database here is a function blocked on an event the test controls, so
no test waits on a wall-clock timeout longer than its budget.
"""

from __future__ import annotations

import asyncio
import threading

import pytest
from prometheus_client import REGISTRY

from service.storage.database import DatabaseUnavailable
from service.storage.guard import DatabaseGuard
from tests.support.clock import SettableClock


def test_an_answer_within_the_budget_is_returned() -> None:
    guard = DatabaseGuard(1.0)
    assert asyncio.run(guard.run("read", lambda: 42)) == 42
    assert not guard.failures


def test_an_error_is_unavailable_and_counted() -> None:
    guard = DatabaseGuard(1.0)

    def broken() -> int:
        raise OSError("connection refused")

    with pytest.raises(DatabaseUnavailable):
        asyncio.run(guard.run("read", broken))
    assert guard.failures[("read", "OSError")] == 1


def test_a_hung_call_costs_the_budget_then_later_calls_skip_the_database() -> None:
    clock = SettableClock(1000.0)
    guard = DatabaseGuard(0.05, retry_after_s=5.0, trip_after=2, clock=clock)
    release = threading.Event()
    calls: list[str] = []

    def hung() -> None:
        calls.append("hung")
        release.wait()

    async def scenario() -> None:
        for _ in range(2):
            with pytest.raises(DatabaseUnavailable, match="no answer"):
                await guard.run("snoozes", hung)
        with pytest.raises(DatabaseUnavailable, match="skipped"):
            await guard.run("snoozes", lambda: calls.append("skipped"))
        clock.now += 5.0
        assert await guard.run("snoozes", lambda: "back") == "back"

    try:
        asyncio.run(scenario())
    finally:
        release.set()
    assert calls == ["hung", "hung"]
    assert guard.failures[("snoozes", "timeout")] == 2
    assert guard.failures[("snoozes", "skipped")] == 1


def test_one_failure_does_not_switch_the_database_off() -> None:
    guard = DatabaseGuard(1.0, trip_after=3, clock=SettableClock(1000.0))

    def broken() -> None:
        raise OSError

    async def scenario() -> str:
        for _ in range(2):
            with pytest.raises(DatabaseUnavailable):
                await guard.run("read", broken)
        return await guard.run("read", lambda: "answered")

    assert asyncio.run(scenario()) == "answered"


def test_calls_that_must_try_do_not_skip_but_wait_for_the_database() -> None:
    clock = SettableClock(1000.0)
    guard = DatabaseGuard(0.05, trip_after=1, clock=clock)

    def broken() -> None:
        raise OSError

    async def scenario() -> str:
        with pytest.raises(DatabaseUnavailable):
            await guard.run("read", broken)
        return await guard.run("feedback", lambda: "stored", fail_fast=False)

    assert asyncio.run(scenario()) == "stored"


def test_hung_calls_hold_at_most_the_guard_threads() -> None:
    clock = SettableClock(1000.0)
    guard = DatabaseGuard(0.05, retry_after_s=0.0, threads=2, clock=clock)
    release = threading.Event()

    async def scenario() -> None:
        for _ in range(2):
            with pytest.raises(DatabaseUnavailable, match="no answer"):
                await guard.run("read", release.wait)
        with pytest.raises(DatabaseUnavailable, match="still waiting"):
            await guard.run("read", lambda: None)

    try:
        asyncio.run(scenario())
    finally:
        release.set()
    assert guard.failures[("read", "busy")] == 1


def test_closing_ends_the_idle_threads() -> None:
    before = set(threading.enumerate())
    guard = DatabaseGuard(1.0, threads=4)
    started = set(threading.enumerate()) - before
    assert len(started) == 4
    guard.close()
    for thread in started:
        thread.join(5)
    assert not any(thread.is_alive() for thread in started)


def test_failures_are_exported_as_metrics() -> None:
    """/metrics has them as footdrop_cds_database_unavailable_total{operation,kind}."""

    def exported(kind: str) -> float:
        labels = {"operation": "metrics probe", "kind": kind}
        return REGISTRY.get_sample_value("footdrop_cds_database_unavailable_total", labels) or 0.0

    before = {kind: exported(kind) for kind in ("OSError", "skipped")}
    guard = DatabaseGuard(1.0, trip_after=1, clock=SettableClock(1000.0))

    def broken() -> None:
        raise OSError

    for _ in range(2):  # fails, then skipped while the database is switched off
        with pytest.raises(DatabaseUnavailable):
            asyncio.run(guard.run("metrics probe", broken))
    assert exported("OSError") == before["OSError"] + 1
    assert exported("skipped") == before["skipped"] + 1
