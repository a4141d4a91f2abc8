"""What every request shares, created at start-up and closed at shutdown.

Content (value sets, text patterns, card and order templates, service
definitions) is loaded and checked once, so bad content stops start-up instead
of failing a request; the pooled FHIR transport, the database guard and the
card log's writer are started here and closed, with the store, when the app
stops (the card log drains first). Nothing is created at import.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from anyio import to_thread

from cards.catalogue import CardCatalogue
from cards.docs import generate
from mappings.matcher import ValueSetIndex
from mappings.text import TextPatterns
from service.auth import FallbackReplayCache, JwtVerifier, KeySetStore, MemoryReplayCache
from service.cds.errors import UnknownService
from service.cds.metered import MeteredTransport
from service.cds.services import ServiceSpec, load_services
from service.fhir.transport import FhirTransport, HttpTransport
from service.settings import Settings
from service.storage.card_log import CardLog
from service.storage.guard import DatabaseGuard
from service.storage.replay import DatabaseReplayCache
from service.storage.store import Store

log = logging.getLogger("service")


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
    guard: DatabaseGuard
    """Every database call of a request goes through it: bounded in time, never fatal."""
    card_log: CardLog
    transport: FhirTransport
    clinical_doc: str
    clock: Callable[[], datetime]
    """The request time; rules are functions of it, so tests can fix it."""
    verifier: JwtVerifier | None = None
    """Verifies the EHR's JWT (`CDS_AUTH_MODE=jwt`); None when authentication is off."""
    key_set_client: httpx.AsyncClient | None = None

    @classmethod
    def start(
        cls,
        settings: Settings,
        store: Store,
        clock: Callable[[], datetime] | None = None,
        transport: FhirTransport | None = None,
    ) -> Engine:
        """Load content and start the workers around `store` (opened by the app factory)."""
        content = Content.load()
        clock = clock or utc_now
        guard = DatabaseGuard(settings.database_hook_budget_s)
        verifier, key_set_client = None, None
        if settings.auth_mode == "jwt":
            key_set_client = httpx.AsyncClient(follow_redirects=False, trust_env=False)
            verifier = _verifier(settings, store, guard, clock, key_set_client)
        return cls(
            settings=settings,
            index=content.index,
            patterns=content.patterns,
            catalogue=content.catalogue,
            services=content.services,
            store=store,
            guard=guard,
            card_log=CardLog(store),
            transport=MeteredTransport(
                transport or HttpTransport(settings.fhir_max_response_bytes)
            ),
            clinical_doc=content.clinical_doc,
            clock=clock,
            verifier=verifier,
            key_set_client=key_set_client,
        )

    async def aclose(self) -> None:
        await to_thread.run_sync(self.card_log.close, self.settings.card_log_drain_s)
        self.guard.close()
        await self.transport.aclose()
        if self.key_set_client is not None:
            await self.key_set_client.aclose()
        self.store.close()

    def service(self, service_id: str) -> ServiceSpec:
        try:
            return self.services[service_id]
        except KeyError:
            raise UnknownService("no CDS service with that id") from None

    @property
    def docs_url(self) -> str:
        return f"{self.settings.public_base_url}/docs/clinical"

    @property
    def snooze_days(self) -> int | None:
        """Days an override hides a topic, or None where nothing is snoozed (auth off)."""
        return self.settings.snooze_days if self.settings.snoozing else None


def _verifier(
    settings: Settings,
    store: Store,
    guard: DatabaseGuard,
    clock: Callable[[], datetime],
    http: httpx.AsyncClient,
) -> JwtVerifier:
    """The JWT verifier: trusted issuers' keys, and a replay memory shared through the
    database (this process's memory while the database is down)."""
    if warning := settings.trusted_issuers.testing_issuer_warning():
        log.warning(warning)

    replay = FallbackReplayCache(
        DatabaseReplayCache(store, guard, clock), MemoryReplayCache(clock=clock), on_failure=_ignore
    )
    key_sets = KeySetStore(settings.trusted_issuers, http)
    return JwtVerifier(key_sets, replay, leeway_s=settings.jwt_leeway_s)


def _ignore(error: Exception) -> None:
    """FallbackReplayCache logs each failure itself."""
