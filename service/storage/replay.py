"""The database as the JWT replay memory shared by every worker (the auth `ReplayCache`).

Every call's token id is written before the call is answered, and calls that
arrive while a write is under way share the next one: one transaction (and one
hand-off to a database thread) for all the token ids waiting, instead of one
each. Under load that is most of them; a call alone waits for nothing more.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from service.storage.database import DatabaseUnavailable
from service.storage.guard import DatabaseGuard
from service.storage.store import Store

_Waiting = tuple[str, str, datetime, "asyncio.Future[bool]"]


class DatabaseReplayCache:
    """`first_use` through the store within the guard's budget; raises when the database
    fails or is slow, and the verifier's fallback (this process's memory) answers."""

    def __init__(self, store: Store, guard: DatabaseGuard, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._guard = guard
        self._clock = clock
        self._waiting: list[_Waiting] = []
        self._writer: asyncio.Task[None] | None = None

    async def first_use(self, issuer: str, jti: str, expires_at: datetime) -> bool:
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((issuer, jti, expires_at, answer))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_while_waiting())
        return await answer

    async def _write_while_waiting(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                await self._write(batch)
        finally:
            self._writer = None
            left, self._waiting = self._waiting, []  # only when the writer was cancelled
            for *_, answer in left:
                if not answer.done():
                    answer.set_exception(DatabaseUnavailable("cancelled"))

    async def _write(self, batch: list[_Waiting]) -> None:
        tokens = [(issuer, jti, expires_at) for issuer, jti, expires_at, _ in batch]
        now = self._clock()
        try:
            new = await self._guard.run(
                "jwt replay memory", lambda: self._store.first_uses(tokens, now)
            )
        except BaseException as error:  # each caller raises it (and falls back to memory)
            failure = error if isinstance(error, Exception) else DatabaseUnavailable("cancelled")
            for *_, answer in batch:
                if not answer.done():
                    answer.set_exception(failure)
            if failure is not error:
                raise
            return
        for issuer, jti, _, answer in batch:
            first = (issuer, jti) in new
            new.discard((issuer, jti))  # the same token twice in one batch: the second is a replay
            if not answer.done():
                answer.set_result(first)
