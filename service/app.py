"""The ASGI application factory: `uvicorn --factory service.app:create_app`.

`create_app(settings)` builds a configured app (tests pass their own settings,
clock and FHIR transport). It opens the database first (migrating it, or checking
its schema with CDS_DATABASE_MIGRATE=check): settings from the environment that
are not valid, or a database that does not answer within CDS_DATABASE_TIMEOUT_S,
end the process with one line on stderr naming what is wrong instead of a
traceback or a silent hang. Importing this module does nothing else: the engine
(content, pooled FHIR transport, card log) is created when the app starts and
closed, with the store, when it stops, so bad content stops start-up instead of
failing a request.
"""

from __future__ import annotations

import ctypes
import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI

from service.cds.engine import Engine
from service.fhir.transport import FhirTransport
from service.http import pages
from service.http.analytics import router as analytics_router
from service.http.docs_ui import install_docs_ui
from service.http.errors import CorsMiddleware, install_error_handlers
from service.http.middleware import ErrorBoundary, SecurityHeaders
from service.http.observe import RequestObserver
from service.http.openapi import install_openapi
from service.http.operations import DatabaseCheck
from service.http.operations import router as operations_router
from service.http.routes import router
from service.observability.logs import configure_logging
from service.observability.metrics import BUILD_INFO
from service.settings import ConfigurationError, Settings, load_settings
from service.storage.database import DatabaseUnavailable
from service.storage.store import Store
from service.version import software_version

log = logging.getLogger("service")

#: Young collections between two collections of the middle generation (CPython's default
#: is 10). A record held through its call is walked by each middle collection, and a call of
#: N resources sets off a number of them growing with N: N² in all (10,000 resources: three
#: walks of the record per call, 15% of the call).
MIDDLE_GENERATION_THRESHOLD = 100
#: glibc's `M_ARENA_MAX` parameter of `mallopt` (malloc.h).
_M_ARENA_MAX = -8
#: malloc arenas the process may have: a thread allocates in one of them.
MALLOC_ARENAS = 2


def limit_malloc_arenas() -> None:
    """At most `MALLOC_ARENAS` malloc arenas, where glibc gives each thread that allocates
    its own (up to 8 per core) and keeps what a thread freed for that thread's arena: a
    large record parsed, decided or rendered in one pool thread left its high-water mark
    there, one for each thread that ever held a record. With two arenas the memory one
    call freed serves the next. Nothing happens on a C library without `mallopt`."""
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is not None:
        mallopt(_M_ARENA_MAX, MALLOC_ARENAS)


def settings_or_exit() -> Settings:
    """The environment's settings; invalid ones end the process with one line on stderr."""
    try:
        return load_settings()
    except ConfigurationError as error:
        raise SystemExit(f"footdrop-cds: configuration error: {error}") from None


def open_store(settings: Settings, *, migrate_schema: bool | None = None) -> Store:
    """The database, migrated (by default as CDS_DATABASE_MIGRATE says) or its schema checked;
    the process ends with one line when it does not answer or its schema is not current."""
    if migrate_schema is None:
        migrate_schema = settings.database_migrate == "on-start"
    try:
        return Store.open(
            settings.database_url,
            timeout_s=settings.database_timeout_s,
            migrate_schema=migrate_schema,
        )
    except DatabaseUnavailable as error:
        raise SystemExit(f"footdrop-cds: {error}") from None


def create_app(
    settings: Settings | None = None,
    clock: Callable[[], datetime] | None = None,
    transport: FhirTransport | None = None,
) -> FastAPI:
    limit_malloc_arenas()  # before the threads start (the database's, the thread pool)
    settings = settings or settings_or_exit()
    configure_logging(settings.log_level)
    # Opened now, so that a database that does not answer ends start-up with one line. The
    # first lifespan takes it; each lifespan closes its own store, so one started later
    # (tests enter several) opens another instead of sharing a closed one.
    unused_store = [open_store(settings)]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = unused_store.pop() if unused_store else open_store(settings)
        engine = Engine.start(settings, store, clock, transport)
        # What start-up built (value sets, templates, modules) lives as long as the app: out
        # of the collector's sight, the collections a request's allocations set off no
        # longer walk it (a third of a large request's parse); and the middle generation is
        # collected less often (`MIDDLE_GENERATION_THRESHOLD`). Both handed back at shutdown,
        # so that an app stopped in a longer-lived process (tests) leaves it as it was.
        gc.freeze()
        thresholds = gc.get_threshold()
        gc.set_threshold(thresholds[0], MIDDLE_GENERATION_THRESHOLD, *thresholds[2:])
        app.state.database_check = DatabaseCheck(engine.store)
        app.state.engine = engine
        BUILD_INFO.labels(
            version=software_version(), content_version=engine.catalogue.content.version
        ).set(1)
        if settings.auth_mode == "off":
            log.warning(
                "AUTH IS OFF (CDS_AUTH_MODE=off): any caller can use this service; "
                "for development and testing only"
            )
        if settings.explain:
            log.warning(
                "CDS_EXPLAIN=true: a hook request that asks for it gets the rule trace, "
                "with record ids, in its response; for integration testing only"
            )
        if settings.patient_hash_key is None:
            log.warning(
                "CDS_PATIENT_HASH_KEY is not set: the card log hashes patient ids with a "
                "fixed development key (allowed only with CDS_AUTH_MODE=off)"
            )
        try:
            yield
        finally:
            app.state.engine = None
            await engine.aclose()
            gc.unfreeze()
            gc.set_threshold(*thresholds)

    app = FastAPI(
        title="footdrop-cds",
        description="CDS Hooks 2.0 service for foot-drop decision support",
        version=software_version(),
        docs_url=None,
        redoc_url=None,
        # `/cds-services/x/` is a 404 OperationOutcome, not a redirect built from the Host header.
        redirect_slashes=False,
        lifespan=lifespan,
    )
    app.include_router(router)
    app.include_router(analytics_router)
    app.include_router(pages.router)
    app.include_router(operations_router)
    if settings.docs_ui:
        install_docs_ui(app)
    install_openapi(app)
    app.add_middleware(
        CorsMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type"],
        # A page on https://sandbox.cds-hooks.org may call a service on localhost.
        allow_private_network=True,
        max_age=600,
    )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(ErrorBoundary)
    # Outermost: times and logs every request, CORS preflights, refusals and 500s included.
    app.add_middleware(RequestObserver)
    install_error_handlers(app)
    return app
