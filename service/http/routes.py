"""HTTP endpoints of CDS Hooks: discovery, service calls and the documentation page.

Each hands off once. The `responses` declared here are what the OpenAPI document
shows (`service.http.openapi` adds the request bodies): the statuses the service
really answers, each error with its OperationOutcome body.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from markdown_it import MarkdownIt

from service.cds.models import CdsResponse, Discovery
from service.cds.pipeline import run
from service.http.auth import CallerDep
from service.http.body import read_hook_request
from service.http.deps import EngineDep
from service.http.errors import OperationOutcome
from service.http.observe import facts
from service.observability.metrics import CARDS_ISSUED
from service.version import software_version

router = APIRouter(tags=["CDS Hooks"])

#: Discovery `extension` key (and each service's) carrying the software version. CDS Hooks
#: 3.0 gives `services[].version` the meaning of a spec version, so it is not used for this.
VERSION_EXTENSION = "org.footdrop-cds.version"


def error(description: str) -> dict[str, Any]:
    return {"model": OperationOutcome, "description": description}


UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: error("With CDS_AUTH_MODE=jwt: the JWT is missing or not valid")
}
HOOK_ERRORS: dict[int | str, dict[str, Any]] = {
    400: error("The body is not a valid request for this service's hook"),
    **UNAUTHORIZED,
    404: error("No CDS service with this id"),
    412: error("Essential patient data could not be obtained (prefetch or FHIR server)"),
    413: error("The body is larger than CDS_MAX_REQUEST_BYTES"),
    415: error("Content-Type is not application/json"),
    500: error("Internal error; logged without request data"),
}


def _respond(model: Any) -> JSONResponse:
    # exclude_none: the spec forbids null values in responses (G-2).
    return JSONResponse(model.model_dump(mode="json", exclude_none=True))


@router.get(
    "/cds-services",
    response_model=Discovery,
    responses=UNAUTHORIZED,
    summary="CDS Hooks discovery",
)
def discovery(engine: EngineDep, caller: CallerDep) -> JSONResponse:
    version = {VERSION_EXTENSION: software_version()}
    services = [
        spec.descriptor().model_copy(update={"extension": version})
        for spec in engine.services.values()
    ]
    return _respond(Discovery(services=services, extension=version))


@lru_cache(maxsize=4)
def _as_html(markdown: str) -> str:
    """The Markdown page as a standalone HTML document (raw HTML in the source is escaped)."""
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    title = markdown.splitlines()[0].lstrip("# ") if markdown else "footdrop-cds"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>"
        "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;"
        "padding:0 1rem;line-height:1.5}"
        "table{border-collapse:collapse;display:block;overflow-x:auto}"
        "td,th{border:1px solid #ccc;padding:.3rem .5rem;vertical-align:top}"
        "blockquote{border-left:4px solid #ccc;margin-left:0;padding-left:1rem}"
        f"</style></head><body>\n{body}</body></html>\n"
    )


@router.get(
    "/docs/clinical",
    response_class=Response,
    summary="The implemented clinical logic (every card's source.url)",
    responses={
        200: {
            "description": "HTML for a browser (Accept: text/html), Markdown otherwise",
            "content": {
                "text/html": {"schema": {"type": "string"}},
                "text/markdown": {"schema": {"type": "string"}},
            },
        }
    },
)
def clinical_documentation(request: Request, engine: EngineDep) -> Response:
    """The implemented clinical logic, linked from every card's `source.url` (public)."""
    vary = {"Vary": "Accept"}
    if "text/html" in request.headers.get("accept", ""):
        return HTMLResponse(_as_html(engine.clinical_doc), headers=vary)
    return PlainTextResponse(
        engine.clinical_doc, media_type="text/markdown; charset=utf-8", headers=vary
    )


@router.post(
    "/cds-services/{service_id}",
    response_model=CdsResponse,
    responses=HOOK_ERRORS,
    summary="Call a CDS service",
)
async def call_service(
    service_id: str, request: Request, engine: EngineDep, caller: CallerDep
) -> JSONResponse:
    spec = engine.service(service_id)
    record = facts(request)
    record.service = spec.id
    hook_request = await read_hook_request(request, engine.settings)
    record.hook_instance = hook_request.hookInstance
    response = await run(engine, spec, hook_request, caller)
    for card in response.cards:
        topic = card.source.topic.code if card.source.topic else "none"
        CARDS_ISSUED.labels(service=spec.id, topic=topic, indicator=card.indicator).inc()
        record.cards[card.indicator] += 1
    return _respond(response)
