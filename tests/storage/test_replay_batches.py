"""The database replay memory: calls waiting together share one transaction, and none
of them may accept a token id twice."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from service.storage.database import DatabaseUnavailable
from service.storage.guard import DatabaseGuard
from service.storage.replay import DatabaseReplayCache
from service.storage.store import Store

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)


class CountingStore(Store):
    def __init__(self, store: Store) -> None:
        super().__init__(store.engine)
        self.batches: list[int] = []
        self.failing = False

    def first_uses(self, tokens: Any, now: datetime) -> set[tuple[str, str]]:
        tokens = list(tokens)
        self.batches.append(len(tokens))
        if self.failing:
            raise RuntimeError("database down")
        return super().first_uses(tokens, now)


@pytest.fixture
def store() -> Iterator[CountingStore]:
    plain = Store.open("sqlite://")
    yield CountingStore(plain)
    plain.close()


@pytest.fixture
def guard() -> Iterator[DatabaseGuard]:
    guard = DatabaseGuard(5.0)
    yield guard
    guard.close()


async def test_calls_arriving_together_share_one_write_and_a_repeated_jti_passes_once(
    store: CountingStore, guard: DatabaseGuard
) -> None:
    cache = DatabaseReplayCache(store, guard, lambda: NOW)
    jtis = [f"jti-{n}" for n in range(20)] + ["jti-3", "jti-3"]
    answers = await asyncio.gather(*(cache.first_use("iss", jti, LATER) for jti in jtis))
    assert answers[:20] == [True] * 20
    assert answers[20:] == [False, False]
    assert store.batches == [22]
    assert not await cache.first_use("iss", "jti-7", LATER)
    assert await cache.first_use("other-issuer", "jti-7", LATER)
    assert store.batches == [22, 1, 1]


async def test_calls_arriving_during_a_write_wait_for_the_next_one(
    store: CountingStore, guard: DatabaseGuard
) -> None:
    cache = DatabaseReplayCache(store, guard, lambda: NOW)
    first = asyncio.ensure_future(cache.first_use("iss", "a", LATER))
    await asyncio.sleep(0)  # the first write has started
    later = [cache.first_use("iss", jti, LATER) for jti in ("b", "a", "c")]
    assert await asyncio.gather(first, *later) == [True, True, False, True]
    assert store.batches == [1, 3]


async def test_every_caller_of_a_failed_write_is_told(
    store: CountingStore, guard: DatabaseGuard
) -> None:
    cache = DatabaseReplayCache(store, guard, lambda: NOW)
    store.failing = True
    answers = await asyncio.gather(
        *(cache.first_use("iss", f"j{n}", LATER) for n in range(5)), return_exceptions=True
    )
    assert all(isinstance(answer, DatabaseUnavailable) for answer in answers)
    store.failing = False
    assert await cache.first_use("iss", "j0", LATER)  # nothing was recorded by the failure
