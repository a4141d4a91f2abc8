"""Every error leaves as a FHIR OperationOutcome; no stack trace ever reaches a client.

The exception tree is the protocol layer's (`service.cds.errors`); this module is
its one mapping to HTTP, plus the answers Starlette itself gives (404, 405, a
refused CORS preflight); the last-resort 500 is `service.http.middleware.ErrorBoundary`.
`OperationOutcome` is both the
body sent and the schema the OpenAPI document shows for every error.

CORS also answers a browser's Private Network Access preflight (a page on a public
https origin calling a service on localhost or a private address asks
`Access-Control-Request-Private-Network: true`; Starlette's `allow_private_network`):
allowed origins get `Access-Control-Allow-Private-Network: true`, a refused preflight
never carries it.
"""

from __future__ import annotations

from typing import Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import Response

from service.cds.errors import CdsError


class OperationOutcomeIssue(BaseModel):
    severity: Literal["fatal", "error", "warning", "information"]
    code: str
    """FHIR issue type: invalid, not-found, not-supported, too-costly, incomplete, ..."""
    diagnostics: str
    """What is wrong, naming the field or key at fault; never the submitted values."""


class OperationOutcome(BaseModel):
    """The FHIR R4 resource every error answer carries (CDS Hooks 3.0 asks for it)."""

    resourceType: Literal["OperationOutcome"] = "OperationOutcome"
    issue: list[OperationOutcomeIssue]


def error_response(status: int, message: str, issue_code: str) -> JSONResponse:
    issue = OperationOutcomeIssue(severity="error", code=issue_code, diagnostics=message)
    return JSONResponse(status_code=status, content=OperationOutcome(issue=[issue]).model_dump())


class CorsMiddleware(CORSMiddleware):
    """Starlette's CORS with Private Network Access; a refused preflight is an OperationOutcome."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code == 200:
            return response
        outcome = error_response(response.status_code, bytes(response.body).decode(), "forbidden")
        for name, value in response.headers.items():
            if name.lower() == "access-control-allow-private-network":
                continue
            if name.lower().startswith("access-control-") or name.lower() == "vary":
                outcome.headers[name] = value
        return outcome


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(CdsError)
    async def cds_error(_: Request, exc: CdsError) -> JSONResponse:
        response = error_response(exc.status, exc.message, exc.issue_code)
        response.headers.update(exc.headers)
        return response

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
