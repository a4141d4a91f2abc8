"""A real FHIR server stand-in on a loopback port, for the EHR side of the tests.

It answers GET requests from a route table (path -> status and body) or, given an
`answer` function (`tests.support.fhir_search`), by running each search over a
record; it records every request (path, query, Authorization header) and can hang
or send invalid JSON, so the service's FHIR calls are exercised over real HTTP.
Started with `keep_alive=True` it speaks HTTP/1.1 and keeps connections open (the
default closes each after its answer), and it counts the connections it accepted.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    raw: bytes | None = None
    delay_s: float = 0.0
    drip_s: float = 0.0
    """Send the body one byte per `drip_s` seconds (a slow or hostile upstream)."""
    then_drop: bool = False
    """Close the connection after the answer without saying so (an idle keep-alive
    connection dropped by the server); `FhirServer.dropped` is set once it is closed."""


@dataclass
class Recorded:
    path: str
    query: dict[str, list[str]]
    authorization: str | None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FhirServer:
    """Routes are matched on the path (e.g. `/fhir/Condition`); first match wins."""

    base_url: str = ""
    routes: dict[str, Reply] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    disconnects: int = 0
    """Replies the client stopped reading (it closed the connection)."""
    connections: int = 0
    """Connections accepted."""
    dropped: threading.Event = field(default_factory=threading.Event)
    answer: Callable[[str], Any] | None = None
    """Answers a request (path and query below the prefix) the routes do not name; None: 404."""

    def reply(self, path: str, body: Any = None, status: int = 200, **kwargs: Any) -> None:
        self.routes[path] = Reply(status=status, body=body, **kwargs)

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]


def searchset(*resources: dict[str, Any], next_url: str | None = None) -> dict[str, Any]:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r} for r in resources],
    }
    if next_url:
        bundle["link"] = [{"relation": "next", "url": next_url}]
    return bundle


class _Server(ThreadingHTTPServer):
    """A listen backlog above the service's concurrent queries (the default 5 drops SYNs,
    and each dropped connection waits a second for the retransmit)."""

    request_queue_size = 64


def start(prefix: str = "/fhir", keep_alive: bool = False) -> Iterator[FhirServer]:
    state = FhirServer()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

        def setup(self) -> None:
            state.connections += 1
            super().setup()

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            state.requests.append(
                Recorded(
                    parts.path,
                    parse_qs(parts.query),
                    self.headers.get("Authorization"),
                    dict(self.headers.items()),
                )
            )
            reply = state.routes.get(parts.path)
            if reply is None and state.answer is not None:
                relative = self.path.removeprefix(prefix).lstrip("/")
                body = state.answer(relative)
                reply = Reply(body=body) if body is not None else None
            if reply is None:
                reply = Reply(404, {"resourceType": "OperationOutcome", "issue": []})
            if reply.delay_s:
                time.sleep(reply.delay_s)
            data = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if reply.drip_s:
                    for byte in data:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(reply.drip_s)
                else:
                    self.wfile.write(data)
                if reply.then_drop:
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    state.dropped.set()
            except (BrokenPipeError, ConnectionResetError):
                state.disconnects += 1

        def log_message(self, *args: Any) -> None:
            pass

    server = _Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}{prefix}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
