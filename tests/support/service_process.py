"""The service as a real server process (uvicorn), for tests of workers, crashes and outages."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.processes import ROOT, Server, environment, free_port

UVICORN = [sys.executable, "-m", "uvicorn", "--factory", "service.app:create_app"]


class ServiceProcess(Server):
    """A `Server` that a test may also kill or stop on its own."""

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, nothing is flushed by the service."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@contextmanager
def service_process(
    log: Path, settings: dict[str, str], workers: int = 1, ready_timeout_s: float = 60
) -> Iterator[ServiceProcess]:
    """Start uvicorn with these CDS_* settings; yield once it answers HTTP, stop it after."""
    port = free_port()
    command = [*UVICORN, "--host", "127.0.0.1", "--port", str(port)]
    if workers > 1:
        command += ["--workers", str(workers)]
    with log.open("ab") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=environment(**settings), stdout=out, stderr=subprocess.STDOUT
        )
    server = ServiceProcess(f"http://127.0.0.1:{port}", process, log)
    try:
        wait_until_up(server, ready_timeout_s)
        yield server
    finally:
        server.stop()


def wait_until_up(server: ServiceProcess, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the service exited: {server.output()[-2000:]}")
        try:
            httpx.get(f"{server.base_url}/docs/clinical", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"the service did not start: {server.output()[-2000:]}")
