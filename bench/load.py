"""Load generators: wrk (with bench/rotate.lua) and a small asyncio HTTP/1.1 client.

Both send the same requests: the calls of a plan in turn, each with the next
pre-signed token of its path (a JWT is accepted once) and a new hookInstance,
over `concurrency` keep-alive connections, until a number of answers or a time
limit, whichever comes first. wrk is preferred; the Python client stands in
where wrk is not installed (`Bench.client_check` runs both on the floor, back
to back, to show when the client is the limit).
"""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import subprocess
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bench.servers import CLIENT_CPU, pinned

#: Placeholder for the hookInstance in request bodies; every request puts a new UUID there.
SLOT = "ffffffff-ffff-4fff-bfff-ffffffffffff"
LUA_SCRIPT = Path(__file__).with_name("rotate.lua")
#: A request slower than this counts as failed (wrk's own default is 2 s).
REQUEST_TIMEOUT_S = 300


@dataclass(frozen=True)
class Call:
    """One kind of request: the path and a body holding `SLOT` (or not)."""

    path: str
    body: bytes


@dataclass(frozen=True)
class Outcome:
    """What the client saw over one timed run."""

    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    not_ok: int
    """Answers other than 200 (a refused token shows here)."""
    failed: int
    """Connections lost or requests timed out."""
    replayed: int
    """Times the token pool ran dry and tokens were used again (the service refuses those)."""

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def hook_instance_prefix() -> str:
    """The first 24 characters of the run's hookInstances; a counter fills the last 12."""
    return str(uuid.uuid4())[:24]


class LoadGenerator(Protocol):
    name: str

    def run(
        self,
        base_url: str,
        calls: Sequence[Call],
        tokens: Mapping[str, Sequence[str]],
        concurrency: int,
        seconds: float,
        limit: int,
        *,
        wrap: bool = False,
    ) -> Outcome:
        """`limit` answers or `seconds`, whichever comes first."""
        ...


class Wrk:
    """wrk on the client CPU, one thread (the client has one CPU), with bench/rotate.lua."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        found = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
        version = (found.stdout or found.stderr).split("\n", 1)[0].split(" [")[0]
        self.name = f"{version} (1 thread, Lua: pre-signed token per request)"
        self._runs = 0

    @staticmethod
    def available() -> bool:
        return shutil.which("wrk") is not None

    def run(
        self,
        base_url: str,
        calls: Sequence[Call],
        tokens: Mapping[str, Sequence[str]],
        concurrency: int,
        seconds: float,
        limit: int,
        *,
        wrap: bool = False,
    ) -> Outcome:
        self._runs += 1
        folder = self.workdir / f"wrk-{self._runs}"
        folder.mkdir(parents=True)
        lines = [
            f"slot\t{SLOT}",
            f"prefix\t{hook_instance_prefix()}",
            f"wrap\t{int(wrap)}",
            f"limit\t{limit}",
        ]
        token_files: dict[str, Path] = {}
        for number, call in enumerate(calls):
            if call.path not in token_files:
                token_files[call.path] = folder / f"tokens-{len(token_files)}.txt"
                token_files[call.path].write_text("\n".join(tokens[call.path]) + "\n")
            body = folder / f"body-{number}.json"
            body.write_bytes(call.body)
            lines.append(f"call\t{call.path}\t{body}\t{token_files[call.path]}")
        manifest = folder / "manifest.tsv"
        manifest.write_text("\n".join(lines) + "\n")
        command = [
            "wrk",
            "-t1",
            f"-c{concurrency}",
            f"-d{max(1, math.ceil(seconds))}s",
            f"--timeout={REQUEST_TIMEOUT_S}s",
            "-s",
            str(LUA_SCRIPT),
            base_url,
            "--",
            str(manifest),
        ]
        done = subprocess.run(
            pinned(command, CLIENT_CPU), capture_output=True, text=True, check=True
        )
        for line in done.stdout.splitlines():
            if line.startswith("BENCH-RESULT "):
                result = json.loads(line.removeprefix("BENCH-RESULT "))
                return Outcome(
                    requests=result["requests"],
                    seconds=result["duration_us"] / 1e6,
                    p50_ms=result["p50_us"] / 1000,
                    p95_ms=result["p95_us"] / 1000,
                    p99_ms=result["p99_us"] / 1000,
                    not_ok=result["not_ok"],
                    failed=result["socket_errors"] + result["timeouts"],
                    replayed=result["replayed"],
                )
        raise RuntimeError(f"wrk printed no result:\n{done.stdout}\n{done.stderr}")


class PythonClient:
    """asyncio streams, one keep-alive connection per concurrent client, in this process."""

    name = "python-asyncio (bench/load.py)"

    def run(
        self,
        base_url: str,
        calls: Sequence[Call],
        tokens: Mapping[str, Sequence[str]],
        concurrency: int,
        seconds: float,
        limit: int,
        *,
        wrap: bool = False,
    ) -> Outcome:
        return asyncio.run(_drive(base_url, calls, tokens, concurrency, seconds, limit, wrap))


@dataclass
class _Tally:
    latencies: list[float]
    not_ok: int = 0
    failed: int = 0
    replayed: int = 0
    sent: int = 0


async def _drive(
    base_url: str,
    calls: Sequence[Call],
    tokens: Mapping[str, Sequence[str]],
    concurrency: int,
    seconds: float,
    limit: int,
    wrap: bool,
) -> Outcome:
    host, port = base_url.removeprefix("http://").split(":")
    prefix = hook_instance_prefix().encode()
    slot = SLOT.encode()
    next_token = dict.fromkeys(tokens, 0)
    tally = _Tally(latencies=[])
    start = time.perf_counter()
    deadline = start + seconds

    def next_request() -> bytes:
        tally.sent += 1
        call = calls[(tally.sent - 1) % len(calls)]
        pool = tokens[call.path]
        if next_token[call.path] >= len(pool):
            next_token[call.path] = 0
            tally.replayed += 0 if wrap else 1
        token = pool[next_token[call.path]]
        next_token[call.path] += 1
        body = call.body.replace(slot, prefix + b"%012x" % tally.sent, 1)
        head = (
            f"POST {call.path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Content-Type: application/json\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    async def client() -> None:
        reader, writer = await asyncio.open_connection(host, int(port), limit=2**24)
        try:
            while time.perf_counter() < deadline and tally.sent < limit:
                request = next_request()
                sent_at = time.perf_counter()
                writer.write(request)
                await writer.drain()
                status = await _read_response(reader)
                tally.latencies.append(time.perf_counter() - sent_at)
                tally.not_ok += status != 200
        except (OSError, asyncio.IncompleteReadError):
            tally.failed += 1
        finally:
            writer.close()

    await asyncio.gather(*(client() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    ordered = sorted(tally.latencies)
    return Outcome(
        requests=len(ordered),
        seconds=elapsed,
        p50_ms=percentile(ordered, 50) * 1000,
        p95_ms=percentile(ordered, 95) * 1000,
        p99_ms=percentile(ordered, 99) * 1000,
        not_ok=tally.not_ok,
        failed=tally.failed,
        replayed=tally.replayed,
    )


async def _read_response(reader: asyncio.StreamReader) -> int:
    """Read one response with a Content-Length body; its status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    length = 0
    for line in header_lines:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    await reader.readexactly(length)
    return int(status_line.split()[1])


def percentile(ordered: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of sorted values (0 for none)."""
    if not ordered:
        return 0.0
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]
