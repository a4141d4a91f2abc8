"""The database as the JWT replay memory shared by every worker (the auth `ReplayCache`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from anyio import to_thread

from service.storage.store import Store


class DatabaseReplayCache:
    """`first_use` through the store, off the event loop; raises when the database fails."""

    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._clock = clock

    async def first_use(self, issuer: str, jti: str, expires_at: datetime) -> bool:
        return await to_thread.run_sync(
            self._store.first_use, issuer, jti, expires_at, self._clock()
        )
