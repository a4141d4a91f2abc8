"""Processes under test: uvicorn on a loopback port, pinned to one CPU, its peak memory read.

The service runs as the image runs it (`footdrop-cds serve`, here with one
worker); the floor and the stand-in FHIR server run under uvicorn with the
options that command gives uvicorn, so the only difference between the
service and the floor is the application.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

from service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SERVICE_APP = "service.app:create_app"
FLOOR_APP = "bench.floor:create_floor_app"
UPSTREAM_APP = "bench.upstream:create_upstream_app"
#: The CPU the server under test runs on; the load generator and the rest use the other.
SERVER_CPU = 0
CLIENT_CPU = 1
START_TIMEOUT_S = 60.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
IDLE_WINDOW_S = 0.1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _can_pin(cpu: int) -> bool:
    return cpu < (os.cpu_count() or 1) and _has("taskset")


def pinned(command: list[str], cpu: int) -> list[str]:
    """`command` run by `taskset` on one CPU (unpinned where taskset or the CPU is missing)."""
    return ["taskset", "-c", str(cpu), *command] if _can_pin(cpu) else command


def pin(pid: int, cpu: int) -> None:
    """Move a running process, every thread of it, to one CPU (`taskset -a -p`)."""
    if _can_pin(cpu):
        subprocess.run(
            ["taskset", "-a", "-p", "-c", str(cpu), str(pid)],
            check=True,
            stdout=subprocess.DEVNULL,
        )


def _has(program: str) -> bool:
    return any(
        (Path(directory) / program).is_file()
        for directory in os.environ.get("PATH", "").split(os.pathsep)
    )


def client_cpu_affinity() -> None:
    """Move this process (the orchestrator, the Python client) off the server's CPU."""
    if (os.cpu_count() or 1) > CLIENT_CPU:
        os.sched_setaffinity(0, {CLIENT_CPU})


@dataclass
class Server:
    """A running uvicorn process."""

    process: subprocess.Popen[bytes]
    base_url: str
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def pids(self) -> list[int]:
        """The process and its descendants (uvicorn workers, if any)."""
        found, queue = [], [self.pid]
        while queue:
            pid = queue.pop()
            found.append(pid)
            with contextlib.suppress(OSError):
                for task in Path(f"/proc/{pid}/task").iterdir():
                    queue.extend(int(c) for c in (task / "children").read_text().split())
        return found

    def cpu_seconds(self) -> float:
        """User and system CPU time of the process tree so far (all threads)."""
        ticks = 0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                ticks += int(fields[11]) + int(fields[12])
        return ticks / CLOCK_TICKS

    def wait_idle(self, timeout_s: float = 300.0) -> None:
        """Wait until the server stops using CPU: work a client gave up on still runs."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            before = self.cpu_seconds()
            time.sleep(IDLE_WINDOW_S)
            if self.cpu_seconds() - before < IDLE_WINDOW_S / 2:
                return

    def reset_peak_rss(self) -> None:
        """Start a new peak (Linux `clear_refs` 5), so the next reading covers one phase only."""
        for pid in self.pids():
            with contextlib.suppress(OSError):
                Path(f"/proc/{pid}/clear_refs").write_text("5")

    def peak_rss_mb(self) -> float:
        """Sum of the peak resident set sizes (VmHWM) of the process tree since the last reset."""
        total_kb = 0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        total_kb += int(line.split()[1])
        return total_kb / 1024


def uvicorn_stack() -> str:
    """How the servers run here: uvicorn takes httptools and uvloop when they are installed."""
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    floor = " ".join(server_command(FLOOR_APP, 0)[1:]).replace(" --port 0", "")
    return (
        f"uvicorn {version('uvicorn')} ({http}, {loop}, 1 worker); the service as the image "
        f"runs it (footdrop-cds serve, CDS_WORKERS=1), the others as python {floor}"
    )


def server_command(app: str, port: int) -> list[str]:
    """The service as deployed (docker/Dockerfile: `footdrop-cds serve`), one worker; any
    other app under uvicorn with the options `service/cli/serve.py` gives it (no access
    log, no server header, the same connection limit and keep-alive)."""
    if app == SERVICE_APP:
        serve = Path(sys.executable).with_name("footdrop-cds")
        return [str(serve), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    settings = Settings()
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--no-server-header",
        "--limit-concurrency",
        str(settings.limit_concurrency),
        "--timeout-keep-alive",
        str(settings.keep_alive_s),
    ]


@dataclass(frozen=True)
class Launch:
    """A server to start: its app, environment, log file, CPU and port (chosen up front,
    so one server's URL can go into another's settings)."""

    app: str
    env: Mapping[str, str]
    log: Path
    cpu: int = SERVER_CPU
    port: int = field(default_factory=free_port)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.contextmanager
def running(*launches: Launch) -> Iterator[list[Server]]:
    """The servers, started together; stopped (SIGTERM, then SIGKILL) at the end.

    They start on every CPU (importing the service is most of a start), then each is
    pinned to its CPU before the first request.
    """
    servers: list[Server] = []
    try:
        for launch in launches:
            with launch.log.open("wb") as out:
                process = subprocess.Popen(
                    server_command(launch.app, launch.port),
                    cwd=ROOT,
                    env={**os.environ, **launch.env},
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            servers.append(Server(process, launch.base_url, launch.log))
        for server, launch in zip(servers, launches, strict=True):
            _wait_until_listening(server, launch.port)
            pin(server.pid, launch.cpu)
        yield servers
    finally:
        for server in servers:
            server.process.terminate()
        for server in servers:
            try:
                server.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait()


def _wait_until_listening(server: Server, port: int) -> None:
    """uvicorn binds its socket after the app's start-up, so a connection means ready."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited at start-up; see {server.log}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"server did not start in {START_TIMEOUT_S:.0f} s; see {server.log}")
