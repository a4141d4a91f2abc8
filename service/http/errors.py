"""Every error leaves as a FHIR OperationOutcome; no stack trace ever reaches a client.

The exception tree is the protocol layer's (`service.cds.errors`); this module is
its one mapping to HTTP, plus the answers Starlette itself gives (404, 405, a
refused CORS preflight). The last-resort 500 is `service.http.middleware.ErrorBoundary`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import Response

from service.cds.errors import CdsError


def operation_outcome(message: str, issue_code: str, severity: str = "error") -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": issue_code, "diagnostics": message}],
    }


def error_response(status: int, message: str, issue_code: str) -> JSONResponse:
    return JSONResponse(status_code=status, content=operation_outcome(message, issue_code))


class CorsMiddleware(CORSMiddleware):
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
