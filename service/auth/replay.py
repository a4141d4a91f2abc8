"""The `jti` replay memory: a token is accepted once within its lifetime (S-8).

`ReplayCache` is what the verifier needs. The per-process `MemoryReplayCache`
works alone for one worker; with several workers a database-backed cache is the
primary (an `INSERT … ON CONFLICT DO NOTHING` on (issuer, jti) answers
`first_use` atomically across workers), wrapped in `FallbackReplayCache` so a
database outage falls back to this process's memory instead of refusing every
call or, worse, accepting replays.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

log = logging.getLogger(__name__)


class ReplayCache(Protocol):
    async def first_use(self, issuer: str, jti: str, expires_at: datetime) -> bool:
        """Record (issuer, jti); True the first time, False if it was recorded before.

        `expires_at` is when the token stops being acceptable (its `exp` plus the
        verifier's leeway): the entry may be forgotten after that, never before.
        Raising means the jti could not be recorded; the verifier then refuses
        the token (`replay_unavailable`).
        """
        ...


class ReplayCacheFull(Exception):
    """Every slot holds a jti that is still live: forgetting one would allow its replay."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class MemoryReplayCache:
    """A bounded in-process replay cache; expired entries are evicted as time passes.

    When `max_entries` live entries are held it refuses to record more
    (`ReplayCacheFull`) rather than forget a live one, so the verifier fails closed.
    Not thread-safe: one instance serves one event loop (each worker has its own).
    """

    def __init__(
        self, *, max_entries: int = 100_000, clock: Callable[[], datetime] = _utc_now
    ) -> None:
        self._max_entries = max_entries
        self._clock = clock
        self._expiry: dict[tuple[str, str], datetime] = {}
        self._by_expiry: list[tuple[datetime, str, str]] = []

    def live_entries(self) -> int:
        """How many jti are remembered now (a gauge for metrics)."""
        self._evict_expired()
        return len(self._expiry)

    def remembers(self, issuer: str, jti: str) -> bool:
        """Whether (issuer, jti) is held and still live, without recording it."""
        self._evict_expired()
        return (issuer, jti) in self._expiry

    async def first_use(self, issuer: str, jti: str, expires_at: datetime) -> bool:
        self._evict_expired()
        key = (issuer, jti)
        if key in self._expiry:
            return False
        if len(self._expiry) >= self._max_entries:
            raise ReplayCacheFull(f"{self._max_entries} live jti entries")
        self._expiry[key] = expires_at
        heapq.heappush(self._by_expiry, (expires_at, issuer, jti))
        return True

    def _evict_expired(self) -> None:
        now = self._clock()
        while self._by_expiry and self._by_expiry[0][0] <= now:
            _, issuer, jti = heapq.heappop(self._by_expiry)
            del self._expiry[(issuer, jti)]


class FallbackReplayCache:
    """The shared `primary` (the database), and this process's memory while it fails.

    Each failure of the primary is logged and passed to `on_failure` (for a metric);
    the call is then answered by `fallback`. A jti recorded only in the fallback
    during an outage stays refused by this process after the primary recovers.
    (Another worker could still accept it once, within its lifetime: the outage
    narrows replay protection to one process, it does not switch it off.)
    """

    def __init__(
        self,
        primary: ReplayCache,
        fallback: MemoryReplayCache,
        on_failure: Callable[[Exception], None],
    ) -> None:
        self._primary = primary
        self._fallback = fallback
        self._on_failure = on_failure

    async def first_use(self, issuer: str, jti: str, expires_at: datetime) -> bool:
        if self._fallback.remembers(issuer, jti):
            return False
        try:
            return await self._primary.first_use(issuer, jti, expires_at)
        except Exception as error:  # the primary is down: this process's memory takes over
            log.warning(
                "replay cache unavailable (%s); using this process's memory",
                type(error).__name__,
            )
            self._on_failure(error)
        return await self._fallback.first_use(issuer, jti, expires_at)
