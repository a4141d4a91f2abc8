"""One hook call, from request to cards, readable top to bottom.

    HookRequest ─prefetch.resolve→ PatientData ─features.extract→ PatientFeatures
      ─rules / order_rules→ list[Recommendation] ─cards.render→ list[Card] → CdsResponse

Only `prefetch.resolve` (and the shown-card memory) does I/O; everything between
is a pure function of the data and the request time. `Engine` holds what is
loaded once at start-up.

order-sign de-duplication: every card shown at order-select is remembered (as a
hash of user, patient, encounter, order and topic). An order-sign request that
carries the extension `SUPPRESS_REPEATS` set to true does not get those cards
again; without it, order-sign answers in full.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError

from cards.catalogue import CardCatalogue
from cards.docs import generate
from cards.render import render
from mappings.matcher import ValueSetIndex
from service.cds import prefetch
from service.cds.errors import BadRequest, UnknownService, describe_validation_error
from service.cds.models import HOOK_CONTEXTS, CdsResponse, HookRequest, PatientViewContext
from service.cds.services import ServiceSpec, build_registry
from service.clinical import order_checks as order_rules
from service.clinical import orders
from service.clinical import patient_view as rules
from service.clinical.features import PatientFeatures, extract
from service.clinical.recommendation import Recommendation
from service.fhir.patient_data import PatientData
from service.settings import Settings
from service.storage.store import Store, fingerprint

#: Request extension (CDS Hooks `extension`, reverse-domain key) by which an EHR
#: asks order-sign not to repeat cards already shown at order-select.
SUPPRESS_REPEATS = "org.footdrop-cds.suppress-repeated-cards"


@dataclass(frozen=True)
class Engine:
    """Content, configuration and storage shared by every request."""

    settings: Settings
    index: ValueSetIndex
    catalogue: CardCatalogue
    services: dict[str, ServiceSpec]
    store: Store
    clinical_doc: str
    clock: Callable[[], datetime]
    """The request time; rules are functions of it, so tests can fix it."""

    @classmethod
    def load(cls, settings: Settings, clock: Callable[[], datetime] | None = None) -> Engine:
        index = ValueSetIndex.load()
        catalogue = CardCatalogue.load()
        return cls(
            settings=settings,
            index=index,
            catalogue=catalogue,
            services=build_registry(index),
            store=Store.open(settings.database_url),
            clinical_doc=generate(catalogue),
            clock=clock or (lambda: datetime.now(UTC)),
        )

    def service(self, service_id: str) -> ServiceSpec:
        try:
            return self.services[service_id]
        except KeyError:
            raise UnknownService(f"no CDS service with id {service_id!r}") from None

    @property
    def docs_url(self) -> str:
        return f"{self.settings.public_base_url}/docs/clinical"


def parse_context(spec: ServiceSpec, request: HookRequest) -> PatientViewContext:
    """Check the hook is the one this service serves, then validate its context."""
    if request.hook != spec.hook:
        raise BadRequest(f"service {spec.id!r} serves hook {spec.hook!r}, not {request.hook!r}")
    try:
        return HOOK_CONTEXTS[spec.hook].model_validate(request.context)
    except ValidationError as exc:
        raise BadRequest(describe_validation_error(exc, prefix="context")) from None


def run(engine: Engine, spec: ServiceSpec, request: HookRequest) -> CdsResponse:
    context = parse_context(spec, request)
    now = engine.clock()
    data = prefetch.resolve(spec.prefetch, request, context, engine.settings, now)
    features = extract(data, engine.index, engine.settings.clinical)
    recommendations = decide(engine, spec.hook, data, features)
    if spec.hook == "order-select":
        engine.store.remember(
            [_shown_key(data, rec) for rec in recommendations],
            now,
            timedelta(seconds=engine.settings.shown_card_ttl_s),
        )
    elif spec.hook == "order-sign" and _suppress_repeats(request):
        recommendations = [
            rec for rec in recommendations if not engine.store.was_shown(_shown_key(data, rec), now)
        ]
    cards = render(recommendations, data, engine.catalogue, source_url=engine.docs_url)
    return CdsResponse(cards=cards)


def decide(
    engine: Engine, hook: str, data: PatientData, features: PatientFeatures
) -> list[Recommendation]:
    """The rules for this hook: patient-view cards, or checks of the orders being written."""
    thresholds = engine.settings.clinical
    if hook == "patient-view":
        return rules.recommend(features, data.now, thresholds)
    # order-select reacts to the selections; order-sign to every draft.
    drafts = data.selected_orders if hook == "order-select" else data.draft_orders
    selected = [orders.classify(order, engine.index) for order in drafts]
    return order_rules.check_orders(selected, features, data.now, thresholds)


def _shown_key(data: PatientData, rec: Recommendation) -> str:
    return fingerprint(
        data.user_id or "",
        data.patient_id,
        data.encounter_id or "",
        rec.about_order or "",
        rec.topic,
    )


def _suppress_repeats(request: HookRequest) -> bool:
    extension = request.extension or {}
    return extension.get(SUPPRESS_REPEATS) is True
