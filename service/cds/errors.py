"""Errors the service reports to a CDS client; `service.http.errors` maps them to HTTP.

    CdsError                      -> its `status`, OperationOutcome body
    ├── BadRequest                400  malformed JSON, missing fields, unsupported hook
    ├── Unauthorized              401  no valid JWT from a trusted EHR (one generic message)
    ├── UnknownService            404  no service with that id
    ├── RequestTimeout            408  the body did not arrive in time
    ├── PreconditionFailed        412  required patient data cannot be obtained
    ├── PayloadTooLarge           413  body over CDS_MAX_REQUEST_BYTES
    └── UnsupportedMediaType      415  a call whose body is not application/json

Every non-2xx answer carries a FHIR OperationOutcome (CDS Hooks 3.0 asks for it;
2.0 clients ignore it). Messages name the field or key at fault and never echo
what the client sent: no values, ids, hooks, tokens or patient data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from pydantic import ValidationError


class CdsError(Exception):
    status: ClassVar[int] = 500
    issue_code: ClassVar[str] = "exception"
    headers: ClassVar[Mapping[str, str]] = {}

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(CdsError):
    status = 400
    issue_code = "invalid"


def describe_validation_error(error: ValidationError, prefix: str = "") -> str:
    """Name each invalid field and why, without echoing the submitted values."""
    problems = []
    for item in error.errors(include_input=False, include_url=False, include_context=False):
        location = ".".join(str(part) for part in (prefix, *item["loc"]) if part != "")
        problems.append(f"{location or 'body'}: {item['msg']}")
    return "; ".join(problems[:10])


class Unauthorized(CdsError):
    status = 401
    issue_code = "login"
    headers: ClassVar[Mapping[str, str]] = {"WWW-Authenticate": 'Bearer realm="footdrop-cds"'}


class UnknownService(CdsError):
    status = 404
    issue_code = "not-found"


class RequestTimeout(CdsError):
    status = 408
    issue_code = "timeout"


class PreconditionFailed(CdsError):
    status = 412
    issue_code = "incomplete"


class PayloadTooLarge(CdsError):
    status = 413
    issue_code = "too-costly"


class UnsupportedMediaType(CdsError):
    status = 415
    issue_code = "not-supported"
