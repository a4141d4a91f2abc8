"""The tables of the service's database (Alembic migrations in `migrations/versions` create them).

No patient identifier is stored in the clear: the shown-card memory and the card
log key on HMACs under CDS_PATIENT_HASH_KEY (`records.keyed_hash`, `patient_key`),
and feedback keeps the card uuid, never free text.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, DateTime, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


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


class IssuedCard(Base):
    """One card returned to a CDS client (the card log)."""

    __tablename__ = "issued_cards"

    card_uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    week: Mapped[date] = mapped_column(Date, index=True)
    """Monday (UTC) of the week the card was issued: the analytics' unit of time."""
    issuer: Mapped[str | None] = mapped_column(Text)
    """The verified JWT issuer; NULL with authentication off."""
    patient_key: Mapped[str] = mapped_column(String(64))
    """Not indexed: the snooze lookup reads `snoozes`, and no report groups by patient."""
    service_id: Mapped[str] = mapped_column(String(64))
    hook: Mapped[str] = mapped_column(String(32))
    hook_instance: Mapped[str] = mapped_column(String(36))
    topic: Mapped[str] = mapped_column(String(64))
    indicator: Mapped[str] = mapped_column(String(8))
    suggestions: Mapped[list[str]] = mapped_column(JSON)
    snoozable: Mapped[bool] = mapped_column(Boolean)
    """Whether overriding this card hides its topic for the patient (the card said so)."""


class Feedback(Base):
    """One feedback item as a CDS client reported it; the same report twice is one row."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    dedupe_key: Mapped[str] = mapped_column(String(64), unique=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    issuer: Mapped[str | None] = mapped_column(Text)
    service_id: Mapped[str] = mapped_column(String(64))
    card_uuid: Mapped[str] = mapped_column(String(36), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    outcome_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    accepted_suggestions: Mapped[list[Any]] = mapped_column(JSON)
    reason_system: Mapped[str | None] = mapped_column(String(256))
    reason_code: Mapped[str | None] = mapped_column(String(64))
    has_comment: Mapped[bool] = mapped_column(Boolean)
    """Whether the user wrote a comment; its text is not kept (it may name the patient)."""


class Snooze(Base):
    """A topic the issuer's users overrode for a patient, on a card that snoozes: the latest such
    override. Derived from the card log and the feedback (whichever arrives second writes it),
    so the lookup of a hook call reads a patient's few topics, never their whole card log."""

    __tablename__ = "snoozes"

    patient_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    issuer: Mapped[str] = mapped_column(Text, primary_key=True)
    topic: Mapped[str] = mapped_column(String(64), primary_key=True)
    snoozed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    """When the latest override arrived (`Feedback.received_at`); the snooze runs from it."""
