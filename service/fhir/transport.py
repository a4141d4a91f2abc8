"""How the FHIR client reaches a server: one asynchronous GET, behind an interface.

    FhirTransport        the interface the client calls (`get`, `aclose`)
    ├── HttpTransport    the real one: HTTP/1.1 connections kept open between calls;
    │                    redirects never followed, the body read up to a cap
    └── MemoryTransport  canned answers by URL, for tests and benchmarks

Asynchronous so that the caller can cancel every outstanding call at its deadline
(nothing is left running once the request has been answered).

HttpTransport keeps its own stack of idle httpcore connections per server rather
than httpcore's connection pool or httpx: a fallback call sends its 20 queries at
once, and the pool re-examines every connection it holds (a system call for each
idle one) each time any request starts or ends, while httpx adds request and URL
models these GETs do not need. Together they cost more CPU than reading the 20
answers, and spread the queries' departure over the time that CPU took.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import httpcore

#: GETs in flight at once, over every FHIR server (and so connections open): a
#: fallback call sends up to 20 queries at once, five calls' worth before one waits.
MAX_CONNECTIONS = 100
#: How long an idle connection is kept for the next query before it is closed.
KEEPALIVE_S = 5.0
#: Sent with every GET: no compression, so the byte cap counts what is parsed and no
#: compressed body is ever inflated (a compressed answer is not JSON: unavailable).
_FIXED_HEADERS = [(b"Accept-Encoding", b"identity"), (b"User-Agent", b"footdrop-cds")]
_DEFAULT_PORTS = {b"http": 80, b"https": 443}
#: Every failure httpcore names: unreachable, timed out, not HTTP, URL it cannot send.
_HTTP_ERRORS = (
    httpcore.TimeoutException,
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.UnsupportedProtocol,
    httpcore.ProxyError,
)


class TransportError(Exception):
    """The server could not be reached or its answer could not be read (no detail leaked)."""


class ResponseTooLarge(TransportError):
    """The body grew past the transport's byte cap; what was read is discarded."""


@dataclass(frozen=True)
class TransportResponse:
    status: int
    body: bytes


class FhirTransport(Protocol):
    async def get(
        self, url: str, headers: Mapping[str, str], timeout_s: float
    ) -> TransportResponse: ...

    async def aclose(self) -> None: ...


class HttpTransport:
    """GETs over connections kept open between calls, shared by every request of the process.

    A GET takes the most recently used idle connection to its server that the server
    has not closed (or opens one), and gives it back once the answer has been read to
    its end; a connection cut short (cap, error, cancellation) is closed instead.
    """

    def __init__(self, max_response_bytes: int, ssl_context: ssl.SSLContext | None = None) -> None:
        self.max_response_bytes = max_response_bytes
        self._ssl_context = ssl_context or httpcore.default_ssl_context()
        self._in_flight = asyncio.Semaphore(MAX_CONNECTIONS)
        self._idle: dict[tuple[bytes, bytes, int], list[httpcore.AsyncHTTPConnection]] = {}

    async def get(
        self, url: str, headers: Mapping[str, str], timeout_s: float
    ) -> TransportResponse:
        request = get_request(url, headers, timeout_s)
        try:
            async with asyncio.timeout(timeout_s):
                await self._in_flight.acquire()
        except TimeoutError:
            raise TransportError("PoolTimeout") from None
        try:
            idle = self._idle.setdefault(_origin(request.url), [])
            connection = await self._reusable(idle) or httpcore.AsyncHTTPConnection(
                request.url.origin, self._ssl_context, keepalive_expiry=KEEPALIVE_S
            )
            try:
                return await self._read(connection, request)
            except _HTTP_ERRORS as exc:
                raise TransportError(type(exc).__name__) from None
            finally:
                if connection.is_idle() and not connection.is_closed():
                    idle.append(connection)
                else:
                    await connection.aclose()
        finally:
            self._in_flight.release()

    async def _reusable(
        self, idle: list[httpcore.AsyncHTTPConnection]
    ) -> httpcore.AsyncHTTPConnection | None:
        """The newest idle connection still open (closing the ones the server dropped)."""
        while idle:
            connection = idle.pop()
            if connection.is_idle() and not connection.has_expired():
                return connection
            await connection.aclose()
        return None

    async def _read(
        self, connection: httpcore.AsyncHTTPConnection, request: httpcore.Request
    ) -> TransportResponse:
        response = await connection.handle_async_request(request)
        try:
            body = bytearray()
            async for chunk in response.aiter_stream():
                body.extend(chunk)
                if len(body) > self.max_response_bytes:
                    raise ResponseTooLarge(f"response over {self.max_response_bytes} bytes")
            return TransportResponse(response.status, bytes(body))
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        for idle in self._idle.values():
            while idle:
                await idle.pop().aclose()


def get_request(url: str, headers: Mapping[str, str], timeout_s: float) -> httpcore.Request:
    """The GET for one connection: `Host` from the URL (connections do not add it), then
    the fixed headers and the caller's."""
    target = httpcore.URL(url)
    host = b"[%b]" % target.host if b":" in target.host else target.host  # an IPv6 address
    if target.port is not None and target.port != _DEFAULT_PORTS.get(target.scheme):
        host += b":%d" % target.port
    return httpcore.Request(
        "GET",
        target,
        headers=[(b"Host", host), *_FIXED_HEADERS, *headers.items()],
        extensions={"timeout": dict.fromkeys(("connect", "read", "write", "pool"), timeout_s)},
    )


def _origin(url: httpcore.URL) -> tuple[bytes, bytes, int]:
    origin = url.origin
    return origin.scheme, origin.host, origin.port


Responder = Callable[[str, Mapping[str, str]], TransportResponse]


@dataclass
class MemoryTransport:
    """Answers from a table of URL → response (or a function of the request); records calls."""

    routes: dict[str, TransportResponse | Responder] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    async def get(
        self, url: str, headers: Mapping[str, str], timeout_s: float
    ) -> TransportResponse:
        self.requests.append((url, dict(headers)))
        route = self.routes.get(url) or self.routes.get(url.split("?", 1)[0])
        if route is None:
            return TransportResponse(404, b'{"resourceType": "OperationOutcome"}')
        return route(url, headers) if callable(route) else route

    async def aclose(self) -> None:
        return None
