"""Every storage test runs on SQLite in memory, a SQLite file and the real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.postgres import postgres_schema


@pytest.fixture(params=["sqlite-memory", "sqlite-file", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite-memory":
        yield "sqlite://"
    elif request.param == "sqlite-file":
        yield f"sqlite:///{tmp_path / 'cds.db'}"
    else:
        yield from postgres_schema()


@pytest.fixture(params=["sqlite-file", "postgresql"])
def shared_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database several processes open at once: a SQLite file, or PostgreSQL."""
    if request.param == "sqlite-file":
        yield f"sqlite:///{tmp_path / 'cds.db'}"
    else:
        yield from postgres_schema()
