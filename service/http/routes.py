"""HTTP endpoints of CDS Hooks: discovery and service calls. Each hands off once.

The pages for people (documentation, card gallery) are in `service.http.pages`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from service.cds.models import Discovery
from service.cds.pipeline import run
from service.http.auth import CallerDep
from service.http.body import read_hook_request
from service.http.deps import EngineDep

router = APIRouter()


def _respond(model: Any) -> JSONResponse:
    # exclude_none: the spec forbids null values in responses (G-2).
    return JSONResponse(model.model_dump(mode="json", exclude_none=True))


@router.get("/cds-services")
def discovery(engine: EngineDep, caller: CallerDep) -> JSONResponse:
    services = [spec.descriptor() for spec in engine.services.values()]
    return _respond(Discovery(services=services))


@router.post("/cds-services/{service_id}")
async def call_service(
    service_id: str, request: Request, engine: EngineDep, caller: CallerDep
) -> JSONResponse:
    spec = engine.service(service_id)
    hook_request = await read_hook_request(request, engine.settings)
    return _respond(await run(engine, spec, hook_request, caller))
