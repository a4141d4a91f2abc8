"""The card log's writer: nothing accepted is lost while the database is away, a full queue
refuses (and counts), shutdown drains, and recording never blocks the caller."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text

from service.storage.card_log import CardLog
from service.storage.records import IssuedCardRecord
from service.storage.store import Store

NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)


def cards(count: int) -> list[IssuedCardRecord]:
    return [
        IssuedCardRecord(
            card_uuid=str(uuid.uuid4()),
            suggestion_uuids=(),
            service_id="footdrop-patient-view",
            hook="patient-view",
            hook_instance=str(uuid.uuid4()),
            topic="orthosis",
            indicator="info",
            issued_at=NOW,
            issuer=None,
            patient_key="0" * 64,
            snoozable=False,
        )
        for _ in range(count)
    ]


@dataclass
class FlakyStore:
    """A store whose database is down until `up` is set; `written` holds what got through."""

    up: threading.Event = field(default_factory=threading.Event)
    blocked: threading.Event = field(default_factory=threading.Event)
    attempts: int = 0
    written: list[str] = field(default_factory=list)

    def record_cards(self, records: Sequence[IssuedCardRecord]) -> None:
        self.attempts += 1
        if not self.up.is_set():
            self.blocked.set()
            raise OSError("database down")
        self.written += [record.card_uuid for record in records]


def test_cards_reach_the_database(database_url: str) -> None:
    store = Store.open(database_url)
    log = CardLog(store)
    for _ in range(50):
        assert log.record(cards(3))
    assert log.flush(10)
    log.close(5)
    with store.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM issued_cards")).scalar() == 150
    assert (log.written, log.refused, log.lost) == (150, 0, 0)


def test_an_outage_delays_the_log_and_loses_nothing() -> None:
    store = FlakyStore()
    log = CardLog(store, retry_s=0.01, max_retry_s=0.02)  # type: ignore[arg-type]
    sent = [cards(2) for _ in range(10)]
    for batch in sent:
        assert log.record(batch)  # returns at once although the database is down
    assert store.blocked.wait(5)
    assert not log.flush(0.05)
    store.up.set()
    assert log.flush(10)
    log.close(5)
    assert sorted(store.written) == sorted(c.card_uuid for batch in sent for c in batch)
    assert store.attempts > 1 and log.lost == 0


def test_a_full_queue_refuses_and_counts_but_never_blocks() -> None:
    store = FlakyStore()
    log = CardLog(store, capacity=3, retry_s=0.01)  # type: ignore[arg-type]
    assert log.record(cards(1))
    assert store.blocked.wait(5)  # the writer holds the first batch and retries it
    accepted = [log.record(cards(1)) for _ in range(6)]
    assert accepted == [True, True, True, False, False, False]
    assert log.refused == 3
    store.up.set()
    assert log.flush(10)
    log.close(5)
    assert len(store.written) == 4 and log.lost == 0


def test_shutdown_drains_and_reports_what_the_database_never_took(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = FlakyStore()
    log = CardLog(store, retry_s=0.01, max_retry_s=0.02)  # type: ignore[arg-type]
    for _ in range(4):
        log.record(cards(5))
    assert store.blocked.wait(5)
    log.close(0.2)
    assert log.lost == 20 and store.written == []
    assert "20 accepted cards not recorded" in caplog.text
    assert not log.record(cards(1)) and log.refused == 1


def test_shutdown_writes_what_is_queued(database_url: str) -> None:
    store = Store.open(database_url)
    log = CardLog(store)
    for _ in range(20):
        log.record(cards(5))
    log.close(10)
    with store.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM issued_cards")).scalar() == 100


def exported(outcome: str) -> float:
    labels = {"outcome": outcome}
    return REGISTRY.get_sample_value("footdrop_cds_card_log_cards_total", labels) or 0.0


def test_written_refused_and_lost_are_exported_as_metrics() -> None:
    """/metrics has them as footdrop_cds_card_log_cards_total{outcome}."""
    before = {outcome: exported(outcome) for outcome in ("written", "refused", "lost")}
    store = FlakyStore()
    store.up.set()
    log = CardLog(store, retry_s=0.01, max_retry_s=0.02)  # type: ignore[arg-type]
    assert log.record(cards(3)) and log.flush(10)
    store.up.clear()
    log.record(cards(5))
    assert store.blocked.wait(5)
    log.close(0.2)
    assert not log.record(cards(2))
    after = {outcome: exported(outcome) - before[outcome] for outcome in before}
    assert after == {"written": 3, "refused": 2, "lost": 5}


def test_each_batch_written_and_the_writers_cpu_are_exported_as_metrics(database_url: str) -> None:
    """What recording cards costs is readable from /metrics: CPU seconds, batches, cards."""

    def sample(name: str) -> float:
        return REGISTRY.get_sample_value(f"footdrop_cds_{name}") or 0.0

    names = (
        "card_log_batch_duration_seconds_count",
        "card_log_batch_cards_count",
        "card_log_batch_cards_sum",
        "card_log_writer_cpu_seconds_total",
    )
    before = {name: sample(name) for name in names}
    log = CardLog(Store.open(database_url))
    assert log.record(cards(3)) and log.flush(10)
    assert log.record(cards(4)) and log.flush(10)
    log.close(1)
    after = {name: sample(name) - before[name] for name in names}
    assert after["card_log_batch_duration_seconds_count"] == after["card_log_batch_cards_count"]
    assert after["card_log_batch_cards_count"] == 2 and after["card_log_batch_cards_sum"] == 7
    assert after["card_log_writer_cpu_seconds_total"] > 0
