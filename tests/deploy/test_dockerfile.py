"""docker/Dockerfile, checked without a Docker engine: what it copies, installs, runs and probes.

The command itself is started in tests/cli/test_serve.py, exactly as the image runs it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from service.settings import Settings
from tests.support import dockerfile
from tests.support.processes import ROOT, environment, free_port, running

STEPS = dockerfile.instructions()


def keywords(stage: int | None = None) -> list[str]:
    return [i.keyword for i in STEPS if stage is None or i.stage == stage]


def test_multi_stage_slim_and_the_runtime_gets_only_the_environment() -> None:
    bases = [i.arguments for i in STEPS if i.keyword == "FROM"]
    assert len(bases) == 2
    (image,) = [i.arguments for i in STEPS if i.keyword == "ARG" and "PYTHON_IMAGE" in i.arguments]
    assert re.search(r"python:3\.11-slim", image)
    runtime = dockerfile.final_stage()
    copied = [i.arguments for i in runtime if i.keyword == "COPY"]
    assert "--from=build /opt/venv /opt/venv" in copied
    assert not any(re.search(r"\bservice\b|requirements", c) for c in copied if "--from" not in c)


def test_dependencies_come_from_the_lock_in_their_own_layer_before_the_sources() -> None:
    build = [i for i in STEPS if i.stage == 0]
    texts = [f"{i.keyword} {i.arguments}" for i in build]
    lock_copy = texts.index("COPY requirements/run.txt requirements/run.txt")
    lock_install = next(
        n for n, t in enumerate(texts) if "--require-hashes" in t and "-r requirements/run.txt" in t
    )
    sources = texts.index("COPY service ./service")
    assert lock_copy < lock_install < sources
    project_install = texts[-1]
    assert "--no-deps" in project_install and "--no-build-isolation" in project_install


def test_every_copied_path_exists_and_reaches_the_build_context() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    for instruction in STEPS:
        if instruction.keyword != "COPY" or instruction.arguments.startswith("--from"):
            continue
        *sources, _ = instruction.arguments.split()
        for source in sources:
            assert (ROOT / source).exists(), source
            assert source.split("/")[0] not in ignored, f"{source} is in .dockerignore"


def test_runs_as_a_non_root_user_owning_the_declared_data_volume() -> None:
    user = dockerfile.one("USER").arguments
    assert user not in {"root", "0"}
    volume = dockerfile.exec_form(dockerfile.one("VOLUME"))
    database = dockerfile.environment()["CDS_DATABASE_URL"]
    match = re.fullmatch(r"sqlite:///(/\S+)/[^/]+", database)
    assert match and volume == [match.group(1)]
    (setup,) = [i.arguments for i in dockerfile.final_stage() if "useradd" in i.arguments]
    assert f"--uid {user}" in setup and f"chown cds {match.group(1)}" in setup


def test_command_port_and_settings_agree() -> None:
    command = dockerfile.exec_form(dockerfile.one("CMD"))
    assert command[:2] == ["footdrop-cds", "serve"]
    port = command[command.index("--port") + 1]
    assert dockerfile.one("EXPOSE").arguments == port == "8080"
    assert command[command.index("--host") + 1] == "0.0.0.0"
    env = dockerfile.environment()
    assert env["CDS_WORKERS"] == "2" == str(Settings.model_fields["workers"].default)
    assert env["CDS_AUTH_MODE"] == "jwt", "the image verifies EHR tokens unless told not to"
    for name in env:
        if name.startswith("CDS_"):
            assert name.removeprefix("CDS_").lower() in Settings.model_fields, name


def test_healthcheck_probes_health_and_fails_when_nothing_answers(tmp_path: Path) -> None:
    check = dockerfile.one("HEALTHCHECK")
    command = dockerfile.exec_form(check)
    assert command[0] == "python" and "http://127.0.0.1:8080/health" in command[-1]
    port = free_port()
    probe = [sys.executable, *command[1:-1], command[-1].replace(":8080/", f":{port}/")]
    assert subprocess.run(probe, capture_output=True, check=False).returncode != 0
    env = environment(CDS_DATABASE_URL=f"sqlite:///{tmp_path / 'cds.db'}")
    serve = ["footdrop-cds", "serve", "--port", str(port), "--workers", "1"]
    with running(serve, port, env, tmp_path / "server.log"):
        assert subprocess.run(probe, capture_output=True, check=False).returncode == 0
