"""What the auth tests share: the fixed clock, trust set-ups, a transport that refuses."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import httpx

from service.auth import (
    JwtVerifier,
    KeySetStore,
    MemoryReplayCache,
    ReplayCache,
    TrustedIssuers,
    parse_trusted_issuers,
)
from tests.support.tokens import TokenFactory

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


class ManualClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class NoNetwork(httpx.AsyncBaseTransport):
    """Refuses and records every request: proves that file-based trust fetches nothing."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        raise httpx.ConnectError("no network in this test", request=request)


def trust_files(directory: Path, *factories: TokenFactory, testing: bool = False) -> TrustedIssuers:
    """Trust each factory's issuer with its JWK Set in a file (and its jku as jwks_url)."""
    config = {}
    for index, factory in enumerate(factories):
        path = directory / f"jwks-{index}.json"
        path.write_text(json.dumps(factory.jwks()))
        entry: dict[str, object] = {"jwks_file": str(path), "testing": testing}
        if factory.jku:
            entry["jwks_url"] = factory.jku
        config[factory.issuer] = entry
    return parse_trusted_issuers(json.dumps(config))


def verifier_for(
    issuers: TrustedIssuers,
    http: httpx.AsyncClient,
    replay: ReplayCache | None = None,
    **options: float,
) -> JwtVerifier:
    """A verifier whose replay memory runs on the tests' fixed clock."""
    replay = replay if replay is not None else MemoryReplayCache(clock=lambda: NOW)
    return JwtVerifier(KeySetStore(issuers, http), replay, **options)
