"""What every request shares, created at start-up and closed at shutdown.

Content (value sets, text patterns, card and order templates, service
definitions) is loaded and checked once, so bad content stops start-up instead
of failing a request; the store and the pooled FHIR transport are opened here
and closed when the app stops. Nothing is created at import.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from cards.catalogue import CardCatalogue
from cards.docs import generate
from mappings.matcher import ValueSetIndex
from mappings.text import TextPatterns
from service.cds.errors import UnknownService
from service.cds.metered import MeteredTransport
from service.cds.services import ServiceSpec, load_services
from service.fhir.transport import FhirTransport, HttpxTransport
from service.settings import Settings
from service.storage.store import Store


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Content:
    """The reviewed content, loaded and checked together (also by `footdrop-cds check`)."""

    index: ValueSetIndex
    patterns: TextPatterns
    catalogue: CardCatalogue
    services: Mapping[str, ServiceSpec]
    clinical_doc: str

    @classmethod
    def load(cls) -> Content:
        index = ValueSetIndex.load()
        catalogue = CardCatalogue.load()
        return cls(
            index=index,
            patterns=TextPatterns.load(),
            catalogue=catalogue,
            services=load_services(index),
            clinical_doc=generate(catalogue),
        )


@dataclass(frozen=True)
class Engine:
    """Content, configuration, storage and the FHIR transport shared by every request."""

    settings: Settings
    index: ValueSetIndex
    patterns: TextPatterns
    catalogue: CardCatalogue
    services: Mapping[str, ServiceSpec]
    store: Store
    transport: FhirTransport
    clinical_doc: str
    clock: Callable[[], datetime]
    """The request time; rules are functions of it, so tests can fix it."""

    @classmethod
    def start(
        cls,
        settings: Settings,
        clock: Callable[[], datetime] | None = None,
        transport: FhirTransport | None = None,
    ) -> Engine:
        content = Content.load()
        return cls(
            settings=settings,
            index=content.index,
            patterns=content.patterns,
            catalogue=content.catalogue,
            services=content.services,
            store=Store.open(settings.database_url),
            transport=MeteredTransport(
                transport or HttpxTransport(settings.fhir_max_response_bytes)
            ),
            clinical_doc=content.clinical_doc,
            clock=clock or utc_now,
        )

    async def aclose(self) -> None:
        await self.transport.aclose()
        self.store.close()

    def service(self, service_id: str) -> ServiceSpec:
        try:
            return self.services[service_id]
        except KeyError:
            raise UnknownService(f"no CDS service with id {service_id!r}") from None

    @property
    def docs_url(self) -> str:
        return f"{self.settings.public_base_url}/docs/clinical"
