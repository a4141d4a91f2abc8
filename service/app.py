"""The ASGI application factory: `uvicorn --factory service.app:create_app`.

`create_app(settings)` builds a configured app (tests pass their own settings,
clock and FHIR transport). It opens the database first (migrating it, or checking
its schema with CDS_DATABASE_MIGRATE=check): settings that are not valid, or a
database that does not answer within CDS_DATABASE_TIMEOUT_S, end the process with
one line on stderr instead of a traceback or a silent hang. Importing this module
does nothing else: the engine (content, pooled FHIR transport, card log) is created
when the app starts and closed when it stops, so bad content stops start-up
instead of failing a request.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI
from pydantic import ValidationError

from service.cds.engine import Engine
from service.fhir.transport import FhirTransport
from service.http.analytics import router as analytics_router
from service.http.errors import CorsMiddleware, install_error_handlers
from service.http.middleware import ErrorBoundary, SecurityHeaders
from service.http.routes import router
from service.settings import Settings
from service.storage.database import DatabaseUnavailable
from service.storage.store import Store

log = logging.getLogger("service")


#: Libraries whose INFO and DEBUG lines can carry URLs with patient ids or SQL parameters.
QUIET_LOGGERS = ("httpx", "httpcore", "urllib3", "sqlalchemy", "alembic", "jwt", "asyncio")


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("service").setLevel(settings.log_level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def settings_from_environment() -> Settings:
    """The CDS_* settings, or the process ends with one line naming what is wrong (no values)."""
    try:
        return Settings()
    except ValidationError as error:
        problems = "; ".join(
            _problem(tuple(item["loc"]), str(item["msg"]))
            for item in error.errors(include_input=False, include_url=False)
        )
        raise SystemExit(f"footdrop-cds: configuration error: {problems}") from None


def _problem(location: tuple[int | str, ...], message: str) -> str:
    """("clinical", "acute_weeks") and a message → "CDS_CLINICAL__ACUTE_WEEKS: message"."""
    message = message.removeprefix("Value error, ")
    if not location:
        return message
    return "CDS_" + "__".join(str(part).upper() for part in location) + ": " + message


def open_store(settings: Settings) -> Store:
    """The database, ready; the process ends with one line when it does not answer."""
    try:
        return Store.open(
            settings.database_url,
            timeout_s=settings.database_timeout_s,
            migrate_schema=settings.database_migrate == "on-start",
        )
    except DatabaseUnavailable as error:
        raise SystemExit(f"footdrop-cds: {error}") from None


def create_app(
    settings: Settings | None = None,
    clock: Callable[[], datetime] | None = None,
    transport: FhirTransport | None = None,
) -> FastAPI:
    settings = settings or settings_from_environment()
    configure_logging(settings)
    store = open_store(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = Engine.start(settings, store, clock, transport)
        app.state.engine = engine
        if settings.auth_mode == "off":
            log.warning(
                "AUTH IS OFF (CDS_AUTH_MODE=off): any caller can use this service; "
                "for development and testing only"
            )
        if settings.patient_hash_key is None:
            log.warning(
                "CDS_PATIENT_HASH_KEY is not set: the card log hashes patient ids with a "
                "fixed development key (allowed only with CDS_AUTH_MODE=off)"
            )
        try:
            yield
        finally:
            await engine.aclose()

    app = FastAPI(
        title="footdrop-cds",
        description="CDS Hooks 2.0 service for foot-drop decision support",
        version="0.1.0",
        docs_url=None,
        redoc_url=None,
        # `/cds-services/x/` is a 404 OperationOutcome, not a redirect built from the Host header.
        redirect_slashes=False,
        lifespan=lifespan,
    )
    app.include_router(router)
    app.include_router(analytics_router)
    app.add_middleware(
        CorsMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type"],
        max_age=600,
    )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(ErrorBoundary)
    install_error_handlers(app)
    return app
