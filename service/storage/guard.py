"""Database work on a caller's time budget, so a slow or dead database never costs a card.

A hook call asks the database small things (was this card shown, is this topic
snoozed, was this JWT id used). `DatabaseGuard.run` does each in one of its own
daemon threads and waits at most the budget; past it, or on any error, it raises
`DatabaseUnavailable` and the caller answers without the database. After
`trip_after` failures in a row, calls that may skip the database (`fail_fast`)
do so for `retry_after_s` instead of each waiting out the budget (one slow answer
on a busy machine does not switch the database off), and at most `threads` calls
are ever waiting on the database: a hung database holds a few threads, never the
service.

Failures are logged (once per outage for skipped calls) and counted by operation
and kind, in `failures` and in the `database_unavailable` metric.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from functools import partial
from typing import TypeVar

from service.observability.metrics import DATABASE_UNAVAILABLE
from service.storage.database import DatabaseUnavailable

log = logging.getLogger("service.storage")

_Result = TypeVar("_Result")


class DatabaseGuard:
    def __init__(
        self,
        budget_s: float,
        *,
        retry_after_s: float = 5.0,
        trip_after: int = 3,
        threads: int = 32,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.budget_s = budget_s
        self.retry_after_s = retry_after_s
        self.trip_after = trip_after
        self.failures: Counter[tuple[str, str]] = Counter()
        self._clock = clock
        self._skip_until = 0.0
        self._failures_in_a_row = 0
        self._slots = threading.BoundedSemaphore(threads)
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._threads = threads
        for number in range(threads):
            threading.Thread(target=self._serve, name=f"db-guard-{number}", daemon=True).start()

    async def run(
        self,
        operation: str,
        work: Callable[[], _Result],
        *,
        budget_s: float | None = None,
        fail_fast: bool = True,
    ) -> _Result:
        """`work()` in a guard thread within the budget, or `DatabaseUnavailable`."""
        if fail_fast and self._clock() < self._skip_until:
            self._count(operation, "skipped")
            raise DatabaseUnavailable(f"{operation}: skipped while the database is failing")
        if not self._slots.acquire(blocking=False):
            self._failed(operation, "busy")
            raise DatabaseUnavailable(f"{operation}: every database thread is still waiting")
        loop = asyncio.get_running_loop()
        outcome: asyncio.Future[_Result] = loop.create_future()
        self._jobs.put(lambda: self._do(work, loop, outcome))
        try:
            result = await asyncio.wait_for(outcome, budget_s or self.budget_s)
        except TimeoutError:
            self._failed(operation, "timeout")
            raise DatabaseUnavailable(f"{operation}: no answer in time") from None
        except Exception as error:
            self._failed(operation, type(error).__name__)
            raise DatabaseUnavailable(f"{operation}: {type(error).__name__}") from None
        self._failures_in_a_row = 0
        return result

    def _count(self, operation: str, kind: str) -> None:
        self.failures[operation, kind] += 1
        DATABASE_UNAVAILABLE.labels(operation=operation, kind=kind).inc()

    def _failed(self, operation: str, kind: str) -> None:
        self._count(operation, kind)
        self._failures_in_a_row += 1
        if self._failures_in_a_row >= self.trip_after:
            self._skip_until = self._clock() + self.retry_after_s
        log.warning("database unavailable for %s (%s); answering without it", operation, kind)

    def _do(
        self,
        work: Callable[[], _Result],
        loop: asyncio.AbstractEventLoop,
        outcome: asyncio.Future[_Result],
    ) -> None:
        try:
            try:
                settle = partial(outcome.set_result, work())
            except Exception as error:
                settle = partial(outcome.set_exception, error)
            self._deliver(loop, outcome, settle)
        finally:
            self._slots.release()

    @staticmethod
    def _deliver(
        loop: asyncio.AbstractEventLoop,
        outcome: asyncio.Future[_Result],
        settle: Callable[[], None],
    ) -> None:
        """Settle the caller's future unless it stopped waiting (or its loop has closed)."""

        def settle_if_waiting() -> None:
            if not outcome.done():
                settle()

        with suppress(RuntimeError):
            loop.call_soon_threadsafe(settle_if_waiting)

    def close(self) -> None:
        """End the idle threads (at shutdown); one stuck in a hung database is a daemon."""
        for _ in range(self._threads):
            self._jobs.put(None)

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            job()
