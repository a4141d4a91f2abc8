"""The service's own database: SQLAlchemy 2, schema managed by Alembic.

Today it holds the memory of cards already shown at order-select, so that
order-sign need not repeat them (an EHR opts in per request). The memory keys
on a SHA-256 fingerprint of (user, patient, encounter, order, topic): no
patient identifier is stored in the clear. Rows expire; lookups ignore expired
rows and writes purge them. SQLite is the embedded default; PostgreSQL comes
through `CDS_DATABASE_URL`. Every worker and every restart sees the same memory.
"""

from __future__ import annotations

import fcntl
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import DateTime, String, create_engine, delete, event, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, ExceptionContext
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.pool import StaticPool

from service.observability.metrics import DATABASE_ERRORS

MIGRATIONS = Path(__file__).with_name("migrations")


class Base(DeclarativeBase):
    pass


class UsedToken(Base):
    """A JWT id (hashed with its issuer) that was accepted, kept until the token expires."""

    __tablename__ = "used_tokens"

    issuer_jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class ShownCard(Base):
    __tablename__ = "shown_cards"

    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


def _insert_for(dialect: str) -> Any:
    """The dialect's INSERT, which offers `on_conflict_do_nothing` (SQLite and PostgreSQL)."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def fingerprint(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def create_db_engine(database_url: str) -> Engine:
    if database_url in {"sqlite://", "sqlite:///:memory:"}:
        # One shared connection, or every connection would see a new empty database.
        engine = create_engine(
            database_url, poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
    else:
        engine = create_engine(database_url, pool_pre_ping=True)
    event.listen(engine, "handle_error", _count_error)
    return engine


def _count_error(context: ExceptionContext) -> None:
    """Every database error, connecting included, is counted for /metrics."""
    error = context.sqlalchemy_exception or context.original_exception
    DATABASE_ERRORS.labels(kind=type(error).__name__).inc()


#: Advisory lock key that serialises migrations of workers starting together on PostgreSQL.
MIGRATION_LOCK = 0x0F00D0C5


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


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def schema_revisions(engine: Engine) -> tuple[set[str], set[str]]:
    """(revisions the database is at, the latest revisions), read without changing anything."""
    heads = set(ScriptDirectory.from_config(_alembic_config()).get_heads())
    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    return current, heads


def migrate(engine: Engine) -> None:
    """Bring the schema to the latest Alembic revision, one worker at a time."""
    config = _alembic_config()
    with _sqlite_file_lock(engine), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, database_url: str) -> Store:
        engine = create_db_engine(database_url)
        migrate(engine)
        return cls(engine)

    def close(self) -> None:
        """Release the connection pool (at shutdown)."""
        self.engine.dispose()

    def ping(self) -> None:
        """One round trip to the database; raises what the database raises."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def remember(self, keys: list[str], now: datetime, ttl: timedelta) -> None:
        """Record cards as shown until `now + ttl`; expired rows are purged on the way."""
        try:
            self._upsert(keys, now, ttl)
        except IntegrityError:
            # Another worker inserted one of the same keys meanwhile; write over it.
            self._upsert(keys, now, ttl)

    def _upsert(self, keys: list[str], now: datetime, ttl: timedelta) -> None:
        with Session(self.engine) as session, session.begin():
            session.execute(delete(ShownCard).where(ShownCard.expires_at <= now))
            for key in set(keys):
                existing = session.get(ShownCard, key)
                if existing is None:
                    session.add(ShownCard(fingerprint=key, expires_at=now + ttl))
                else:
                    existing.expires_at = now + ttl

    def first_use(self, issuer: str, jti: str, expires_at: datetime, now: datetime) -> bool:
        """Record a token id; True the first time, False when any worker recorded it before.

        One atomic `INSERT … ON CONFLICT DO NOTHING` on the primary key decides, so two
        workers racing on one replayed token cannot both accept it. Raises when the
        database cannot answer: the caller then falls back to its own memory.
        """
        key = fingerprint(issuer, jti)
        insert = _insert_for(self.engine.dialect.name)
        statement = (
            insert(UsedToken)
            .values(issuer_jti=key, expires_at=expires_at)
            .on_conflict_do_nothing(index_elements=["issuer_jti"])
        )
        with Session(self.engine) as session, session.begin():
            session.execute(delete(UsedToken).where(UsedToken.expires_at <= now))
            result = session.execute(statement)
        return bool(getattr(result, "rowcount", 0))

    def was_shown(self, key: str, now: datetime) -> bool:
        with Session(self.engine) as session:
            found = session.scalar(
                select(ShownCard.fingerprint).where(
                    ShownCard.fingerprint == key, ShownCard.expires_at > now
                )
            )
        return found is not None
