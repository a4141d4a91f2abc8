"""One hook call, from request to cards, readable top to bottom.

    HookRequest ─prefetch.resolve→ PatientData ─features.extract→ PatientFeatures
      ─rules→ list[Recommendation] ─cards.render→ list[Card] → CdsResponse

Only `prefetch.resolve` does I/O; everything after it is a pure function of the
data and the request time. `Engine` holds what is loaded once at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from cards.catalogue import CardCatalogue
from cards.render import render
from mappings.matcher import ValueSetIndex

from service import prefetch, rules
from service.errors import BadRequest, UnknownService
from service.features import extract
from service.protocol import HOOK_CONTEXTS, CdsResponse, HookRequest, PatientViewContext
from service.registry import ServiceSpec, build_registry
from service.settings import Settings


@dataclass(frozen=True)
class Engine:
    """Content and configuration shared by every request."""

    settings: Settings
    index: ValueSetIndex
    catalogue: CardCatalogue
    services: dict[str, ServiceSpec]

    @classmethod
    def load(cls, settings: Settings) -> Engine:
        index = ValueSetIndex.load()
        return cls(
            settings=settings,
            index=index,
            catalogue=CardCatalogue.load(),
            services=build_registry(index),
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
    return HOOK_CONTEXTS[spec.hook].model_validate(request.context)


def run(engine: Engine, spec: ServiceSpec, request: HookRequest) -> CdsResponse:
    context = parse_context(spec, request)
    now = datetime.now(UTC)
    data = prefetch.resolve(spec.prefetch, request, context, engine.settings, now)
    features = extract(data, engine.index, engine.settings.clinical)
    if spec.hook == "patient-view":
        recommendations = rules.recommend(features, now, engine.settings.clinical)
    else:
        recommendations = []
    cards = render(recommendations, data, engine.catalogue, source_url=engine.docs_url)
    return CdsResponse(cards=cards)
