"""The service as `uvicorn --factory service.app:create_app` starts it (developers, interop)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


UVICORN = [sys.executable, "-m", "uvicorn", "--factory", "service.app:create_app"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    port = _free_port()
    log = tmp_path_factory.mktemp("uvicorn") / "server.log"
    env = {
        **os.environ,
        "CDS_DATABASE_URL": f"sqlite:///{log.parent / 'cds.db'}",
        "CDS_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
    }
    with log.open("w") as out:
        process = subprocess.Popen(
            [*UVICORN, "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(f"{base}/cds-services", timeout=1)
                break
            except httpx.ConnectError:
                time.sleep(0.1)
        yield base, log
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_discovery_over_a_real_socket(server: tuple[str, Path]) -> None:
    base, _ = server
    response = httpx.get(f"{base}/cds-services", timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert {s["id"] for s in response.json()["services"]} == {
        "footdrop-patient-view",
        "footdrop-order-select",
        "footdrop-order-sign",
    }


def test_start_up_says_auth_is_off(server: tuple[str, Path]) -> None:
    _, log = server
    assert "AUTH IS OFF" in log.read_text()


def test_source_url_of_cards_is_served(server: tuple[str, Path]) -> None:
    base, _ = server
    response = httpx.get(f"{base}/docs/clinical", timeout=5)
    assert response.status_code == 200
    assert response.text.startswith("# Foot-drop CDS: clinical logic")
