"""The shown-card memory on real SQLite (file and memory) and real PostgreSQL (`database_url`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from service.storage.database import MIGRATIONS
from service.storage.store import Store, fingerprint

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_migrations_create_the_schema(database_url: str) -> None:
    store = Store.open(database_url)
    tables = inspect(store.engine).get_table_names()
    assert {"shown_cards", "alembic_version"} <= set(tables)


def test_a_remembered_card_is_seen_until_it_expires(database_url: str) -> None:
    store = Store.open(database_url)
    key = fingerprint("Practitioner/1", "pat-1", "enc-1", "ServiceRequest/a", "stat-imaging")
    assert store.shown([key], NOW) == set()
    store.remember([key], NOW, HOUR)
    assert store.shown([key, fingerprint("other")], NOW + timedelta(minutes=59)) == {key}
    assert store.shown([key], NOW + timedelta(minutes=61)) == set()


def test_remembering_again_extends_and_purges_expired(database_url: str) -> None:
    store = Store.open(database_url)
    old, fresh = fingerprint("old"), fingerprint("fresh")
    store.remember([old, fresh], NOW, HOUR)
    store.remember([fresh], NOW + 2 * HOUR, HOUR)
    assert store.shown([fresh], NOW + 2 * HOUR + timedelta(minutes=30)) == {fresh}
    with store.engine.connect() as connection:
        rows = connection.execute(text("SELECT fingerprint FROM shown_cards")).scalars().all()
    assert rows == [fresh]


def test_memory_survives_a_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cds.db'}"
    Store.open(url).remember([fingerprint("k")], NOW, HOUR)
    assert Store.open(url).shown([fingerprint("k")], NOW) == {fingerprint("k")}


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


def test_token_ids_are_new_once_across_batches_and_within_one(database_url: str) -> None:
    store = Store.open(database_url)
    later = NOW + HOUR
    first = store.first_uses([("iss", "a", later), ("iss", "b", later), ("iss", "a", later)], NOW)
    assert first == {("iss", "a"), ("iss", "b")}
    again = store.first_uses([("iss", "b", later), ("other", "b", later), ("iss", "c", later)], NOW)
    assert again == {("other", "b"), ("iss", "c")}
    assert not store.first_use("iss", "c", later, NOW)
    assert store.first_use("iss", "d", later, NOW)
