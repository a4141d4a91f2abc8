"""HTTP endpoints: discovery and service calls. Each hands off to one function."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from service.errors import BadRequest
from service.pipeline import Engine, run
from service.protocol import CdsResponse, Discovery, HookRequest
from service.registry import ServiceSpec

router = APIRouter()


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


EngineDep = Annotated[Engine, Depends(get_engine)]


def _respond(model: Any) -> JSONResponse:
    # exclude_none: the spec forbids null values in responses (G-2).
    return JSONResponse(model.model_dump(mode="json", exclude_none=True))


def describe_validation_error(error: ValidationError, prefix: str = "") -> str:
    """Name each invalid field and why, without echoing the submitted values."""
    problems = []
    for item in error.errors(include_input=False, include_url=False):
        location = ".".join(str(part) for part in (prefix, *item["loc"]) if part != "")
        problems.append(f"{location or 'body'}: {item['msg']}")
    return "; ".join(problems[:10])


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
    hook_request = parse_hook_request(await request.body())
    response = await run_in_threadpool(_run_checked, engine, spec, hook_request)
    return _respond(response)


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


def _run_checked(engine: Engine, spec: ServiceSpec, hook_request: HookRequest) -> CdsResponse:
    try:
        return run(engine, spec, hook_request)
    except ValidationError as exc:
        raise BadRequest(describe_validation_error(exc, prefix="context")) from None
