"""The cycle collector's collections, as a test sees them start."""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def collections_started(*, this_thread_only: bool) -> Iterator[list[int]]:
    """The generations of the collections that start inside the block: those this thread
    starts (a thread left over from another test may start some of its own), or those of
    any thread (a TestClient's app runs in a thread of its own)."""
    started: list[int] = []
    caller = threading.get_ident()

    def note(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and (not this_thread_only or threading.get_ident() == caller):
            started.append(info["generation"])

    gc.callbacks.append(note)
    try:
        yield started
    finally:
        gc.callbacks.remove(note)
