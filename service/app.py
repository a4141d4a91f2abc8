"""The ASGI application factory: `uvicorn --factory service.app:create_app`.

`create_app(settings)` builds a configured app (tests pass their own settings,
clock and FHIR transport). Importing this module does nothing else: the engine
(content, store, pooled FHIR transport) is created when the app starts and
closed when it stops, so bad content stops start-up instead of failing a request.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI

from service.cds.engine import Engine
from service.fhir.transport import FhirTransport
from service.http import pages
from service.http.errors import CorsMiddleware, install_error_handlers
from service.http.middleware import ErrorBoundary, SecurityHeaders
from service.http.routes import router
from service.settings import Settings

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


def create_app(
    settings: Settings | None = None,
    clock: Callable[[], datetime] | None = None,
    transport: FhirTransport | None = None,
) -> FastAPI:
    settings = settings or Settings()
    configure_logging(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = Engine.start(settings, clock, transport)
        app.state.engine = engine
        if settings.auth_mode == "off":
            log.warning(
                "AUTH IS OFF (CDS_AUTH_MODE=off): any caller can use this service; "
                "for development and testing only"
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
    app.include_router(pages.router)
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
