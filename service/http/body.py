"""The body of a hook call: JSON media type, bounded in size and time, strict JSON, a HookRequest.

The body is read under a deadline (a client trickling bytes gets 408), refused
past `CDS_MAX_REQUEST_BYTES` (413), and parsed off the event loop as strict RFC
8259 JSON no deeper than `CDS_MAX_JSON_DEPTH` (400): no NaN, no Infinity, no
absurd numbers, no duplicate keys.
"""

from __future__ import annotations

import asyncio

from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from service.cds.errors import (
    BadRequest,
    PayloadTooLarge,
    RequestTimeout,
    UnsupportedMediaType,
    describe_validation_error,
)
from service.cds.models import HookRequest
from service.fhir.strict_json import JsonRejected, load_object
from service.settings import Settings


def require_json(request: Request) -> None:
    """Calls carry `application/json` (a `text/plain` POST would skip the CORS preflight)."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise UnsupportedMediaType("the request body must be application/json")


async def bounded_body(request: Request, limit: int, timeout_s: float) -> bytes:
    """The request body, refused with 413 past `limit` bytes and 408 after `timeout_s`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body exceeds {limit} bytes")
    body = bytearray()
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.stream():
                body.extend(chunk)
                if len(body) > limit:
                    raise PayloadTooLarge(f"request body exceeds {limit} bytes")
    except TimeoutError:
        raise RequestTimeout("the request body did not arrive in time") from None
    return bytes(body)


def parse_hook_request(body: bytes, max_depth: int) -> HookRequest:
    try:
        # RFC 8259 §8.1: JSON between systems is UTF-8; json.loads(bytes) would also take UTF-16/32.
        payload = load_object(body.decode("utf-8"), max_depth)
    except UnicodeDecodeError:
        raise BadRequest("request body is not UTF-8") from None
    except JsonRejected as exc:
        raise BadRequest(f"request body is not a strict JSON object: {exc}") from None
    try:
        return HookRequest.model_validate(payload)
    except ValidationError as exc:
        raise BadRequest(describe_validation_error(exc)) from None


async def read_hook_request(request: Request, settings: Settings) -> HookRequest:
    require_json(request)
    body = await bounded_body(request, settings.max_request_bytes, settings.request_body_timeout_s)
    return await run_in_threadpool(parse_hook_request, body, settings.max_json_depth)
