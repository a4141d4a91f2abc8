"""How the FHIR client reaches a server: one asynchronous GET, behind an interface.

    FhirTransport        the interface the client calls (`get`, `aclose`)
    ├── HttpxTransport   the real one: one shared, pooled `httpx.AsyncClient`;
    │                    redirects never followed, the body read up to a cap
    └── MemoryTransport  canned answers by URL, for tests and benchmarks

Asynchronous so that the caller can cancel every outstanding call at its deadline
(nothing is left running once the request has been answered).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import httpx


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


class HttpxTransport:
    """GETs through one connection pool shared by every request of the process."""

    def __init__(self, max_response_bytes: int, client: httpx.AsyncClient | None = None) -> None:
        self.max_response_bytes = max_response_bytes
        self._client = client or httpx.AsyncClient(follow_redirects=False, trust_env=False)

    async def get(
        self, url: str, headers: Mapping[str, str], timeout_s: float
    ) -> TransportResponse:
        try:
            async with self._client.stream(
                "GET", url, headers=dict(headers), timeout=httpx.Timeout(timeout_s)
            ) as response:
                body = bytearray()
                async for chunk in response.aiter_raw():
                    body.extend(chunk)
                    if len(body) > self.max_response_bytes:
                        raise ResponseTooLarge(f"response over {self.max_response_bytes} bytes")
                return TransportResponse(response.status_code, bytes(body))
        except httpx.HTTPError as exc:
            raise TransportError(type(exc).__name__) from None

    async def aclose(self) -> None:
        await self._client.aclose()


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
