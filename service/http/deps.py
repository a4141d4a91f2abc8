"""FastAPI dependencies: what an endpoint may ask for, created once per app."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from service.cds.engine import Engine
from service.settings import Settings


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_settings(request: Request) -> Settings:
    return get_engine(request).settings


EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
