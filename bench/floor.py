"""The floor: what FastAPI under the same uvicorn costs for the same request.

One endpoint for every path the benchmark calls: it reads the body, parses it
with the service's strict JSON parser (the same depth limit) and answers
`{"cards": []}`. No authentication, no model, no rules; whatever the service
spends beyond this is its own.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from service.fhir.strict_json import load_object
from service.settings import Settings


def create_floor_app() -> FastAPI:
    max_depth = Settings().max_json_depth
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/{path:path}")
    async def parse_only(request: Request) -> JSONResponse:
        load_object((await request.body()).decode("utf-8"), max_depth)
        return JSONResponse({"cards": []})

    return app
