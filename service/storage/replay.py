"""The database as the JWT replay memory shared by every worker (the auth `ReplayCache`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from service.storage.guard import DatabaseGuard
from service.storage.store import Store


class DatabaseReplayCache:
    """`first_use` through the store within the guard's budget; raises when the database
    fails or is slow, and the verifier's fallback (this process's memory) answers."""

    def __init__(self, store: Store, guard: DatabaseGuard, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._guard = guard
        self._clock = clock

    async def first_use(self, issuer: str, jti: str, expires_at: datetime) -> bool:
        now = self._clock()
        return await self._guard.run(
            "jwt replay memory", lambda: self._store.first_use(issuer, jti, expires_at, now)
        )
