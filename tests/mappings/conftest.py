"""Shared fixtures: the packaged value sets, loaded once per session."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mappings.matcher import DEFAULT_DIRECTORY, ValueSetIndex

VALUESET_FILES = sorted(DEFAULT_DIRECTORY.glob("*.json"))


@pytest.fixture(scope="session")
def index() -> ValueSetIndex:
    return ValueSetIndex.load()


def read_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data
