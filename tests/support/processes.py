"""Real server processes on loopback ports, started and stopped by the test that needs them."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def environment(**settings: str) -> dict[str, str]:
    """This process's environment without CDS_ settings, the venv first on PATH, plus `settings`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("CDS_")}
    base.pop("PROMETHEUS_MULTIPROC_DIR", None)
    base["PATH"] = f"{BIN}{os.pathsep}{base.get('PATH', '')}"
    return {**base, **settings}


def finished(
    command: Sequence[str], timeout: float = 120, **settings: str
) -> subprocess.CompletedProcess[str]:
    """Run `command` to its end with these CDS_* settings, from the project root; its
    output is captured as text (a command that ends in error is the test's to judge)."""
    return subprocess.run(
        list(command),
        cwd=ROOT,
        env=environment(**settings),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class Server:
    base_url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def running(
    command: Sequence[str], port: int, env: Mapping[str, str], log: Path, cwd: Path = ROOT
) -> Iterator[Server]:
    """Start `command`, wait until /health answers on `port`, stop it (its process group) after."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise AssertionError(f"server exited {process.returncode}:\n{server.output()}")
            try:
                if httpx.get(f"{server.base_url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"server did not start:\n{server.output()}")
            time.sleep(0.1)
        yield server
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM to the process group (uvicorn's workers too), SIGKILL if it lingers."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
    return process.returncode
