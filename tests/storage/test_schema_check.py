"""The schema is checked with one query; Alembic is imported only when there is a
migration to run, so a worker serving an up-to-date database never loads it."""

from __future__ import annotations

import json
from pathlib import Path

from alembic.script import ScriptDirectory

from service.storage.database import (
    MIGRATIONS,
    SCHEMA_HEAD,
    create_db_engine,
    current_revisions,
    migrate,
)
from service.storage.store import Store
from tests.support.processes import finished

#: A started app (lifespan entered, as uvicorn does) reporting which of these it imported.
SERVED_MODULES = """
import asyncio, json, sys
from service.app import create_app

async def serve():
    app = create_app()
    async with app.router.lifespan_context(app):
        pass

asyncio.run(serve())
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def test_the_head_the_service_knows_is_alembics() -> None:
    assert set(ScriptDirectory(str(MIGRATIONS)).get_heads()) == {SCHEMA_HEAD}


def test_revisions_are_read_on_a_new_and_a_migrated_database(database_url: str) -> None:
    engine = create_db_engine(database_url)
    assert current_revisions(engine) == set()
    migrate(engine)
    assert current_revisions(engine) == {SCHEMA_HEAD}
    migrate(engine)  # at the head: nothing to do
    assert current_revisions(engine) == {SCHEMA_HEAD}


def served_modules(tmp_path: Path, database: Path) -> set[str]:
    result = finished(
        ["python", "-c", SERVED_MODULES],
        CDS_DATABASE_URL=f"sqlite:///{database}",
        CDS_LOG_LEVEL="WARNING",
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_a_worker_on_a_current_database_does_not_import_alembic(tmp_path: Path) -> None:
    database = tmp_path / "cds.db"
    assert "alembic" in served_modules(tmp_path, database)  # a new database: migrated
    Store.open(f"sqlite:///{database}").close()
    served = served_modules(tmp_path, database)
    assert "alembic" not in served and "mako" not in served
