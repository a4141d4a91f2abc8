"""The jti memory: once per lifetime, bounded, and a database outage falls back to memory."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from service.auth import FallbackReplayCache, MemoryReplayCache, ReplayCache, ReplayCacheFull
from tests.auth.harness import NOW
from tests.support.clock import SettableClock

pytestmark = pytest.mark.anyio

ISS = "https://ehr.example.org"
LATER = NOW + timedelta(minutes=5)


async def test_a_jti_is_new_once_per_issuer() -> None:
    cache = MemoryReplayCache(clock=SettableClock(NOW))
    assert await cache.first_use(ISS, "a", LATER)
    assert not await cache.first_use(ISS, "a", LATER)
    assert await cache.first_use("https://other.example", "a", LATER)


async def test_entries_are_kept_until_they_expire_then_forgotten() -> None:
    clock = SettableClock(NOW)
    cache = MemoryReplayCache(clock=clock)
    await cache.first_use(ISS, "a", LATER)
    clock.now = LATER - timedelta(microseconds=1)
    assert not await cache.first_use(ISS, "a", LATER)
    assert cache.live_entries() == 1
    clock.now = LATER
    assert cache.live_entries() == 0
    assert await cache.first_use(ISS, "a", LATER + timedelta(minutes=5))


async def test_the_memory_is_bounded_and_fails_closed_when_full_of_live_entries() -> None:
    clock = SettableClock(NOW)
    cache = MemoryReplayCache(max_entries=3, clock=clock)
    for n in range(3):
        await cache.first_use(ISS, str(n), NOW + timedelta(minutes=n + 1))
    with pytest.raises(ReplayCacheFull):
        await cache.first_use(ISS, "new", LATER)
    assert not await cache.first_use(ISS, "0", LATER)  # still remembered, not evicted
    clock.now = NOW + timedelta(minutes=1)  # the first entry expires: room for one more
    assert await cache.first_use(ISS, "new", LATER)
    assert cache.live_entries() == 3


class Database:
    """A primary standing in for the database: shared state, and it can go down."""

    def __init__(self) -> None:
        self.seen: set[tuple[str, str]] = set()
        self.down = False

    async def first_use(self, issuer: str, jti: str, expires_at: datetime) -> bool:
        if self.down:
            raise ConnectionRefusedError("database unreachable")
        if (issuer, jti) in self.seen:
            return False
        self.seen.add((issuer, jti))
        return True


def fallback_cache(database: Database, failures: list[Exception]) -> ReplayCache:
    return FallbackReplayCache(
        database, MemoryReplayCache(clock=SettableClock(NOW)), failures.append
    )


async def test_the_primary_answers_while_it_is_up() -> None:
    database, failures = Database(), []
    cache = fallback_cache(database, failures)
    assert await cache.first_use(ISS, "a", LATER)
    database.seen.add((ISS, "seen-by-another-worker"))
    assert not await cache.first_use(ISS, "seen-by-another-worker", LATER)
    assert failures == []


async def test_when_the_primary_is_down_memory_takes_over_and_each_failure_is_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    database, failures = Database(), []
    cache = fallback_cache(database, failures)
    database.down = True
    assert await cache.first_use(ISS, "a", LATER)
    assert await cache.first_use(ISS, "b", LATER)
    assert not await cache.first_use(ISS, "a", LATER)  # answered by memory alone
    assert [type(error) for error in failures] == [ConnectionRefusedError] * 2
    assert "replay cache unavailable (ConnectionRefusedError)" in caplog.text
    assert "unreachable" not in caplog.text  # the error's message may hold connection details


async def test_a_jti_first_seen_during_the_outage_stays_refused_after_recovery() -> None:
    database, failures = Database(), []
    cache = fallback_cache(database, failures)
    database.down = True
    assert await cache.first_use(ISS, "during-outage", LATER)
    database.down = False
    assert not await cache.first_use(ISS, "during-outage", LATER)
    assert await cache.first_use(ISS, "after", LATER)
    assert database.seen == {(ISS, "after")}
