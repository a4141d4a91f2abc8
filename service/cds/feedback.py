"""`POST /cds-services/{id}/feedback`: what clinicians did with the cards (F-1 to F-5).

The body is checked strictly (CDS Hooks 2.0 §Feedback and the 3.0 invariants
cds-fb-1 to cds-fb-3): `card` a uuid, `outcome` accepted or overridden,
`acceptedSuggestions` (suggestion uuids) required with accepted and only there,
`overrideReason` only with overridden and holding a `reason` Coding (code and
system; display optional, as the sandbox sends none), a `userComment`, or both,
and `outcomeTimestamp` an RFC 3339 instant with its offset. Any other shape is
a 400 OperationOutcome naming the field.

Reasons are not limited to the ones our cards offer: a CDS client MAY add its
own (CDS Hooks 2.0, overrideReasons), so any well-formed Coding is kept and the
analytics map the ones they know. A comment's text is never stored (it may name
the patient), only that there was one.

Feedback is committed before the 200 `{}` goes out, so an acknowledged report
survives a crash; the same report sent again is stored once; a card uuid the log
does not know (issued before a restart, or by another deployment) is kept too.
When the database cannot take it, the answer is 503 and the client may resend.
"""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictStr,
    ValidationError,
    model_validator,
)

from service.cds.engine import Engine
from service.cds.errors import BadRequest, ServiceUnavailable, describe_validation_error
from service.cds.models import UUID, Caller
from service.cds.services import ServiceSpec
from service.storage.database import DatabaseUnavailable
from service.storage.records import FeedbackRecord

log = logging.getLogger("service")

MAX_ITEMS = 100
RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?P<fraction>\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})$"
)
#: How long feedback waits for cards this worker issued earlier to reach the log.
CARD_LOG_FLUSH_S = 1.0


def parse_instant(text: str) -> datetime | None:
    """An RFC 3339 date-time with its offset, in UTC; None if it is not one (or no real date)."""
    match = RFC3339.match(text)
    if match is None:
        return None
    fraction = match.group("fraction") or ""
    # Python keeps microseconds: nanoseconds are cut off.
    normal = text.upper().replace(fraction, fraction[:7]).replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(normal).astimezone(UTC)
    except (ValueError, OverflowError):  # 2021-02-30; year 1 with a positive offset
        return None


class _Inbound(BaseModel):
    # Unknown members (such as `extension`) are tolerated and ignored, as in hook requests.
    model_config = ConfigDict(extra="allow")


class ReasonCoding(_Inbound):
    system: StrictStr = Field(min_length=1, max_length=256, pattern=r"^\S+$")
    code: StrictStr = Field(min_length=1, max_length=64, pattern=r"^\S+( \S+)*$")
    display: StrictStr | None = Field(default=None, max_length=1000)


class OverrideReason(_Inbound):
    reason: ReasonCoding | None = None
    userComment: StrictStr | None = Field(default=None, max_length=10_000)

    @model_validator(mode="after")
    def _reason_or_comment(self) -> OverrideReason:
        if self.reason is None and not self.userComment:
            raise ValueError("an overrideReason needs a reason, a userComment or both")
        return self


class AcceptedSuggestion(_Inbound):
    id: StrictStr = Field(pattern=UUID.pattern)


class FeedbackItem(_Inbound):
    card: StrictStr = Field(pattern=UUID.pattern)
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[AcceptedSuggestion] | None = Field(default=None, max_length=50)
    overrideReason: OverrideReason | None = None
    outcomeTimestamp: StrictStr
    _outcome_at: datetime = PrivateAttr()

    @model_validator(mode="after")
    def _outcome_fields(self) -> FeedbackItem:
        if self.outcome == "accepted" and not self.acceptedSuggestions:
            raise ValueError("an accepted outcome requires acceptedSuggestions")
        if self.outcome == "overridden" and self.acceptedSuggestions is not None:
            raise ValueError("acceptedSuggestions belong to an accepted outcome only")
        if self.outcome == "accepted" and self.overrideReason is not None:
            raise ValueError("an overrideReason belongs to an overridden outcome only")
        instant = parse_instant(self.outcomeTimestamp)
        if instant is None:
            raise ValueError("outcomeTimestamp must be an RFC 3339 date-time with its offset")
        self._outcome_at = instant
        return self

    @property
    def outcome_at(self) -> datetime:
        return self._outcome_at


class FeedbackRequest(_Inbound):
    feedback: list[FeedbackItem] = Field(min_length=1, max_length=MAX_ITEMS)


def parse_feedback(payload: dict[str, Any]) -> FeedbackRequest:
    try:
        return FeedbackRequest.model_validate(payload)
    except ValidationError as error:
        raise BadRequest(describe_validation_error(error)) from None


def records(
    request: FeedbackRequest, spec: ServiceSpec, caller: Caller, now: datetime
) -> list[FeedbackRecord]:
    """One record per item, as the store keeps it."""
    out = []
    for item in request.feedback:
        override = item.overrideReason
        reason = override.reason if override else None
        comment = override.userComment if override else None
        out.append(
            FeedbackRecord(
                issuer=caller.issuer,
                service_id=spec.id,
                card_uuid=item.card,
                outcome=item.outcome,
                outcome_at=item.outcome_at,
                accepted_suggestions=[s.id for s in item.acceptedSuggestions or ()],
                reason_system=reason.system if reason else None,
                reason_code=reason.code if reason else None,
                comment_digest=hashlib.sha256(comment.encode()).hexdigest() if comment else None,
                received_at=now,
            )
        )
    return out


async def receive(
    engine: Engine, spec: ServiceSpec, request: FeedbackRequest, caller: Caller
) -> None:
    """Store the feedback (committed) or raise `ServiceUnavailable`."""
    items = records(request, spec, caller, engine.clock())

    def store() -> int:
        # Cards this worker issued before the feedback reach the log first.
        engine.card_log.flush(CARD_LOG_FLUSH_S)
        return engine.store.add_feedback(items)

    budget = CARD_LOG_FLUSH_S + engine.settings.database_timeout_s * 2
    try:
        new = await engine.guard.run("feedback", store, budget_s=budget, fail_fast=False)
    except DatabaseUnavailable:
        raise ServiceUnavailable("feedback could not be stored now; send it again later") from None
    log.info("feedback for %s: %d items, %d new", spec.id, len(items), new)
