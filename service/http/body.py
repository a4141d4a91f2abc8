"""The body of a hook call: declared JSON, bounded in size, UTF-8, one object, a `HookRequest`."""

from __future__ import annotations

import json
from email.message import Message

from pydantic import ValidationError
from starlette.requests import Request

from service.cds.errors import (
    BadRequest,
    PayloadTooLarge,
    UnsupportedMediaType,
    describe_validation_error,
)
from service.cds.models import HookRequest


def require_json(request: Request) -> None:
    """415 unless the body is declared `application/json` (UTF-8, the only charset of JSON).

    A form or text/plain POST is what a web page can send cross-site without a CORS
    preflight; requiring JSON makes every browser call pass the CORS check first.
    """
    declared = Message()
    declared["content-type"] = request.headers.get("content-type", "")
    charset = str(declared.get_param("charset") or "utf-8").lower()
    if declared.get_content_type() != "application/json" or charset != "utf-8":
        raise UnsupportedMediaType("Content-Type must be application/json")


async def bounded_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 once it grows past `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body exceeds {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise PayloadTooLarge(f"request body exceeds {limit} bytes")
    return bytes(body)


def parse_hook_request(body: bytes) -> HookRequest:
    try:
        # RFC 8259 §8.1: JSON between systems is UTF-8; json.loads(bytes) would also take UTF-16/32.
        payload = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("request body is not valid JSON") from None
    except RecursionError:
        raise BadRequest("request body is nested too deeply") from None
    if not isinstance(payload, dict):
        raise BadRequest("request body must be a JSON object")
    try:
        return HookRequest.model_validate(payload)
    except ValidationError as exc:
        raise BadRequest(describe_validation_error(exc)) from None
