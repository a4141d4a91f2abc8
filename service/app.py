"""The ASGI application: `uvicorn service.app:app`.

`create_app(settings)` builds a fully configured app (tests pass their own
settings); content — value sets, card templates, order templates — loads once
here, so bad content stops start-up instead of failing a request.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import Response

from service.cds.errors import CdsError, error_response
from service.cds.pipeline import Engine
from service.http.routes import router
from service.settings import Settings, get_settings

log = logging.getLogger("service")


class _CorsMiddleware(CORSMiddleware):
    """Starlette's CORS, with a refused preflight answered as an OperationOutcome."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code == 200:
            return response
        outcome = error_response(response.status_code, bytes(response.body).decode(), "forbidden")
        for name, value in response.headers.items():
            if name.lower().startswith("access-control-") or name.lower() == "vary":
                outcome.headers[name] = value
        return outcome


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("service").setLevel(settings.log_level)


def create_app(
    settings: Settings | None = None, clock: Callable[[], datetime] | None = None
) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)
    app = FastAPI(
        title="footdrop-cds",
        description="CDS Hooks 2.0 service for foot-drop decision support",
        version="0.1.0",
        docs_url=None,
        redoc_url=None,
        # `/cds-services/x/` is a 404 OperationOutcome, not a redirect built from the Host header.
        redirect_slashes=False,
    )
    app.state.engine = Engine.load(settings, clock)
    app.include_router(router)
    app.add_middleware(
        _CorsMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type"],
        max_age=600,
    )
    _install_error_handlers(app)
    if settings.auth_mode == "off":
        log.warning(
            "AUTH IS OFF (CDS_AUTH_MODE=off): any caller can use this service; "
            "for development and testing only"
        )
    return app


def _install_error_handlers(app: FastAPI) -> None:
    """Every error leaves as an OperationOutcome; no stack trace ever reaches a client."""

    @app.exception_handler(CdsError)
    async def cds_error(_: Request, exc: CdsError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.issue_code)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        codes = {404: "not-found", 405: "not-supported"}
        response = error_response(
            exc.status_code, str(exc.detail), codes.get(exc.status_code, "processing")
        )
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(400, "request is not valid", "invalid")

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        # The traceback without the exception's message: messages can carry patient data.
        trace = "".join(traceback.format_tb(exc.__traceback__))
        log.error("unexpected %s\n%s", type(exc).__name__, trace)
        return error_response(500, "internal error", "exception")


app = create_app()
