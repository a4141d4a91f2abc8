"""Endpoints for operators: liveness, readiness, metrics and the version.

`/health` says the process answers. `/ready` says the content is loaded (set at
start-up, cleared when shutdown begins) and reports the database's state as a
dependency: an unreachable or hung database makes the answer `degraded`, still
200, so an outage of the shared database never takes every replica out of
service (hooks answer without it where they can). `/metrics` is the Prometheus
exposition; `/version` the software and clinical content versions.
"""

from __future__ import annotations

import asyncio
from typing import Literal

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from service.cds.engine import Engine
from service.observability.metrics import exposition
from service.storage.store import Store
from service.version import software_version

router = APIRouter(tags=["operations"])

#: How long /ready waits for the database before calling it degraded (probes time out at 1 s+).
DATABASE_CHECK_S = 0.8


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "degraded", "starting"]
    """`degraded`: ready, with a dependency down (see `database`)."""
    content: Literal["loaded", "not loaded"]
    database: Literal["ok", "unavailable", "not checked"]


class ContentVersion(BaseModel):
    version: str
    date: str
    status: str


class Version(BaseModel):
    version: str
    """The software version (also discovery's `org.footdrop-cds.version` extension)."""
    content: ContentVersion
    """The clinical content (card texts, value sets) version, as on every card."""


class DatabaseCheck:
    """Pings the database off the event loop, at most one ping in flight.

    A hung database leaves its ping running past the deadline; the next probes
    report `unavailable` without starting another, so probes never pile up threads.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._pending: asyncio.Future[None] | None = None

    async def state(self) -> Literal["ok", "unavailable"]:
        if self._pending is None or self._pending.done():
            self._pending = asyncio.ensure_future(anyio.to_thread.run_sync(self.store.ping))
            # A ping that fails after its deadline is collected here, not warned about.
            self._pending.add_done_callback(lambda done: done.cancelled() or done.exception())
        try:
            await asyncio.wait_for(asyncio.shield(self._pending), DATABASE_CHECK_S)
        except Exception:  # any database error, or the deadline
            return "unavailable"
        return "ok"


@router.get("/health", response_model=Health, summary="Liveness: the process answers")
def health() -> JSONResponse:
    return JSONResponse({"status": "ok"})


@router.get(
    "/ready",
    response_model=Readiness,
    summary="Readiness: content loaded; the database reported, never blocking",
    responses={503: {"model": Readiness, "description": "Starting up or shutting down"}},
)
async def ready(request: Request) -> JSONResponse:
    engine: Engine | None = getattr(request.app.state, "engine", None)
    if engine is None:
        body = Readiness(status="starting", content="not loaded", database="not checked")
        return JSONResponse(body.model_dump(), status_code=503)
    database = await request.app.state.database_check.state()
    status: Literal["ready", "degraded"] = "ready" if database == "ok" else "degraded"
    return JSONResponse(Readiness(status=status, content="loaded", database=database).model_dump())


@router.get(
    "/metrics",
    response_class=Response,
    summary="Prometheus metrics",
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics() -> Response:
    body, content_type = exposition()
    return Response(body, media_type=content_type)


@router.get("/version", response_model=Version, summary="Software and clinical content versions")
def version(request: Request) -> JSONResponse:
    content = request.app.state.engine.catalogue.content
    body = Version(
        version=software_version(),
        content=ContentVersion(version=content.version, date=content.date, status=content.status),
    )
    return JSONResponse(body.model_dump())
