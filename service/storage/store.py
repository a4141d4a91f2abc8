"""The service's own database: SQLAlchemy 2, schema managed by Alembic.

It holds the memory of cards already shown at order-select (so order-sign need
not repeat them), the JWT ids already accepted, the card log and the feedback
clients report. SQLite is the embedded default; PostgreSQL comes through
`CDS_DATABASE_URL`. Every worker and every restart sees the same data.

Writers never deadlock one another: each transaction touches its rows in one
order (sorted keys in a single `INSERT … ON CONFLICT`), expired rows are purged
in a transaction of their own that skips rows another worker holds, and a
transaction that still loses a deadlock or a serialization conflict runs again
(`database.retrying`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, String, any_, bindparam, delete, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import InstrumentedAttribute

from service.storage.database import (
    DatabaseUnavailable,
    check_schema,
    create_db_engine,
    migrate,
    redacted,
    retrying,
)
from service.storage.records import FeedbackRecord, IssuedCardRecord, week_of
from service.storage.tables import Base, Feedback, IssuedCard, ShownCard, Snooze, UsedToken

#: Advisory lock key that orders the writes of snoozes on PostgreSQL (`Store._snooze_cards`).
SNOOZE_LOCK = 0x0F00D5E7
OVERRIDDEN = "overridden"
#: Expired rows purged per transaction, so a purge never holds many locks.
PURGE_BATCH = 500
#: Expired rows are purged at most this often per table and process.
PURGE_INTERVAL = timedelta(minutes=1)


def fingerprint(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        postgres = engine.dialect.name == "postgresql"
        #: The dialect's INSERT, which offers `on_conflict_do_*` (SQLite and PostgreSQL).
        self._insert: Any = postgresql.insert if postgres else sqlite.insert
        self._purged_at: dict[str, datetime] = {}
        # The statements of every hook call, built once: building one costs more CPU than
        # running it (SQLAlchemy's coercions and cache key), executing a built one less.
        self._record_token = (
            self._insert(UsedToken)
            .values(issuer_jti=bindparam("issuer_jti"), expires_at=bindparam("expires_at"))
            .on_conflict_do_nothing(index_elements=["issuer_jti"])
            .returning(UsedToken.issuer_jti)
        )
        remember = self._insert(ShownCard).values(
            fingerprint=bindparam("fingerprint"), expires_at=bindparam("expires_at")
        )
        self._remember = remember.on_conflict_do_update(
            index_elements=["fingerprint"], set_={"expires_at": remember.excluded.expires_at}
        )
        self._shown = select(ShownCard.fingerprint).where(
            ShownCard.fingerprint.in_(bindparam("keys", expanding=True)),
            ShownCard.expires_at > bindparam("now"),
        )
        self._snoozed = select(Snooze.topic).where(
            Snooze.patient_key == bindparam("patient_key"),
            Snooze.issuer == bindparam("issuer"),
            Snooze.snoozed_at >= bindparam("since"),
        )
        self._insert_cards = self._insert(IssuedCard).on_conflict_do_nothing(
            index_elements=["card_uuid"]
        )
        self._add_feedback = (
            self._insert(Feedback)
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(Feedback.id)
        )
        self._snooze = _snooze_statement(self._insert, postgres)
        self._snooze_lock = select(func.pg_advisory_xact_lock(SNOOZE_LOCK)) if postgres else None

    @classmethod
    def open(cls, database_url: str, *, timeout_s: int = 3, migrate_schema: bool = True) -> Store:
        """Connect (within `timeout_s`), then migrate or check the schema.

        Raises `DatabaseUnavailable` with one line naming the database (no password).
        """
        engine = create_db_engine(database_url, timeout_s)
        try:
            if migrate_schema:
                migrate(engine)
            else:
                check_schema(engine)
        except DBAPIError as error:
            engine.dispose()
            reason = str(error.orig).strip().splitlines()[0] if error.orig else type(error).__name__
            raise DatabaseUnavailable(f"database {redacted(database_url)}: {reason}") from None
        except DatabaseUnavailable as error:
            engine.dispose()
            raise DatabaseUnavailable(f"database {redacted(database_url)}: {error}") from None
        return cls(engine)

    def close(self) -> None:
        """Release the connection pool (at shutdown)."""
        self.engine.dispose()

    def ping(self) -> None:
        """One round trip to the database; raises what the database raises."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    # The shown-card memory (order-sign de-duplication).

    def remember(self, keys: Iterable[str], now: datetime, ttl: timedelta) -> None:
        """Record cards as shown until `now + ttl`; expired rows are purged on the way."""
        rows = [{"fingerprint": key, "expires_at": now + ttl} for key in sorted(set(keys))]
        if rows:
            self._write((self._remember, rows))
        self._purge(ShownCard, ShownCard.fingerprint, ShownCard.expires_at, now)

    def shown(self, keys: Iterable[str], now: datetime) -> set[str]:
        """Which of `keys` are remembered and not expired (one query)."""
        wanted = sorted(set(keys))
        if not wanted:
            return set()
        with self.engine.connect() as connection:
            found = connection.execute(self._shown, {"keys": wanted, "now": now})
            return set(found.scalars())

    # The JWT replay memory.

    def first_use(self, issuer: str, jti: str, expires_at: datetime, now: datetime) -> bool:
        """Record a token id; True the first time, False when any worker recorded it before."""
        return bool(self.first_uses([(issuer, jti, expires_at)], now))

    def first_uses(
        self, tokens: Iterable[tuple[str, str, datetime]], now: datetime
    ) -> set[tuple[str, str]]:
        """Record (issuer, jti, expires_at) token ids in one transaction; the (issuer, jti)
        recorded now for the first time (none that any worker recorded before).

        One atomic `INSERT … ON CONFLICT DO NOTHING … RETURNING` on the primary key
        decides, so two workers racing on one replayed token cannot both accept it; a
        token given twice here is recorded, and returned, once. Raises when the database
        cannot answer: the caller then falls back to its own memory.
        """
        by_key = {
            fingerprint(issuer, jti): (issuer, jti, expires) for issuer, jti, expires in tokens
        }
        rows = [{"issuer_jti": key, "expires_at": by_key[key][2]} for key in sorted(by_key)]

        def work() -> set[str]:
            with self.engine.begin() as connection:
                return set(connection.execute(self._record_token, rows).scalars())

        inserted = retrying(work) if rows else set()
        self._purge(UsedToken, UsedToken.issuer_jti, UsedToken.expires_at, now)
        return {by_key[key][:2] for key in inserted}

    # The card log and feedback.

    def record_cards(self, records: Sequence[IssuedCardRecord]) -> None:
        """Add cards to the card log (one statement; a card already logged is left alone), and
        the snoozes of overrides already stored for them."""
        rows = [
            {
                "card_uuid": record.card_uuid,
                "issued_at": record.issued_at,
                "week": week_of(record.issued_at),
                "issuer": record.issuer,
                "patient_key": record.patient_key,
                "service_id": record.service_id,
                "hook": record.hook,
                "hook_instance": record.hook_instance,
                "topic": record.topic,
                "indicator": record.indicator,
                "suggestions": list(record.suggestion_uuids),
                "snoozable": record.snoozable,
            }
            for record in sorted(records, key=lambda item: item.card_uuid)
        ]
        if not rows:
            return
        snoozable = [record.card_uuid for record in records if record.snoozable]

        def work() -> None:
            # executemany: one compiled statement, the driver batches the rows.
            with self.engine.begin() as connection:
                connection.execute(self._insert_cards, rows)
                if snoozable:  # overrides that arrived before their card
                    self._snooze_cards(connection, snoozable)

        retrying(work)

    def add_feedback(self, records: Sequence[FeedbackRecord]) -> int:
        """Store feedback items; one already stored (same `dedupe_key`) is not stored again.

        Returns how many were new. Committed before it returns: acknowledged feedback
        survives a crash.
        """
        rows = {
            record.dedupe_key: {
                "dedupe_key": record.dedupe_key,
                "received_at": record.received_at,
                "issuer": record.issuer,
                "service_id": record.service_id,
                "card_uuid": record.card_uuid.lower(),
                "outcome": record.outcome,
                "outcome_at": record.outcome_at,
                "accepted_suggestions": sorted(id.lower() for id in record.accepted_suggestions),
                "reason_system": record.reason_system,
                "reason_code": record.reason_code,
                "has_comment": record.comment_digest is not None,
            }
            for record in records
        }
        if not rows:
            return 0
        overridden = sorted(
            {record.card_uuid.lower() for record in records if record.outcome == OVERRIDDEN}
        )

        def work() -> int:
            with self.engine.begin() as connection:
                stored = connection.execute(self._add_feedback, [rows[key] for key in sorted(rows)])
                new = len(stored.all())
                if overridden:  # the snoozes of overrides on cards the log holds already
                    self._snooze_cards(connection, overridden)
                return new

        return retrying(work)

    def snoozed_topics(self, issuer: str, patient_key: str, since: datetime) -> set[str]:
        """Topics the caller's users overrode for this patient since `since`, on cards that
        this issuer was given and that said overriding them snoozes the topic.

        One primary-key range of `snoozes`: its cost does not grow with the card log."""
        parameters = {"patient_key": patient_key, "issuer": issuer, "since": since}
        with self.engine.connect() as connection:
            return set(connection.execute(self._snoozed, parameters).scalars())

    def _snooze_cards(self, connection: Connection, card_uuids: list[str]) -> None:
        """Snooze the topics of these cards that have an override from their own issuer.

        The card log and the feedback each call this in their transaction, after writing
        their rows, so whichever commits second sees the other's. On PostgreSQL, whose
        statements see only what was committed before they began, an advisory lock (held to
        the commit) orders the two: without it, a card and its override written at the same
        time would each miss the other. SQLite runs one writer at a time anyway.
        """
        if self._snooze_lock is not None:
            connection.execute(self._snooze_lock)
        connection.execute(self._snooze, {"cards": card_uuids})

    # Transactions.

    def _write(self, *statements: Any) -> int:
        """Run write statements in one transaction, retried; the rows they changed.

        A statement is a statement, or a (statement, parameters) pair. An INSERT counts
        the rows it RETURNs: a multi-row INSERT's rowcount is not reliable across drivers
        (psycopg reports -1).
        """

        def changed(connection: Connection, statement: Any) -> int:
            result = (
                connection.execute(*statement)
                if isinstance(statement, tuple)
                else connection.execute(statement)
            )
            return len(result.all()) if result.returns_rows else max(result.rowcount, 0)

        def work() -> int:
            with self.engine.begin() as connection:
                return sum(changed(connection, statement) for statement in statements)

        return retrying(work) if statements else 0

    def _purge(
        self,
        table: type[Base],
        key: InstrumentedAttribute[Any],
        expires_at: InstrumentedAttribute[Any],
        now: datetime,
    ) -> None:
        """Delete a batch of expired rows now and then, skipping rows another worker holds."""
        last = self._purged_at.get(table.__tablename__)
        if last is not None and abs(now - last) < PURGE_INTERVAL:
            return
        self._purged_at[table.__tablename__] = now
        expired = (
            select(key)
            .where(expires_at <= now)
            .limit(PURGE_BATCH)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        self._write(delete(table).where(key.in_(expired)))


def _snooze_statement(insert: Any, postgres: bool) -> Any:
    """Upsert the snoozes of the cards `:cards` from their overrides: one row per patient,
    issuer and topic, holding the latest override (an older one never moves it back).

    The card uuids go as one value (an array; JSON on SQLite), not one parameter each: the
    statement's text is then the same for every batch, compiled and planned once, which made
    it ~5x cheaper for a batch of 200 cards on PostgreSQL."""
    if postgres:
        listed = IssuedCard.card_uuid == any_(bindparam("cards", type_=ARRAY(String)))
    else:
        uuids = func.json_each(bindparam("cards", type_=JSON)).table_valued("value")
        listed = IssuedCard.card_uuid.in_(select(uuids.c.value))
    overrides = (
        select(
            IssuedCard.patient_key,
            IssuedCard.issuer,
            IssuedCard.topic,
            func.max(Feedback.received_at),
        )
        .join(Feedback, Feedback.card_uuid == IssuedCard.card_uuid)
        .where(
            listed,
            IssuedCard.snoozable.is_(True),
            Feedback.issuer == IssuedCard.issuer,
            Feedback.outcome == OVERRIDDEN,
        )
        .group_by(IssuedCard.patient_key, IssuedCard.issuer, IssuedCard.topic)
    )
    upsert = insert(Snooze).from_select(["patient_key", "issuer", "topic", "snoozed_at"], overrides)
    return upsert.on_conflict_do_update(
        index_elements=["patient_key", "issuer", "topic"],
        set_={"snoozed_at": upsert.excluded.snoozed_at},
        where=Snooze.snoozed_at < upsert.excluded.snoozed_at,
    )
