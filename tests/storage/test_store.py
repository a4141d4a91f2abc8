"""The shown-card memory on real SQLite (file and memory) and real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import OperationalError

from service.storage.store import MIGRATIONS, Store, fingerprint

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def _postgres_schema() -> Iterator[str]:
    """A throwaway schema on the local PostgreSQL, so tests never touch other tables."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES)
    try:
        with admin.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
    except OperationalError:
        pytest.skip("PostgreSQL on 127.0.0.1:5432 is not running")
    try:
        yield f"{POSTGRES}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(params=["sqlite-memory", "sqlite-file", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite-memory":
        yield "sqlite://"
    elif request.param == "sqlite-file":
        yield f"sqlite:///{tmp_path / 'cds.db'}"
    else:
        yield from _postgres_schema()


def test_migrations_create_the_schema(database_url: str) -> None:
    store = Store.open(database_url)
    tables = inspect(store.engine).get_table_names()
    assert {"shown_cards", "alembic_version"} <= set(tables)


def test_a_remembered_card_is_seen_until_it_expires(database_url: str) -> None:
    store = Store.open(database_url)
    key = fingerprint("Practitioner/1", "pat-1", "enc-1", "ServiceRequest/a", "stat-imaging")
    assert not store.was_shown(key, NOW)
    store.remember([key], NOW, HOUR)
    assert store.was_shown(key, NOW + timedelta(minutes=59))
    assert not store.was_shown(key, NOW + timedelta(minutes=61))


def test_remembering_again_extends_and_purges_expired(database_url: str) -> None:
    store = Store.open(database_url)
    old, fresh = fingerprint("old"), fingerprint("fresh")
    store.remember([old, fresh], NOW, HOUR)
    store.remember([fresh], NOW + 2 * HOUR, HOUR)
    assert store.was_shown(fresh, NOW + 2 * HOUR + timedelta(minutes=30))
    with store.engine.connect() as connection:
        rows = connection.execute(text("SELECT fingerprint FROM shown_cards")).scalars().all()
    assert rows == [fresh]


def test_memory_survives_a_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cds.db'}"
    Store.open(url).remember([fingerprint("k")], NOW, HOUR)
    assert Store.open(url).was_shown(fingerprint("k"), NOW)


def test_fingerprints_do_not_contain_the_identifiers() -> None:
    key = fingerprint("Practitioner/1", "patient-12345")
    assert "12345" not in key and len(key) == 64


def test_workers_starting_together_migrate_once(database_url: str) -> None:
    """Several workers open the same database at once: one migrates, none fails."""
    from concurrent.futures import ThreadPoolExecutor

    if database_url == "sqlite://":
        pytest.skip("an in-memory database is private to one process")
    with ThreadPoolExecutor(max_workers=4) as pool:
        stores = list(pool.map(Store.open, [database_url] * 4))
    with stores[0].engine.connect() as connection:
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert versions == [(head,)]
