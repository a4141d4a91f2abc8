"""A FHIR server stand-in for the FHIR-fallback benchmark: fixed answers, each after a delay.

The routes file (`BENCH_UPSTREAM_ROUTES`, written by bench.run) maps a path to a
body and a delay in seconds, so the service's missing prefetch queries meet a
server whose slowest query and sum of queries are known. It runs under uvicorn
like the servers under test (asyncio sleeps, so concurrent queries wait
concurrently, as on a real server), on the client's CPU.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

ROUTES_VARIABLE = "BENCH_UPSTREAM_ROUTES"


def create_upstream_app() -> Starlette:
    routes = json.loads(Path(os.environ[ROUTES_VARIABLE]).read_text())
    answers = {
        path: (float(r["delay_s"]), json.dumps(r["body"]).encode()) for path, r in routes.items()
    }

    async def answer(request: Request) -> Response:
        found = answers.get(request.url.path)
        if found is None:
            return Response(b'{"resourceType": "OperationOutcome", "issue": []}', 404)
        delay_s, body = found
        await asyncio.sleep(delay_s)
        return Response(body, media_type="application/fhir+json")

    return Starlette(routes=[Route("/{path:path}", answer)])
