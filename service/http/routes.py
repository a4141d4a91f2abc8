"""HTTP endpoints: discovery, service calls, feedback and the documentation page.

Each hands off once.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from service.cds import feedback
from service.cds.models import Discovery
from service.cds.pipeline import run
from service.http.auth import CallerDep
from service.http.body import read_feedback, read_hook_request
from service.http.deps import EngineDep

router = APIRouter()


def _respond(model: Any) -> JSONResponse:
    # exclude_none: the spec forbids null values in responses (G-2).
    return JSONResponse(model.model_dump(mode="json", exclude_none=True))


@router.get("/cds-services")
def discovery(engine: EngineDep, caller: CallerDep) -> JSONResponse:
    services = [spec.descriptor() for spec in engine.services.values()]
    return _respond(Discovery(services=services))


@router.get("/docs/clinical")
def clinical_documentation(engine: EngineDep) -> PlainTextResponse:
    """The implemented clinical logic, linked from every card's `source.url` (public)."""
    return PlainTextResponse(engine.clinical_doc, media_type="text/markdown; charset=utf-8")


@router.post("/cds-services/{service_id}")
async def call_service(
    service_id: str, request: Request, engine: EngineDep, caller: CallerDep
) -> JSONResponse:
    spec = engine.service(service_id)
    hook_request = await read_hook_request(request, engine.settings)
    return _respond(await run(engine, spec, hook_request, caller))


@router.post("/cds-services/{service_id}/feedback")
async def receive_feedback(
    service_id: str, request: Request, engine: EngineDep, caller: CallerDep
) -> JSONResponse:
    """What clinicians did with the cards (F-1 to F-5): 200 `{}` once it is stored."""
    spec = engine.service(service_id)
    body = await read_feedback(request, engine.settings)
    await feedback.receive(engine, spec, body, caller)
    return JSONResponse({})
