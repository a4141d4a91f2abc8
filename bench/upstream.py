"""A FHIR server stand-in for the FHIR-fallback benchmark: fixed answers, each after a delay.

The routes file (`BENCH_UPSTREAM_ROUTES`, written by bench.run) maps a path to a
body and a delay in seconds, so the service's missing prefetch queries meet a
server whose slowest query and sum of queries are known. It runs under uvicorn
like the servers under test (asyncio sleeps, so concurrent queries wait
concurrently, as on a real server), on the client's CPU. `GET ARRIVALS_PATH`
hands over (and forgets) when each query arrived, so the benchmark can tell
queries sent together from queries sent one after another, whatever the load.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

ROUTES_VARIABLE = "BENCH_UPSTREAM_ROUTES"
ARRIVALS_PATH = "/_bench/arrivals"


def create_upstream_app() -> Starlette:
    routes = json.loads(Path(os.environ[ROUTES_VARIABLE]).read_text())
    answers = {
        path: (float(route["delay_s"]), json.dumps(route["body"]).encode())
        for path, route in routes.items()
    }
    arrivals: list[float] = []

    async def answer(request: Request) -> Response:
        arrivals.append(time.monotonic())
        found = answers.get(request.url.path)
        if found is None:
            return Response(b'{"resourceType": "OperationOutcome", "issue": []}', 404)
        delay_s, body = found
        await asyncio.sleep(delay_s)
        return Response(body, media_type="application/fhir+json")

    async def handed_over(request: Request) -> Response:
        seen = list(arrivals)
        arrivals.clear()
        return JSONResponse(seen)

    return Starlette(routes=[Route(ARRIVALS_PATH, handed_over), Route("/{path:path}", answer)])
