"""FastAPI dependencies: what an endpoint may ask for, created once per app.

They are `async def` although they do not wait for anything: FastAPI runs a plain
`def` dependency in its thread pool, a hand-off to another thread and back on every
request for an attribute lookup.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from service.cds.engine import Engine


async def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


EngineDep = Annotated[Engine, Depends(get_engine)]
