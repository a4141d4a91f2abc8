"""HTTP endpoints: discovery and service calls. Each hands off to one function."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from service.cds.errors import BadRequest, PayloadTooLarge, describe_validation_error
from service.cds.models import Discovery, HookRequest
from service.cds.pipeline import Engine, run

router = APIRouter()


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


EngineDep = Annotated[Engine, Depends(get_engine)]


def _respond(model: Any) -> JSONResponse:
    # exclude_none: the spec forbids null values in responses (G-2).
    return JSONResponse(model.model_dump(mode="json", exclude_none=True))


@router.get("/cds-services")
def discovery(engine: EngineDep) -> JSONResponse:
    services = [spec.descriptor() for spec in engine.services.values()]
    return _respond(Discovery(services=services))


@router.get("/docs/clinical")
def clinical_documentation(engine: EngineDep) -> PlainTextResponse:
    """The implemented clinical logic, linked from every card's `source.url`."""
    return PlainTextResponse(engine.clinical_doc, media_type="text/markdown; charset=utf-8")


@router.post("/cds-services/{service_id}")
async def call_service(service_id: str, request: Request, engine: EngineDep) -> JSONResponse:
    spec = engine.service(service_id)
    hook_request = parse_hook_request(
        await _bounded_body(request, engine.settings.max_request_bytes)
    )
    response = await run_in_threadpool(run, engine, spec, hook_request)
    return _respond(response)


async def _bounded_body(request: Request, limit: int) -> bytes:
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
