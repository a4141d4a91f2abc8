"""One hook call, from request to cards, readable top to bottom.

    HookRequest ─prefetch.resolve→ PatientData ─features.extract→ PatientFeatures
      ─patient_view / order_checks→ list[Recommendation] ─cross-call state→
      ─cards.render→ list[Card] ─card log→ CdsResponse

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
from datetime import datetime, timedelta
from typing import Any, TypeVar

from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from cards.model import Card
from cards.render import render
from service.cds import prefetch
from service.cds.engine import Engine
from service.cds.errors import BadRequest, describe_validation_error
from service.cds.models import (
    HOOK_CONTEXTS,
    Caller,
    CdsResponse,
    HookRequest,
    PatientViewContext,
)
from service.cds.services import ServiceSpec
from service.clinical.features import read_record
from service.clinical.order_checks import check_orders
from service.clinical.orders import review
from service.clinical.patient_view import recommend
from service.clinical.recommendation import Recommendation
from service.fhir.patient_data import PatientData
from service.storage.database import DatabaseUnavailable
from service.storage.records import IssuedCardRecord, keyed_hash, patient_key

#: Request extension (CDS Hooks `extension`, reverse-domain key) by which an EHR
#: asks order-sign not to repeat cards already shown at order-select.
SUPPRESS_REPEATS = "org.footdrop-cds.suppress-repeated-cards"
#: Records of up to this many resources are decided and rendered on the event loop.
INLINE_RESOURCES = 100

_Result = TypeVar("_Result")


def parse_context(spec: ServiceSpec, request: HookRequest) -> PatientViewContext:
    """Check the hook is the one this service serves, then validate its context."""
    if request.hook != spec.hook:
        raise BadRequest(f"this service serves the {spec.hook} hook only")
    try:
        return HOOK_CONTEXTS[spec.hook].model_validate(request.context)
    except ValidationError as exc:
        raise BadRequest(describe_validation_error(exc, prefix="context")) from None


async def run(
    engine: Engine,
    spec: ServiceSpec,
    request: HookRequest,
    caller: Caller,
    *,
    issued: bool = True,
) -> CdsResponse:
    """The cards for one call. `issued=False`: they go to no clinician (the card gallery's
    examples), so the card log leaves them out."""
    context = parse_context(spec, request)
    now = engine.clock()
    data = await prefetch.resolve(
        spec.prefetch, request, context, engine.transport, engine.settings.fhir_limits, now
    )
    # A small record is decided and rendered on the event loop (well under a millisecond
    # each); a hand-off to a worker thread and back would cost about as much as the work.
    off_loop = sum(map(len, data.resources.values())) > INLINE_RESOURCES
    recommendations = await _run(off_loop, decide, engine, spec, data)
    if caller.verified:
        recommendations = await _cross_call_state(
            engine, spec, request, caller, data, recommendations, now
        )
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
    return CdsResponse(cards=cards)


async def _run(off_loop: bool, work: Callable[..., _Result], *args: Any, **kwargs: Any) -> _Result:
    if off_loop:
        return await run_in_threadpool(work, *args, **kwargs)
    return work(*args, **kwargs)


def decide(engine: Engine, spec: ServiceSpec, data: PatientData) -> list[Recommendation]:
    """The service's rules: patient-view cards, or checks of the orders being written."""
    thresholds = engine.settings.clinical
    record = read_record(data, engine.index, engine.patterns, thresholds)
    if spec.rules == "patient-view":
        return recommend(record.features(), data.now, thresholds)
    checked = data.selected_orders if spec.orders == "selections" else data.draft_orders
    return check_orders(review(record, checked), data.now, thresholds)


async def _cross_call_state(
    engine: Engine,
    spec: ServiceSpec,
    request: HookRequest,
    caller: Caller,
    data: PatientData,
    recommendations: list[Recommendation],
    now: datetime,
) -> list[Recommendation]:
    """Remember shown cards, or leave out repeats and snoozed topics (never a critical card)."""
    store, guard = engine.store, engine.guard
    keys = [_shown_key(engine, caller, request, data, rec) for rec in recommendations]
    try:
        if spec.shown_cards == "remember" and keys:
            ttl = timedelta(seconds=engine.settings.shown_card_ttl_s)
            await guard.run("shown-card memory", lambda: store.remember(keys, now, ttl))
        elif spec.shown_cards == "suppress-repeats" and _suppress_repeats(request):
            shown = await guard.run("shown-card memory", lambda: store.shown(keys, now))
            recommendations = [
                rec
                for rec, key in zip(recommendations, keys, strict=True)
                if rec.indicator == "critical" or key not in shown
            ]
        snoozable = [rec for rec in recommendations if _snoozes(engine, rec)]
        if engine.snooze_days is not None and snoozable:
            issuer, patient = caller.issuer or "", _patient_key(engine, request, data)
            since = now - timedelta(days=engine.snooze_days)
            snoozed = await guard.run(
                "snoozes", lambda: store.snoozed_topics(issuer, patient, since)
            )
            recommendations = [
                rec
                for rec in recommendations
                if not (rec.topic in snoozed and _snoozes(engine, rec))
            ]
    except DatabaseUnavailable:
        pass  # logged and counted by the guard: the cards are shown as they are
    return recommendations


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
