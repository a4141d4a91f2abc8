"""HTTP endpoints: discovery, service calls and the documentation page. Each hands off once."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from service.cds.models import Discovery
from service.cds.pipeline import run
from service.http.body import bounded_body, parse_hook_request
from service.http.deps import EngineDep

router = APIRouter()


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
    body = await bounded_body(request, engine.settings.max_request_bytes)
    response = await run(engine, spec, parse_hook_request(body))
    return _respond(response)
