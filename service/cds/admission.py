"""A bound on hook calls that hold a patient record at once (CDS_MAX_RECORDS_IN_FLIGHT).

A parsed record is many times the size of its JSON (a 300-resource prefetch, 258 KiB
of text, is several MB of Python objects), and a call holds it while it waits: for a
thread to decide or render, for the database (shown-card memory, snoozes). At
concurrency 16 every call held one at once, and each worker's memory grew with the
number of connections rather than with the work it could do (one event loop, one
CPU's worth of rules). With a bound, a call whose body has arrived waits for a slot
before the body is parsed and keeps it until its cards are made; what waits is the
body's bytes only.

A call waiting for the FHIR server (prefetch keys it must fetch) steps aside: its
slot goes to another call until the answers are in, so a slow FHIR server delays
only the calls that need it, never the calls that brought their record. (What it
holds meanwhile is what the EHR sent, usually little when it sent keys to fetch.)

Waiting never changes an answer: a call that waits gets the same cards later. It has
no deadline of its own: every admitted call ends within its own limits (the
database budget, bounded CPU), the queue is bounded by CDS_LIMIT_CONCURRENCY
(beyond it uvicorn answers 503 at once), and a refusal here would be a call without
cards, where a wait is a call with them. The body's receipt deadline
(CDS_REQUEST_BODY_TIMEOUT_S, 408) runs before the wait, so a client that trickles
its body never holds a slot.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from service.observability.metrics import HOOK_CALLS_WAITING


@dataclass
class _Slot:
    """One call's hold on the admission, whether it has its slot right now."""

    admission: RecordAdmission
    held: bool = False


#: The slot of the call this task serves (None outside an admitted call).
_current: ContextVar[_Slot | None] = ContextVar("record_slot", default=None)


class RecordAdmission:
    """At most `limit` calls inside `admitted()` at once; the others wait, first come first in."""

    def __init__(self, limit: int) -> None:
        self._slots = asyncio.Semaphore(limit)
        self.waiting = 0
        """Calls waiting for a slot now (also the metric `hook_calls_waiting`)."""

    @asynccontextmanager
    async def admitted(self) -> AsyncIterator[None]:
        slot = _Slot(self)
        await self._take(slot)
        reset = _current.set(slot)
        try:
            yield
        finally:
            _current.reset(reset)
            self._give_back(slot)

    async def _take(self, slot: _Slot) -> None:
        queued = self._slots.locked()
        if queued:
            self.waiting += 1
            HOOK_CALLS_WAITING.inc()
        try:
            await self._slots.acquire()
            slot.held = True
        finally:
            if queued:
                self.waiting -= 1
                HOOK_CALLS_WAITING.dec()

    def _give_back(self, slot: _Slot) -> None:
        if slot.held:
            slot.held = False
            self._slots.release()


@asynccontextmanager
async def stepped_aside() -> AsyncIterator[None]:
    """The current call's slot lent to another while it waits on the FHIR server, taken
    back (waiting in turn) before it goes on; nothing for work outside an admitted call."""
    slot = _current.get()
    if slot is None or not slot.held:
        yield
        return
    slot.admission._give_back(slot)
    try:
        yield
    finally:
        await slot.admission._take(slot)
