"""The Dockerfile is kept correct by construction (no Docker engine runs here).

These checks read it and verify what can be verified without building: the
module it starts exists and is an ASGI app, the port agrees everywhere, the
process does not run as root and every path it copies exists.
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = (ROOT / "docker" / "Dockerfile").read_text()


def _cmd() -> list[str]:
    match = re.search(r"^CMD (\[.*\])$", DOCKERFILE, re.MULTILINE)
    assert match, "Dockerfile needs an exec-form CMD"
    command: list[str] = json.loads(match.group(1))
    return command


def test_cmd_starts_the_asgi_app_that_exists() -> None:
    command = _cmd()
    assert command[:2] == ["uvicorn", "--factory"]
    module_name, attribute = command[2].split(":")
    assert (module_name, attribute) == ("service.app", "create_app")
    module = importlib.import_module(module_name)
    assert callable(getattr(module, attribute))


def test_port_agrees_between_cmd_expose_and_settings() -> None:
    command = _cmd()
    port = command[command.index("--port") + 1]
    assert re.search(rf"^EXPOSE {port}$", DOCKERFILE, re.MULTILINE)
    assert port == "8080"
    from service.settings import Settings

    assert Settings.model_fields["public_base_url"].default.endswith(f":{port}")
    assert f"--port {port}" in (ROOT / "Makefile").read_text()


def test_runs_as_a_non_root_user() -> None:
    users = re.findall(r"^USER (\S+)$", DOCKERFILE, re.MULTILINE)
    assert users and users[-1] not in {"root", "0"}


def test_every_copied_path_exists() -> None:
    for sources in re.findall(r"^COPY (.+) \S+$", DOCKERFILE, re.MULTILINE):
        for source in sources.split():
            assert (ROOT / source).exists(), source


def test_database_lives_in_a_directory_the_user_owns() -> None:
    match = re.search(r"CDS_DATABASE_URL=sqlite:///(/\S+)/[^/\s]+", DOCKERFILE)
    assert match
    assert f"chown cds {match.group(1)}" in DOCKERFILE
