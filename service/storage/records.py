"""What the service writes about cards and feedback, as plain values the store persists.

Patients appear only as `patient_key`: an HMAC-SHA256, under the deployment's
secret `CDS_PATIENT_HASH_KEY`, of the patient id with the FHIR server it belongs
to. The same patient on the same server always gets the same key (so snoozes
and analytics can group by patient); without the secret the id cannot be
recovered or tested for, unlike a plain hash of a short identifier.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta


def keyed_hash(secret: bytes, *parts: str) -> str:
    """HMAC-SHA256 of the parts (joined by a unit separator), in hex."""
    return hmac.new(secret, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()


def patient_key(secret: bytes, fhir_server: str | None, patient_id: str) -> str:
    """The HMAC of (FHIR server, patient id); a trailing slash does not change the server."""
    return keyed_hash(secret, (fhir_server or "").rstrip("/"), patient_id)


def week_of(moment: datetime) -> date:
    """The Monday (UTC) of the week `moment` falls in."""
    day = moment.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True)
class IssuedCardRecord:
    """One card returned to a CDS client."""

    card_uuid: str
    suggestion_uuids: tuple[str, ...]
    service_id: str
    hook: str
    hook_instance: str
    topic: str
    indicator: str
    issued_at: datetime
    issuer: str | None
    patient_key: str
    snoozable: bool


@dataclass(frozen=True)
class FeedbackRecord:
    """One feedback item, validated; `comment_digest` stands for a comment's text."""

    issuer: str | None
    service_id: str
    card_uuid: str
    outcome: str
    outcome_at: datetime
    accepted_suggestions: Sequence[str]
    reason_system: str | None
    reason_code: str | None
    comment_digest: str | None
    received_at: datetime

    @property
    def dedupe_key(self) -> str:
        """Equal for the same report sent again (same caller, card, outcome, time and choice)."""
        parts = (
            self.issuer or "",
            self.card_uuid.lower(),
            self.outcome,
            self.outcome_at.astimezone(UTC).isoformat(),
            ",".join(sorted(item.lower() for item in self.accepted_suggestions)),
            self.reason_system or "",
            self.reason_code or "",
            self.comment_digest or "",
        )
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
