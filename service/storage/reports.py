"""What the analytics read: cards shown and their outcomes, per week and topic, as counts.

A card's outcome is the latest feedback its own issuer reported for it (by
`outcomeTimestamp`; a card accepted and later overridden counts as overridden),
and it is counted in the week the card was issued. Feedback for a card the log
does not hold (issued before the log existed, lost with a full queue, or sent by
another issuer) is counted apart, in the week it was received.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from sqlalchemy import and_, func, select, text
from sqlalchemy.engine import Connection

from service.storage.records import week_of
from service.storage.store import Store
from service.storage.tables import Feedback, IssuedCard

#: Statement timeout of the analytics queries (PostgreSQL), above the service's default.
REPORT_TIMEOUT_MS = 60_000


@dataclass(frozen=True)
class Shown:
    week: date
    topic: str
    cards: int


@dataclass(frozen=True)
class Outcome:
    """Cards of one week and topic whose latest feedback is this outcome and reason."""

    week: date
    topic: str | None
    """None: feedback on a card the log does not hold (`week` is then when it arrived)."""
    outcome: str
    reason_system: str | None
    reason_code: str | None
    cards: int


@dataclass(frozen=True)
class WeeklyOutcomes:
    shown: list[Shown]
    outcomes: list[Outcome]


def weekly_outcomes(store: Store, since: date) -> WeeklyOutcomes:
    """Counts for the weeks from `since` (a Monday) on."""
    with store.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"SET LOCAL statement_timeout = {REPORT_TIMEOUT_MS}"))
        return WeeklyOutcomes(
            shown=_shown(connection, since), outcomes=_outcomes(connection, since)
        )


def _shown(connection: Connection, since: date) -> list[Shown]:
    query = (
        select(IssuedCard.week, IssuedCard.topic, func.count())
        .where(IssuedCard.week >= since)
        .group_by(IssuedCard.week, IssuedCard.topic)
    )
    return [Shown(week, topic, count) for week, topic, count in connection.execute(query)]


def _outcomes(connection: Connection, since: date) -> list[Outcome]:
    ranked = select(
        Feedback.card_uuid,
        Feedback.issuer,
        Feedback.outcome,
        Feedback.reason_system,
        Feedback.reason_code,
        Feedback.received_at,
        func.row_number()
        .over(
            partition_by=(Feedback.card_uuid, Feedback.issuer),
            order_by=(Feedback.outcome_at.desc(), Feedback.id.desc()),
        )
        .label("rank"),
    ).subquery()
    latest = select(ranked).where(ranked.c.rank == 1).subquery()
    same_card = and_(
        latest.c.card_uuid == IssuedCard.card_uuid,
        latest.c.issuer.is_not_distinct_from(IssuedCard.issuer),
    )
    reason = (latest.c.outcome, latest.c.reason_system, latest.c.reason_code)
    known = (
        select(IssuedCard.week, IssuedCard.topic, *reason, func.count())
        .join(latest, same_card)
        .where(IssuedCard.week >= since)
        .group_by(IssuedCard.week, IssuedCard.topic, *reason)
    )
    outcomes = [Outcome(*row) for row in connection.execute(known)]
    unknown = (
        select(latest.c.received_at, *reason)
        .outerjoin(IssuedCard, same_card)
        .where(IssuedCard.card_uuid.is_(None))
        .where(latest.c.received_at >= datetime.combine(since, time(), UTC))
    )
    arrived: Counter[tuple[date, str, str | None, str | None]] = Counter(
        (week_of(_aware(received)), outcome, system, code)
        for received, outcome, system, code in connection.execute(unknown)
    )
    outcomes += [
        Outcome(week, None, outcome, system, code, count)
        for (week, outcome, system, code), count in arrived.items()
    ]
    return outcomes


def _aware(moment: datetime) -> datetime:
    """SQLite returns naive datetimes (stored as UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
