"""One hook call, from request to cards, readable top to bottom.

    HookRequest ─prefetch.resolve→ PatientData ─features.extract→ PatientFeatures
      ─patient_view / order_checks.decide→ list[Decision] ─cross-call state→
      ─fired ones: list[Recommendation] ─cards.render→ list[Card] ─card log→ CdsResponse

Every topic's `Decision` is kept (fired, or the condition that stopped it), and the
cross-call state turns a card it leaves out into a stopped decision; the rule
trace (`service.cds.explain`) is made from them. It goes into the response's
`extension` only when the request carries `explain.EXPLAIN` set to true and
CDS_EXPLAIN=true (off by default).

Only `prefetch.resolve` and the cross-call state do I/O; everything between is a
pure function of the data and the request time, run off the event loop
for a large record (on it for a small one, where a thread hand-off costs more). What
differs between services (which rules, which drafts, the shown-card memory)
comes from the service definition, not from the hook's name.

State across calls is kept only for a verified caller and keyed by its issuer,
so no caller can change what another is shown (with authentication off none is
kept), and it never removes a critical card:

- order-sign de-duplication: every card shown at order-select is remembered (as
  an HMAC, under CDS_PATIENT_HASH_KEY, of the issuer, fhirServer, user, patient,
  encounter, order and topic);
  an order-sign request that carries the extension `SUPPRESS_REPEATS` set to
  true does not get the non-critical ones again (clinical-logic v3 §4: signing
  is the last safety net).
- snoozes: a snoozable card (its template says so, and it is not critical) that
  one of the issuer's users overrode is not shown again for that patient and
  fhirServer for CDS_SNOOZE_DAYS.

The database answers these within `CDS_DATABASE_HOOK_BUDGET_S` or not at all:
without it every card is shown. Every card returned is put on the card log's
queue, which costs microseconds and never fails the call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from cards.model import Card
from cards.render import render
from mappings.fhirjson import without_empty_values
from service.cds import explain, prefetch
from service.cds.engine import Engine
from service.cds.errors import BadRequest, describe_validation_error
from service.cds.explain import Trace
from service.cds.models import (
    HOOK_CONTEXTS,
    Caller,
    CdsResponse,
    HookRequest,
    PatientViewContext,
)
from service.cds.services import ServiceSpec
from service.clinical import order_checks, patient_view
from service.clinical.features import read_record
from service.clinical.orders import review
from service.clinical.recommendation import Recommendation
from service.clinical.trace import SHOWN_AT_ORDER_SELECT, SNOOZED, Decision
from service.clinical.trace import cards as shown
from service.fhir.patient_data import PatientData
from service.storage.database import DatabaseUnavailable
from service.storage.records import IssuedCardRecord, keyed_hash, patient_key

#: Request extension (CDS Hooks `extension`, reverse-domain key) by which an EHR
#: asks order-sign not to repeat cards already shown at order-select.
SUPPRESS_REPEATS = "org.footdrop-cds.suppress-repeated-cards"
#: Records of up to this many resources are decided and rendered on the event loop (a few
#: milliseconds at most). A worker owns one core: handing the work to a thread gains no
#: parallelism, and under load the two threads' turns at the GIL cost more than the hop.
INLINE_RESOURCES = 1000

_Result = TypeVar("_Result")


def parse_context(spec: ServiceSpec, request: HookRequest) -> PatientViewContext:
    """Check the hook is the one this service serves, then validate its context."""
    if request.hook != spec.hook:
        raise BadRequest(f"this service serves the {spec.hook} hook only")
    try:
        return HOOK_CONTEXTS[spec.hook].model_validate(request.context)
    except ValidationError as exc:
        raise BadRequest(describe_validation_error(exc, prefix="context")) from None


@dataclass(frozen=True)
class Answer:
    """The response to one call, and how to make the trace of how it was made."""

    response: CdsResponse
    _trace: Callable[[], Trace]

    def trace(self) -> Trace:
        return self._trace()


async def run(
    engine: Engine,
    spec: ServiceSpec,
    request: HookRequest,
    caller: Caller,
    *,
    issued: bool = True,
) -> CdsResponse:
    """The cards for one call; with CDS_EXPLAIN=true and the request's `EXPLAIN` extension,
    the rule trace in the response's `extension`. `issued=False`: they go to no clinician
    (the card gallery's examples), so the card log leaves them out."""
    traced = engine.settings.explain and explain.requested(request)
    answer = await answer_call(engine, spec, request, caller, issued=issued, observe=traced)
    if traced:
        # G-2: no null or empty value anywhere in a response (a topic that read no record
        # has no `records`).
        trace = without_empty_values(answer.trace().model_dump(mode="json"))
        return answer.response.model_copy(update={"extension": {explain.EXPLAIN: trace}})
    return answer.response


async def answer_call(
    engine: Engine,
    spec: ServiceSpec,
    request: HookRequest,
    caller: Caller,
    *,
    issued: bool = True,
    observe: bool = False,
) -> Answer:
    """The cards for one call, and the trace of every topic's decision behind them
    (`observe`: with the features each rule read)."""
    context = parse_context(spec, request)
    now = engine.clock()
    data = await prefetch.resolve(
        spec.prefetch, request, context, engine.transport, engine.settings.fhir_limits, now
    )
    # A record up to INLINE_RESOURCES is decided and rendered on the event loop; only a
    # larger one goes to a worker thread, so that the loop keeps answering meanwhile.
    off_loop = sum(map(len, data.resources.values())) > INLINE_RESOURCES
    decisions = await _run(off_loop, decide, engine, spec, data, observe)
    state: explain.CrossCallState = "not-kept"
    if caller.verified:
        decisions, state = await _cross_call_state(
            engine, spec, request, caller, data, decisions, now
        )
    recommendations = shown(decisions)
    cards = await _run(
        off_loop,
        render,
        recommendations,
        data,
        engine.catalogue,
        hook=spec.hook,
        docs_url=engine.docs_url,
        snooze_days=engine.snooze_days,
    )
    if issued:
        logged = _log_entries(engine, spec, request, caller, data, recommendations, cards, now)
        engine.card_log.record(logged)
    pairs = list(zip(recommendations, cards, strict=True))
    stops, thresholds = engine.catalogue.stops, engine.settings.clinical
    trace = partial(explain.build, stops, thresholds, spec, context, data, decisions, pairs, state)
    return Answer(CdsResponse(cards=cards), trace)


async def _run(off_loop: bool, work: Callable[..., _Result], *args: Any, **kwargs: Any) -> _Result:
    if off_loop:
        return await run_in_threadpool(work, *args, **kwargs)
    return work(*args, **kwargs)


def decide(
    engine: Engine, spec: ServiceSpec, data: PatientData, observe: bool = False
) -> list[Decision]:
    """The service's rules, every topic's decision: patient-view cards, or checks of the
    orders being written."""
    thresholds = engine.settings.clinical
    record = read_record(data, engine.index, engine.patterns, thresholds)
    if spec.rules == "patient-view":
        return patient_view.decide(record.features(), data.now, thresholds, observe=observe)
    checked = data.selected_orders if spec.orders == "selections" else data.draft_orders
    reviews = review(record, checked)
    return order_checks.decide(reviews, data.now, thresholds, observe=observe)


async def _cross_call_state(
    engine: Engine,
    spec: ServiceSpec,
    request: HookRequest,
    caller: Caller,
    data: PatientData,
    decisions: list[Decision],
    now: datetime,
) -> tuple[list[Decision], explain.CrossCallState]:
    """Remember shown cards, or leave out repeats and snoozed topics (never a critical card)."""
    store, guard = engine.store, engine.guard
    fired = [(d, d.outcome) for d in decisions if isinstance(d.outcome, Recommendation)]
    keys = [_shown_key(engine, caller, request, data, rec) for _, rec in fired]
    left_out: dict[int, str] = {}  # id of a decision -> the condition that leaves it out
    try:
        if spec.shown_cards == "remember" and keys:
            ttl = timedelta(seconds=engine.settings.shown_card_ttl_s)
            await guard.run("shown-card memory", lambda: store.remember(keys, now, ttl))
        elif spec.shown_cards == "suppress-repeats" and _suppress_repeats(request):
            seen = await guard.run("shown-card memory", lambda: store.shown(keys, now))
            for (d, rec), key in zip(fired, keys, strict=True):
                if rec.indicator != "critical" and key in seen:
                    left_out[id(d)] = SHOWN_AT_ORDER_SELECT
        snoozable = [
            (d, rec) for d, rec in fired if id(d) not in left_out and _snoozes(engine, rec)
        ]
        if engine.snooze_days is not None and snoozable:
            issuer, patient = caller.issuer or "", _patient_key(engine, request, data)
            since = now - timedelta(days=engine.snooze_days)
            snoozed = await guard.run(
                "snoozes", lambda: store.snoozed_topics(issuer, patient, since)
            )
            left_out.update({id(d): SNOOZED for d, rec in snoozable if rec.topic in snoozed})
        state: explain.CrossCallState = "applied"
    except DatabaseUnavailable:
        state = "database-unavailable"  # logged and counted by the guard: cards shown as they are
    return [d.stop(left_out[id(d)]) if id(d) in left_out else d for d in decisions], state


def _snoozes(engine: Engine, rec: Recommendation) -> bool:
    """Whether overriding this card snoozes its topic (never a critical card)."""
    return engine.catalogue.templates[rec.topic].snoozes_at(rec.indicator)


def _patient_key(engine: Engine, request: HookRequest, data: PatientData) -> str:
    return patient_key(engine.settings.hash_key, request.fhirServer, data.patient_id)


def _log_entries(
    engine: Engine,
    spec: ServiceSpec,
    request: HookRequest,
    caller: Caller,
    data: PatientData,
    recommendations: Sequence[Recommendation],
    cards: Sequence[Card],
    now: datetime,
) -> list[IssuedCardRecord]:
    """The card log's view of the cards returned (rendered in the rules' order)."""
    patient = _patient_key(engine, request, data)
    snoozing = engine.snooze_days is not None
    return [
        IssuedCardRecord(
            card_uuid=card.uuid,
            suggestion_uuids=tuple(suggestion.uuid for suggestion in card.suggestions or ()),
            service_id=spec.id,
            hook=spec.hook,
            hook_instance=request.hookInstance,
            topic=rec.topic,
            indicator=rec.indicator,
            issued_at=now,
            issuer=caller.issuer,
            patient_key=patient,
            snoozable=snoozing and _snoozes(engine, rec),
        )
        for rec, card in zip(recommendations, cards, strict=True)
    ]


def _shown_key(
    engine: Engine, caller: Caller, request: HookRequest, data: PatientData, rec: Recommendation
) -> str:
    return keyed_hash(
        engine.settings.hash_key,
        caller.issuer or "",
        request.fhirServer or "",
        data.user_id or "",
        data.patient_id,
        data.encounter_id or "",
        rec.about_order or "",
        rec.topic,
    )


def _suppress_repeats(request: HookRequest) -> bool:
    extension = request.extension or {}
    return extension.get(SUPPRESS_REPEATS) is True
