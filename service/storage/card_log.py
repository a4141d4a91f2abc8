"""The card log's writer: a hook call hands its cards over in microseconds and moves on.

`CardLog.record` puts one call's cards on a bounded queue (no I/O, no waiting);
one background thread writes whatever has queued up (within `LINGER_S`) in a
single transaction,
and retries while the database is unavailable, so an outage delays the log
instead of losing it. Only when the queue is full is a call's log refused (it is
counted and logged: the call itself is never affected). At shutdown `close`
stops accepting and drains the queue for up to `drain_s`; cards that could not
be written by then are counted and logged, never silently dropped. The counts
(written, refused, lost) are also the `card_log_cards` metric; the writer's CPU
time, and each batch's wall time and cards, are metrics too, so what recording
cards costs per call can be read from outside (CPU seconds over calls).

    hook call ─record()→ [bounded queue] ─writer thread→ Store.record_cards (one INSERT)
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence

from service.observability.metrics import (
    CARD_LOG_BATCH_CARDS,
    CARD_LOG_BATCH_SECONDS,
    CARD_LOG_CARDS,
    CARD_LOG_WRITER_CPU_SECONDS,
)
from service.storage.records import IssuedCardRecord
from service.storage.store import Store

log = logging.getLogger("service.storage")

#: Calls whose cards may wait for the database (a few cards each).
QUEUE_CALLS = 20_000
#: Calls written per transaction.
BATCH_CALLS = 200
#: After the first call's cards arrive, the writer lets more gather this long, so it
#: wakes (and competes with request threads for the interpreter) a few times a second
#: at most, instead of once per call.
LINGER_S = 0.05


class CardLog:
    def __init__(
        self,
        store: Store,
        *,
        capacity: int = QUEUE_CALLS,
        retry_s: float = 0.5,
        max_retry_s: float = 5.0,
    ) -> None:
        self._store = store
        self._queue: queue.Queue[Sequence[IssuedCardRecord]] = queue.Queue(capacity)
        self._retry_s = retry_s
        self._max_retry_s = max_retry_s
        self._closing = threading.Event()
        self._give_up_at: float | None = None
        self.refused = 0
        """Cards not accepted because the queue was full."""
        self.lost = 0
        """Cards accepted but not written by the end of the shutdown drain."""
        self.written = 0
        self._writing = 0
        self._failing = False
        self._thread = threading.Thread(target=self._write_forever, name="card-log", daemon=True)
        self._thread.start()

    def record(self, cards: Sequence[IssuedCardRecord]) -> bool:
        """Queue one call's cards for the log; False (counted, logged) when it is full."""
        if not cards:
            return True
        if self._closing.is_set():
            self._refuse(cards, "the service is shutting down")
            return False
        try:
            self._queue.put_nowait(cards)
        except queue.Full:
            self._refuse(cards, "its queue is full")
            return False
        return True

    def flush(self, timeout_s: float) -> bool:
        """Wait until every card queued so far is written; False if `timeout_s` passed first."""
        with self._queue.all_tasks_done:
            return self._queue.all_tasks_done.wait_for(
                lambda: self._queue.unfinished_tasks == 0, timeout_s
            )

    def close(self, drain_s: float) -> None:
        """Stop accepting, write what is queued for up to `drain_s`, report what was not."""
        self._give_up_at = time.monotonic() + drain_s
        self._closing.set()
        self._thread.join(drain_s + 1.0)
        left = sum(len(cards) for cards in self._drain_queue())
        if self._thread.is_alive():  # stuck in a database call: its batch is not written
            left += self._writing
        self._lose(left)
        if self.lost:
            log.error("card log: %d accepted cards not recorded (database unavailable)", self.lost)

    def _refuse(self, cards: Sequence[IssuedCardRecord], why: str) -> None:
        self.refused += len(cards)
        CARD_LOG_CARDS.labels(outcome="refused").inc(len(cards))
        log.warning("card log: %d cards not recorded: %s", len(cards), why)

    def _lose(self, cards: int) -> None:
        self.lost += cards
        CARD_LOG_CARDS.labels(outcome="lost").inc(cards)

    def _write_forever(self) -> None:
        while not (self._closing.is_set() and self._queue.empty()):
            try:
                batch = [self._queue.get(timeout=0.2)]
            except queue.Empty:
                continue
            self._closing.wait(LINGER_S)
            while len(batch) < BATCH_CALLS:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._write(batch)
            for _ in batch:
                self._queue.task_done()

    def _write(self, batch: list[Sequence[IssuedCardRecord]]) -> None:
        cpu_started = time.thread_time()
        try:
            self._write_until_done(batch)
        finally:
            CARD_LOG_WRITER_CPU_SECONDS.inc(time.thread_time() - cpu_started)

    def _write_until_done(self, batch: list[Sequence[IssuedCardRecord]]) -> None:
        records = [card for cards in batch for card in cards]
        self._writing = len(records)
        delay = self._retry_s
        while True:
            started = time.perf_counter()
            try:
                self._store.record_cards(records)
            except Exception as error:
                now = time.monotonic()
                if self._give_up_at is not None and now + delay > self._give_up_at:
                    self._lose(len(records))
                    break
                if not self._failing:
                    self._failing = True
                    log.warning(
                        "card log: database unavailable (%s); cards wait in the queue",
                        type(error).__name__,
                    )
                if self._give_up_at is None:
                    self._closing.wait(delay)  # a shutdown cuts the wait short
                else:
                    time.sleep(delay)
                delay = min(delay * 2, self._max_retry_s)
            else:
                CARD_LOG_BATCH_SECONDS.observe(time.perf_counter() - started)
                CARD_LOG_BATCH_CARDS.observe(len(records))
                if self._failing:
                    self._failing = False
                    log.warning("card log: database available again")
                self.written += len(records)
                CARD_LOG_CARDS.labels(outcome="written").inc(len(records))
                break
        self._writing = 0

    def _drain_queue(self) -> list[Sequence[IssuedCardRecord]]:
        """Whatever is still queued (after the writer stopped or gave up)."""
        left = []
        while True:
            try:
                left.append(self._queue.get_nowait())
            except queue.Empty:
                return left
            self._queue.task_done()
