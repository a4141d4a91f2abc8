"""The service as the image and `make run` start it: `footdrop-cds serve` on a real socket."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from service.cli.demo import DEMO_ISSUER, DEMO_KID, Signer
from tests.conftest import PATIENT_HASH_KEY
from tests.support import dockerfile
from tests.support.processes import ROOT, environment, free_port, running, stop

EXAMPLE = json.loads((ROOT / "examples" / "patient-view.json").read_text())
PV = "/cds-services/footdrop-patient-view"
DEMO_KEY = ROOT / "docker" / "demo-issuer" / "private-key.pem"
DEMO_JWKS = ROOT / "docker" / "demo-issuer" / "jwks.json"


def image_command(port: int) -> list[str]:
    """The Dockerfile's CMD, listening on loopback and a free port instead of 0.0.0.0:8080."""
    command = dockerfile.exec_form(dockerfile.one("CMD"))
    command[command.index("--host") + 1] = "127.0.0.1"
    command[command.index("--port") + 1] = str(port)
    return command


def calls_counted(base_url: str) -> float:
    text = httpx.get(f"{base_url}/metrics", timeout=5).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "footdrop_cds_http_request_duration_seconds_count"
        and sample.labels.get("endpoint") == "call_service"
    )


def test_the_image_command_serves_with_its_workers(tmp_path: Path) -> None:
    """The image's command and settings (jwt mode, two workers); only paths and port local."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    image_env = dockerfile.environment()
    local = {
        "CDS_DATABASE_URL": f"sqlite:///{tmp_path / 'cds.db'}",
        "CDS_PUBLIC_BASE_URL": base,
        "CDS_TRUSTED_ISSUERS": json.dumps({DEMO_ISSUER: {"jwks_file": str(DEMO_JWKS)}}),
        "CDS_PATIENT_HASH_KEY": PATIENT_HASH_KEY,
        "TMPDIR": str(tmp_path),
    }
    env = environment(**{**{k: v for k, v in image_env.items() if k.startswith("CDS_")}, **local})
    signer = Signer.from_file(DEMO_KEY, DEMO_ISSUER, DEMO_KID)
    with running(image_command(port), port, env, tmp_path / "server.log") as server:
        assert httpx.get(f"{server.base_url}/ready", timeout=5).json()["status"] == "ready"
        assert httpx.post(server.base_url + PV, json=EXAMPLE, timeout=10).status_code == 401
        for _ in range(6):
            token = signer.token(base + PV)
            headers = {"Authorization": f"Bearer {token}"}
            response = httpx.post(server.base_url + PV, json=EXAMPLE, headers=headers, timeout=10)
            assert response.status_code == 200
        # Whichever worker answers /metrics, it reports the calls of both.
        assert calls_counted(server.base_url) == 7
        assert list(tmp_path.glob("footdrop-cds-metrics-*"))
        assert stop(server.process) == 0
        log = server.output()
    assert log.count("Started server process") == int(image_env["CDS_WORKERS"]) == 2
    records = [json.loads(line) for line in log.splitlines() if line.strip()]
    assert any(r["message"] == "request" and r.get("service") for r in records)
    assert not list(tmp_path.glob("footdrop-cds-metrics-*")), "metric files removed at exit"


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize("given_base_url", [None, "https://cds.example.test"])
def test_make_run_port_moves_the_public_base_url(
    tmp_path: Path, given_base_url: str | None
) -> None:
    installed = subprocess.run(
        ["make", "-q", ".venv/.installed-run"], cwd=ROOT, capture_output=True, check=False
    )
    if installed.returncode != 0:
        pytest.skip("the project's .venv is not installed and current (make install)")
    port = free_port()
    command = ["make", "--no-print-directory", "run", f"PORT={port}"]
    if given_base_url:
        command.append(f"CDS_PUBLIC_BASE_URL={given_base_url}")
    env = environment(CDS_DATABASE_URL=f"sqlite:///{tmp_path / 'cds.db'}")
    with running(command, port, env, tmp_path / "make.log") as server:
        cards = httpx.post(server.base_url + PV, json=EXAMPLE, timeout=10).json()["cards"]
    expected = given_base_url or f"http://127.0.0.1:{port}"
    assert {card["source"]["url"] for card in cards} == {f"{expected}/docs/clinical"}


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_installs_only_the_runtime_lock_with_progress() -> None:
    recipe = subprocess.run(
        ["make", "-n", "-B", ".venv/.installed-run"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    install = next(line for line in recipe.splitlines() if "-r requirements/" in line)
    assert "-r requirements/run.txt" in install and "--require-hashes" in install
    assert "--quiet" not in install and "--progress-bar on" in install
    assert "dev.txt" not in recipe and "[dev]" not in recipe
