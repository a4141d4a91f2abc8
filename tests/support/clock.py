"""One settable clock for every test that moves time: the service takes a clock
callable (`create_app(settings, clock)`, the replay memory, the database guard), and
tests hand it this one, set or advanced between calls."""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class SettableClock(Generic[T]):
    """Returns `now` when called; tests assign `now` (a datetime, or a monotonic float)."""

    def __init__(self, now: T) -> None:
        self.now = now

    def __call__(self) -> T:
        return self.now
