"""docker/Dockerfile read as instructions (no Docker engine runs here)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import ROOT

DOCKERFILE = ROOT / "docker" / "Dockerfile"


@dataclass(frozen=True)
class Instruction:
    stage: int
    keyword: str
    arguments: str


def instructions(path: Path = DOCKERFILE) -> list[Instruction]:
    """Instructions with continuation lines joined and comments dropped, numbered by stage."""
    text = re.sub(r"\\\n", " ", path.read_text())
    found, stage = [], -1
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, arguments = line.partition(" ")
        if keyword.upper() == "FROM":
            stage += 1
        found.append(Instruction(stage, keyword.upper(), " ".join(arguments.split())))
    return found


def final_stage(path: Path = DOCKERFILE) -> list[Instruction]:
    every = instructions(path)
    return [i for i in every if i.stage == every[-1].stage]


def exec_form(instruction: Instruction) -> list[str]:
    """The JSON array of an exec-form CMD (after any HEALTHCHECK options)."""
    match = re.search(r"(\[.*\])$", instruction.arguments)
    assert match, f"{instruction.keyword} must be in exec form"
    command: list[str] = json.loads(match.group(1))
    return command


def environment(path: Path = DOCKERFILE) -> dict[str, str]:
    """ENV of the final stage, as key=value pairs."""
    values = {}
    for instruction in final_stage(path):
        if instruction.keyword == "ENV":
            for pair in instruction.arguments.split():
                key, _, value = pair.partition("=")
                values[key] = value
    return values


def one(keyword: str, path: Path = DOCKERFILE) -> Instruction:
    (found,) = [i for i in final_stage(path) if i.keyword == keyword]
    return found
