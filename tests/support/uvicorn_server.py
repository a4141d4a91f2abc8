"""The service as `make run` starts it: uvicorn on a free loopback port, as a subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
UVICORN = [sys.executable, "-m", "uvicorn", "--factory", "service.app:create_app"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def uvicorn_server(directory: Path) -> Iterator[tuple[str, Path]]:
    """(base URL, log file) of a started server whose public base URL is its own address."""
    port = free_port()
    log = directory / "server.log"
    env = {
        **os.environ,
        "CDS_DATABASE_URL": f"sqlite:///{directory / 'cds.db'}",
        "CDS_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
    }
    with log.open("w") as out:
        process = subprocess.Popen(
            [*UVICORN, "--port", str(port)], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
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
