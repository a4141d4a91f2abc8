"""The database connection: timeouts, SQLite's WAL, Alembic migrations, retried transactions.

Every connection is bounded: PostgreSQL gets `connect_timeout` and server-side
`statement_timeout` / `lock_timeout`; SQLite gets a busy timeout. A database that
never answers therefore fails start-up after the timeout instead of hanging it, and
a transaction that loses a deadlock or a serialization conflict (or finds SQLite
locked) is run again a few times before its error is raised.

The SQLite file runs in WAL mode with `synchronous=NORMAL`: readers never wait for
the writer, writers do not wait for a disk flush, and a transaction that returned
survives the process being killed (it is in the WAL, which the next start replays);
only a power loss or an operating-system crash may take the last transactions
with it. Deployments that need more use PostgreSQL.
"""

from __future__ import annotations

import fcntl
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, ExceptionContext, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import StaticPool

from service.observability.metrics import DATABASE_ERRORS

MIGRATIONS = Path(__file__).with_name("migrations")
#: Advisory lock key that serialises migrations of workers starting together on PostgreSQL.
MIGRATION_LOCK = 0x0F00D0C5
#: psycopg's classes of the PostgreSQL errors after which a transaction can simply run
#: again (SQLSTATE class 40: deadlock_detected, serialization_failure).
RETRYABLE_ERRORS = frozenset({"DeadlockDetected", "SerializationFailure"})
ATTEMPTS = 4

_Result = TypeVar("_Result")


class DatabaseUnavailable(Exception):
    """The database did not answer in time or failed; the message is one line for an operator."""


def redacted(database_url: str) -> str:
    """The URL without its password, for messages."""
    return make_url(database_url).render_as_string(hide_password=True)


def create_db_engine(database_url: str, timeout_s: int = 3) -> Engine:
    """An engine whose connections time out, for SQLite (file or memory) or PostgreSQL.

    Every error it raises, connecting included, is counted for /metrics.
    """
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        engine = _sqlite_engine(database_url, timeout_s)
    else:
        timeouts = f"-c statement_timeout={timeout_s * 1000} -c lock_timeout={timeout_s * 1000}"
        given = url.query.get("options") or ()
        options = " ".join([*((given,) if isinstance(given, str) else given), timeouts])
        engine = create_engine(
            url.update_query_dict({"options": options}),
            connect_args={"connect_timeout": timeout_s},
            pool_pre_ping=True,
            pool_timeout=timeout_s,
        )
    event.listen(engine, "handle_error", _count_error)
    return engine


def _count_error(context: ExceptionContext) -> None:
    error = context.sqlalchemy_exception or context.original_exception
    DATABASE_ERRORS.labels(kind=type(error).__name__).inc()


def _sqlite_engine(database_url: str, timeout_s: int) -> Engine:
    if database_url in {"sqlite://", "sqlite:///:memory:"}:
        # One shared connection, or every connection would see a new empty database.
        return create_engine(
            database_url, poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
    engine = create_engine(database_url, connect_args={"timeout": timeout_s})

    @event.listens_for(engine, "connect")
    def _wal(connection: Any, _: object) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


def is_retryable(error: Exception) -> bool:
    """A deadlock or serialization failure (PostgreSQL), or a locked SQLite file."""
    if not isinstance(error, DBAPIError):
        return False
    if type(error.orig).__name__ in RETRYABLE_ERRORS:
        return True
    return isinstance(error, OperationalError) and "database is locked" in str(error.orig)


def retrying(work: Callable[[], _Result], attempts: int = ATTEMPTS) -> _Result:
    """Run one transaction's `work`, again after a retryable failure, with a short jitter."""
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except DBAPIError as error:
            if attempt == attempts or not is_retryable(error):
                raise
            time.sleep(random.uniform(0.005, 0.02) * attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@contextmanager
def _sqlite_file_lock(engine: Engine) -> Iterator[None]:
    """An exclusive lock beside a SQLite file: SQLite has no advisory locks of its own."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate-lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to the latest Alembic revision (or an older `revision`, for tests of
    a migration's data), one worker at a time."""
    config = _alembic_config()
    with _sqlite_file_lock(engine), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def schema_revisions(engine: Engine) -> tuple[set[str], set[str]]:
    """(revisions the database is at, the latest revisions), read without changing anything."""
    heads = set(ScriptDirectory.from_config(_alembic_config()).get_heads())
    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    return current, heads


def check_schema(engine: Engine) -> None:
    """Raise `DatabaseUnavailable` unless the schema is at the latest revision."""
    current, heads = schema_revisions(engine)
    if current != heads:
        raise DatabaseUnavailable(
            f"the database schema is at {sorted(current) or 'no revision'}, not {sorted(heads)}: "
            "run `footdrop-cds migrate`"
        )
