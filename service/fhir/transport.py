"""How the FHIR client reaches a server: one asynchronous GET, behind an interface.

    FhirTransport        the interface the client calls (`get`, `aclose`)
    ├── HttpTransport    the real one: one shared httpcore connection pool;
    │                    redirects never followed, the body read up to a cap
    └── MemoryTransport  canned answers by URL, for tests and benchmarks

Asynchronous so that the caller can cancel every outstanding call at its deadline
(nothing is left running once the request has been answered).

httpcore directly rather than through httpx: the GETs need nothing httpx adds (no
redirects, cookies, auth flows or decoding), and httpx's request and URL models cost
about a third of a millisecond per GET, which a fallback call of 20 queries pays 20
times before its last query is sent.
"""

from __future__ import annotations

import select
import socket
import ssl
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import httpcore

#: Connections of the pool, over every FHIR server: a fallback call sends up to 20
#: queries at once, so five calls' worth before queries wait for a free connection.
MAX_CONNECTIONS = 100
#: Idle connections kept open, and for how long: as many as are ever open, so that the
#: next call reuses them all instead of connecting again.
KEEPALIVE_S = 5.0
#: Sent with every GET: no compression, so the byte cap counts what is parsed and no
#: compressed body is ever inflated (a compressed answer is not JSON: unavailable).
_FIXED_HEADERS = [(b"Accept-Encoding", b"identity"), (b"User-Agent", b"footdrop-cds")]
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
    """GETs through one connection pool shared by every request of the process."""

    def __init__(self, max_response_bytes: int, ssl_context: ssl.SSLContext | None = None) -> None:
        self.max_response_bytes = max_response_bytes
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=MAX_CONNECTIONS,
            max_keepalive_connections=MAX_CONNECTIONS,
            keepalive_expiry=KEEPALIVE_S,
            network_backend=_SocketBackend(),
        )

    async def get(
        self, url: str, headers: Mapping[str, str], timeout_s: float
    ) -> TransportResponse:
        timeouts = dict.fromkeys(("connect", "read", "write", "pool"), timeout_s)
        try:
            async with self._pool.stream(
                "GET",
                url,
                headers=[*_FIXED_HEADERS, *headers.items()],
                extensions={"timeout": timeouts},
            ) as response:
                body = bytearray()
                async for chunk in response.aiter_stream():
                    body.extend(chunk)
                    if len(body) > self.max_response_bytes:
                        raise ResponseTooLarge(f"response over {self.max_response_bytes} bytes")
                return TransportResponse(response.status, bytes(body))
        except _HTTP_ERRORS as exc:
            raise TransportError(type(exc).__name__) from None

    async def aclose(self) -> None:
        await self._pool.aclose()


class _SocketBackend(httpcore.AnyIOBackend):
    """anyio's backend, with a cheap answer to the pool's most frequent question.

    The pool asks every idle connection whether the server has closed it ("is the
    socket readable?") each time any request starts or ends: hundreds of times per
    fallback call. anyio answers by building the socket's whole attribute table
    (a `getpeername` system call among them) to pick out the socket, and httpcore
    then builds a poll set for it; this stream keeps the socket and its poll set
    from the connect, so each answer is one `poll` with no wait.
    """

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await super().connect_tcp(host, port, timeout, local_address, socket_options)
        return _SocketStream(stream, stream.get_extra_info("socket"))


class _SocketStream(httpcore.AsyncNetworkStream):
    """A stream of the anyio backend (TCP, or TLS over it) and the socket beneath it."""

    def __init__(self, stream: httpcore.AsyncNetworkStream, sock: socket.socket) -> None:
        self._stream = stream
        self._socket = sock
        self._input = select.poll()
        self._input.register(sock, select.POLLIN)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._stream.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._stream.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        tls = await self._stream.start_tls(ssl_context, server_hostname, timeout)
        return _SocketStream(tls, self._socket)

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "is_readable":
            # Data or end of stream waiting; a closed socket counts too (not reusable).
            return self._socket.fileno() < 0 or bool(self._input.poll(0))
        return self._stream.get_extra_info(info)


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
