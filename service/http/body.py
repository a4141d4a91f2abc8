"""Request bodies: JSON media type, bounded in size and time, strict JSON, then a model.

The body is read under a deadline (a client trickling bytes gets 408), refused
past `CDS_MAX_REQUEST_BYTES` (413), and parsed as strict RFC 8259 JSON no deeper
than `CDS_MAX_JSON_DEPTH` (400): no NaN, no Infinity, no absurd numbers, no
duplicate keys. A body up to `INLINE_PARSE_BYTES` is parsed on the event loop
(a few milliseconds at most: handing it to a thread and back would cost more than
a small body's parse), a larger one off it. A hook request is parsed only once the
call is admitted (CDS_MAX_RECORDS_IN_FLIGHT, `service.cds.admission`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from service.cds.admission import RecordAdmission
from service.cds.errors import (
    BadRequest,
    PayloadTooLarge,
    RequestTimeout,
    UnsupportedMediaType,
    describe_validation_error,
)
from service.cds.feedback import FeedbackRequest, parse_feedback
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


#: Largest feedback body accepted: 100 items are a few tens of kilobytes.
MAX_FEEDBACK_BYTES = 1_000_000
#: Largest body parsed on the event loop: ~1,200 FHIR resources, a few ms of parse.
INLINE_PARSE_BYTES = 1024 * 1024


def parse_object(body: bytes, max_depth: int) -> dict[str, Any]:
    try:
        # RFC 8259 §8.1: JSON between systems is UTF-8, and the parser reads nothing else.
        return load_object(body, max_depth)
    except JsonRejected as exc:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest("request body is not UTF-8") from None
        raise BadRequest(f"request body is not a strict JSON object: {exc}") from None


def parse_hook_request(body: bytes, max_depth: int) -> HookRequest:
    payload = parse_object(body, max_depth)
    try:
        return HookRequest.model_validate(payload)
    except ValidationError as exc:
        raise BadRequest(describe_validation_error(exc)) from None


@asynccontextmanager
async def admitted_hook_request(
    request: Request, settings: Settings, admission: RecordAdmission
) -> AsyncIterator[HookRequest]:
    """The hook request, parsed once the body has arrived and a records-in-flight slot is
    free (`service.cds.admission`); the slot is the call's until the block ends."""
    require_json(request)
    body = await bounded_body(request, settings.max_request_bytes, settings.request_body_timeout_s)
    async with admission.admitted():
        if len(body) <= INLINE_PARSE_BYTES:
            hook_request = parse_hook_request(body, settings.max_json_depth)
        else:
            hook_request = await run_in_threadpool(
                parse_hook_request, body, settings.max_json_depth
            )
        del body  # the parsed request is the record now: the text is not kept beside it
        yield hook_request


async def read_feedback(request: Request, settings: Settings) -> FeedbackRequest:
    require_json(request)
    limit = min(settings.max_request_bytes, MAX_FEEDBACK_BYTES)
    body = await bounded_body(request, limit, settings.request_body_timeout_s)
    if len(body) <= INLINE_PARSE_BYTES:
        return parse_feedback(parse_object(body, settings.max_json_depth))
    payload = await run_in_threadpool(parse_object, body, settings.max_json_depth)
    return parse_feedback(payload)
