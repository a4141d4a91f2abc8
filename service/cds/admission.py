"""A bound on hook calls that hold a patient record at once (CDS_MAX_RECORDS_IN_FLIGHT).

A parsed record is many times the size of its JSON (a 300-resource prefetch, 258 KiB
of text, is several MB of Python objects), and a call holds it while it waits: for a
thread to decide or render, for the database (shown-card memory, snoozes), for the
FHIR server. At concurrency 16 every call held one at once, and each worker's memory
grew with the number of connections rather than with the work it could do (one
event loop, one CPU's worth of rules). With a bound, a call whose body has arrived
waits for a slot before the body is parsed and keeps it until its cards are made;
what waits is the body's bytes only.

Waiting never changes an answer: a call that waits gets the same cards later. It has
no deadline of its own: every admitted call ends within its own limits (the FHIR
budget, the database budget, bounded CPU), the queue is bounded by
CDS_LIMIT_CONCURRENCY (beyond it uvicorn answers 503 at once), and a refusal here
would be a call without cards, where a wait is a call with them. The body's receipt
deadline (CDS_REQUEST_BODY_TIMEOUT_S, 408) runs before the wait, so a client that
trickles its body never holds a slot.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from service.observability.metrics import HOOK_CALLS_WAITING


class RecordAdmission:
    """At most `limit` calls inside `admitted()` at once; the others wait, first come first in."""

    def __init__(self, limit: int) -> None:
        self._slots = asyncio.Semaphore(limit)
        self.waiting = 0
        """Calls waiting for a slot now (also the metric `hook_calls_waiting`)."""

    @asynccontextmanager
    async def admitted(self) -> AsyncIterator[None]:
        queued = self._slots.locked()
        if queued:
            self.waiting += 1
            HOOK_CALLS_WAITING.inc()
        try:
            await self._slots.acquire()
        finally:
            if queued:
                self.waiting -= 1
                HOOK_CALLS_WAITING.dec()
        try:
            yield
        finally:
            self._slots.release()
