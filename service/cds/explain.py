"""The rule trace of one call, as an integrator or a CDS committee reads it.

For every topic of the hook (order hooks: every topic for every order checked),
whether its card fired and, if not, the first condition that stopped it, in the
words of `cards/stop_reasons.toml`; the features and records (`Type/id`) the
decision read; and, for the call, where each prefetch key's data came from and
which records could not be read. It is made from the pipeline's own decisions
(`service.clinical.trace`), never by running the rules a second time.

`footdrop-cds explain` prints it; the request extension `EXPLAIN` set to true
adds it to the response's `extension`, only where `CDS_EXPLAIN=true`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from cards.model import Card
from cards.stops import StopReasons
from service.cds.models import HookRequest, PatientViewContext
from service.cds.prefetch import fill_template
from service.cds.services import ServiceSpec
from service.clinical.recommendation import Indicator, Recommendation
from service.clinical.thresholds import ClinicalThresholds
from service.clinical.trace import Decision
from service.fhir.patient_data import PatientData

#: Request extension (CDS Hooks `extension`) asking for the rule trace; also the key of
#: the response's `extension` that carries it.
EXPLAIN = "org.footdrop-cds.explain"

KeyStatus = Literal["supplied", "fetched", "missing", "not-requested"]
"""`supplied` in the request's prefetch; `fetched` from fhirServer; `missing`: neither
(cards then say the data could not be seen); `not-requested`: the query needs a context
value the request lacks (an encounter)."""

CrossCallState = Literal["not-kept", "applied", "database-unavailable"]
"""Snoozes and the shown-card memory: `not-kept` for an unverified caller (authentication
off), `applied`, or `database-unavailable` (every card shown as the rules made it)."""


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TopicTrace(_Out):
    topic: str
    order: str | None = None
    """`Type/id` of the order checked (order-select, order-sign)."""
    fired: bool
    indicator: Indicator | None = None
    stopped_by: str | None = None
    """The stopping condition's code (docs/clinical.md, "Why a card did not fire")."""
    reason: str
    """The card's summary when it fired; else the condition's sentence."""
    features: list[str]
    """Features the decision read, in the order read."""
    records: list[str]
    """`Type/id` of the records it rested on (first) or read."""


class PrefetchKeyTrace(_Out):
    key: str
    status: KeyStatus
    unreadable: bool = False
    """The request's value for this key could not be used (an OperationOutcome, not a
    resource), so it was fetched, or is missing."""
    partial: bool = False
    """Read in part: a cap (pages, entries) left resources out."""


class Trace(_Out):
    service: str
    hook: str
    topics: list[TopicTrace]
    prefetch: list[PrefetchKeyTrace]
    unreadable: list[str]
    """Records, or fields of them, that were present but could not be read."""
    cross_call_state: CrossCallState


def requested(request: HookRequest) -> bool:
    """Whether the request asks for the trace (honoured only with CDS_EXPLAIN=true)."""
    return (request.extension or {}).get(EXPLAIN) is True


def build(
    stops: StopReasons,
    thresholds: ClinicalThresholds,
    spec: ServiceSpec,
    context: PatientViewContext,
    data: PatientData,
    decisions: Sequence[Decision],
    shown: Sequence[tuple[Recommendation, Card]],
    cross_call_state: CrossCallState,
) -> Trace:
    """The trace of one call from what the pipeline decided and showed; the conditions'
    sentences name the configured thresholds."""
    settings = setting_values(thresholds)

    def topic(decision: Decision) -> TopicTrace:
        outcome = decision.outcome
        card = next((c for rec, c in shown if rec is outcome), None)
        condition = decision.stopped_by
        return TopicTrace(
            topic=decision.topic,
            order=decision.order,
            fired=card is not None,
            indicator=outcome.indicator if isinstance(outcome, Recommendation) else None,
            stopped_by=condition,
            reason=card.summary if card is not None else stops.reason(condition or "", settings),
            features=list(decision.read),
            records=list(decision.records),
        )

    unreadable = [*data.unreadable, *(u for d in decisions for u in d.features.unreadable)]
    return Trace(
        service=spec.id,
        hook=spec.hook,
        topics=[topic(d) for d in decisions],
        prefetch=[
            _key_status(name, key.query, context, data) for name, key in spec.prefetch.items()
        ],
        unreadable=list(
            dict.fromkeys(f"{u.resource_type}/{u.resource_id} {u.field}" for u in unreadable)
        ),
        cross_call_state=cross_call_state,
    )


def setting_values(thresholds: ClinicalThresholds) -> dict[str, object]:
    """What a condition's sentence may name: each clinical setting, and the configured
    label's contraindicating creatinine clearance range."""
    return {**thresholds.model_dump(), "crcl_range": thresholds.crcl_range}


def _key_status(
    name: str, query: str, context: PatientViewContext, data: PatientData
) -> PrefetchKeyTrace:
    status: KeyStatus
    if fill_template(query, context) is None:
        status = "not-requested"
    elif name in data.unavailable:
        status = "missing"
    elif name in data.fetched:
        status = "fetched"
    else:
        status = "supplied"
    return PrefetchKeyTrace(
        key=name,
        status=status,
        unreadable=name in data.prefetch_unreadable,
        partial=name in data.partial,
    )
