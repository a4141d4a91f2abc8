"""HTTP endpoints of CDS Hooks: discovery, service calls and feedback. Each hands off once.

The `responses` declared here are what the OpenAPI document shows
(`service.http.openapi` adds the request bodies): the statuses the service really
answers, each error with its OperationOutcome body. The pages for people
(documentation, card gallery) are in `service.http.pages`; the committee's
analytics in `service.http.analytics`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict

from service.cds import feedback
from service.cds.models import CdsResponse, Discovery
from service.cds.pipeline import run
from service.http.auth import CallerDep
from service.http.body import admitted_hook_request, read_feedback
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
#: What every call with a body may answer, besides its own 400 (and 413 limit).
CALL_ERRORS: dict[int | str, dict[str, Any]] = {
    **UNAUTHORIZED,
    404: error("No CDS service with this id"),
    415: error("Content-Type is not application/json"),
    500: error("Internal error; logged without request data"),
}
HOOK_ERRORS: dict[int | str, dict[str, Any]] = {
    **CALL_ERRORS,
    400: error("The body is not a valid request for this service's hook"),
    412: error("Essential patient data could not be obtained (prefetch or FHIR server)"),
    413: error("The body is larger than CDS_MAX_REQUEST_BYTES"),
}
FEEDBACK_ERRORS: dict[int | str, dict[str, Any]] = {
    **CALL_ERRORS,
    400: error("The body is not valid feedback (the OperationOutcome names the field)"),
    413: error("The body is larger than 1 MB (or CDS_MAX_REQUEST_BYTES if smaller)"),
    503: error("The feedback could not be stored now: send it again after Retry-After"),
}


class FeedbackStored(BaseModel):
    """`{}`: the feedback is committed (the same report sent again is stored once)."""

    model_config = ConfigDict(extra="forbid")


def _respond(model: BaseModel) -> Response:
    """The model as compact UTF-8 JSON, written by pydantic's serializer in one step (no dict
    in between); exclude_none: the spec forbids null values in responses (G-2)."""
    return Response(model.model_dump_json(exclude_none=True), media_type="application/json")


@router.get(
    "/cds-services",
    response_model=Discovery,
    responses=UNAUTHORIZED,
    summary="CDS Hooks discovery",
)
def discovery(engine: EngineDep, caller: CallerDep) -> Response:
    version = {VERSION_EXTENSION: software_version()}
    services = [
        spec.descriptor().model_copy(update={"extension": version})
        for spec in engine.services.values()
    ]
    return _respond(Discovery(services=services, extension=version))


@router.post(
    "/cds-services/{service_id}",
    response_model=CdsResponse,
    responses=HOOK_ERRORS,
    summary="Call a CDS service",
)
async def call_service(
    service_id: str, request: Request, engine: EngineDep, caller: CallerDep
) -> Response:
    spec = engine.service(service_id)
    record = facts(request)
    record.service = spec.id
    async with admitted_hook_request(request, engine.settings, engine.admission) as hook_request:
        record.hook_instance = hook_request.hookInstance
        response = await run(engine, spec, hook_request, caller)
    for card in response.cards:
        topic = card.source.topic.code if card.source.topic else "none"
        CARDS_ISSUED.labels(service=spec.id, topic=topic, indicator=card.indicator).inc()
        record.cards[card.indicator] += 1
    return _respond(response)


@router.post(
    "/cds-services/{service_id}/feedback",
    response_model=FeedbackStored,
    responses=FEEDBACK_ERRORS,
    summary="Feedback on cards: accepted or overridden",
    description="CDS Hooks feedback (F-1 to F-5): 200 `{}` once it is committed. The same "
    "report sent again is stored once; feedback on a card the log does not know is kept.",
)
async def receive_feedback(
    service_id: str, request: Request, engine: EngineDep, caller: CallerDep
) -> JSONResponse:
    """What clinicians did with the cards (F-1 to F-5): 200 `{}` once it is stored."""
    spec = engine.service(service_id)
    body = await read_feedback(request, engine.settings)
    await feedback.receive(engine, spec, body, caller)
    return JSONResponse({})
