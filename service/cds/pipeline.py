"""One hook call, from request to cards, readable top to bottom.

    HookRequest ─prefetch.resolve→ PatientData ─features.extract→ PatientFeatures
      ─patient_view / order_checks→ list[Recommendation] ─cards.render→ list[Card]
      → CdsResponse

Only `prefetch.resolve` (and the shown-card memory) does I/O; everything between
is a pure function of the data and the request time, run off the event loop.
What differs between services (which rules, which drafts, the shown-card memory)
comes from the service definition, not from the hook's name.

order-sign de-duplication: every card shown at order-select is remembered (as a
hash of the verified issuer, fhirServer, user, patient, encounter, order and
topic). An order-sign request that carries the extension `SUPPRESS_REPEATS` set
to true does not get the non-critical ones again; a critical card is never left
out (clinical-logic v3 §4: signing is the last safety net). With authentication
off there is no verified caller to bind the memory to, so none is kept.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

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
from service.storage.store import fingerprint

#: Request extension (CDS Hooks `extension`, reverse-domain key) by which an EHR
#: asks order-sign not to repeat cards already shown at order-select.
SUPPRESS_REPEATS = "org.footdrop-cds.suppress-repeated-cards"


def parse_context(spec: ServiceSpec, request: HookRequest) -> PatientViewContext:
    """Check the hook is the one this service serves, then validate its context."""
    if request.hook != spec.hook:
        raise BadRequest(f"this service serves the {spec.hook} hook only")
    try:
        return HOOK_CONTEXTS[spec.hook].model_validate(request.context)
    except ValidationError as exc:
        raise BadRequest(describe_validation_error(exc, prefix="context")) from None


async def run(
    engine: Engine, spec: ServiceSpec, request: HookRequest, caller: Caller
) -> CdsResponse:
    context = parse_context(spec, request)
    now = engine.clock()
    data = await prefetch.resolve(
        spec.prefetch, request, context, engine.transport, engine.settings.fhir_limits, now
    )
    return await run_in_threadpool(_decide_and_render, engine, spec, request, caller, data, now)


def _decide_and_render(
    engine: Engine,
    spec: ServiceSpec,
    request: HookRequest,
    caller: Caller,
    data: PatientData,
    now: datetime,
) -> CdsResponse:
    recommendations = decide(engine, spec, data)
    if caller.verified:

        def shown_key(rec: Recommendation) -> str:
            return _shown_key(caller, request, data, rec)

        if spec.shown_cards == "remember":
            ttl = timedelta(seconds=engine.settings.shown_card_ttl_s)
            engine.store.remember([shown_key(rec) for rec in recommendations], now, ttl)
        elif spec.shown_cards == "suppress-repeats" and _suppress_repeats(request):
            recommendations = [
                rec
                for rec in recommendations
                if rec.indicator == "critical" or not engine.store.was_shown(shown_key(rec), now)
            ]
    cards = render(
        recommendations, data, engine.catalogue, hook=spec.hook, docs_url=engine.docs_url
    )
    return CdsResponse(cards=cards)


def decide(engine: Engine, spec: ServiceSpec, data: PatientData) -> list[Recommendation]:
    """The service's rules: patient-view cards, or checks of the orders being written."""
    thresholds = engine.settings.clinical
    record = read_record(data, engine.index, engine.patterns, thresholds)
    if spec.rules == "patient-view":
        return recommend(record.features(), data.now, thresholds)
    checked = data.selected_orders if spec.orders == "selections" else data.draft_orders
    return check_orders(review(record, checked), data.now, thresholds)


def _shown_key(caller: Caller, request: HookRequest, data: PatientData, rec: Recommendation) -> str:
    return fingerprint(
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
