"""Fetching issuers' JWK Sets from a real loopback server: cache, rotation, rate bound, limits.

The server is plain HTTP on 127.0.0.1, which the configuration accepts only
with the explicit `allow_http_loopback` flag; one test runs the production path
(https, no flag) against the same server speaking TLS with a throwaway CA.
The refetch interval runs on a manual clock, so no test waits for it.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest

from service.auth import (
    AuthError,
    JwtVerifier,
    KeySetStore,
    MemoryReplayCache,
    Reason,
    parse_trusted_issuers,
)
from tests.auth.harness import NOW, ManualClock
from tests.support import jwks_server
from tests.support.jwks_server import JwksServer
from tests.support.tokens import AUDIENCE, EHR_ISSUER, SigningKey, TokenFactory

pytestmark = pytest.mark.anyio

REFETCH_INTERVAL_S = 60.0
MAX_AGE_S = 3600.0


@pytest.fixture
def server() -> Iterator[JwksServer]:
    yield from jwks_server.start()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def ehr(server: JwksServer) -> TokenFactory:
    factory = TokenFactory(EHR_ISSUER, jku=server.url)
    server.publish(factory.jwks())
    return factory


def fetching_verifier(
    jwks_url: str, http: httpx.AsyncClient, clock: ManualClock, **options: float
) -> JwtVerifier:
    issuers = parse_trusted_issuers(
        json.dumps({EHR_ISSUER: {"jwks_url": jwks_url}}), allow_http_loopback=True
    )
    key_sets = KeySetStore(
        issuers,
        http,
        refetch_interval_s=REFETCH_INTERVAL_S,
        max_age_s=MAX_AGE_S,
        clock=clock,
        **options,
    )
    return JwtVerifier(key_sets, MemoryReplayCache(clock=lambda: NOW))


@pytest.fixture
def verifier(server: JwksServer, http: httpx.AsyncClient, clock: ManualClock) -> JwtVerifier:
    return fetching_verifier(server.url, http, clock)


async def refused(verifier: JwtVerifier, token: str) -> Reason:
    with pytest.raises(AuthError) as error:
        await verifier.verify(token, AUDIENCE, NOW)
    return error.value.reason


async def test_keys_are_fetched_once_and_cached(
    server: JwksServer, ehr: TokenFactory, verifier: JwtVerifier
) -> None:
    for _ in range(3):
        await verifier.verify(ehr.token(AUDIENCE, NOW), AUDIENCE, NOW)
    assert server.fetches == 1


async def test_a_new_kid_triggers_a_refetch_key_rotation(
    server: JwksServer, ehr: TokenFactory, verifier: JwtVerifier, clock: ManualClock
) -> None:
    await verifier.verify(ehr.token(AUDIENCE, NOW), AUDIENCE, NOW)
    clock.advance(REFETCH_INTERVAL_S)
    rotated = SigningKey.generate("ES384")
    server.publish({"keys": [rotated.public_jwk()]})  # the old key is withdrawn
    caller = await verifier.verify(ehr.token(AUDIENCE, NOW, key=rotated), AUDIENCE, NOW)
    assert caller.issuer == EHR_ISSUER
    assert server.fetches == 2
    assert await refused(verifier, ehr.token(AUDIENCE, NOW)) is Reason.UNKNOWN_KID
    assert server.fetches == 2  # within the interval: the withdrawn kid fetches nothing


async def test_unknown_kids_refetch_at_most_once_per_interval(
    server: JwksServer, ehr: TokenFactory, verifier: JwtVerifier, clock: ManualClock
) -> None:
    await verifier.verify(ehr.token(AUDIENCE, NOW), AUDIENCE, NOW)
    invented = [SigningKey.generate("ES384", f"invented-{n}") for n in range(5)]

    clock.advance(REFETCH_INTERVAL_S - 1)
    for key in invented:
        assert await refused(verifier, ehr.token(AUDIENCE, NOW, key=key)) is Reason.UNKNOWN_KID
    assert server.fetches == 1

    clock.advance(1)
    for key in invented:
        assert await refused(verifier, ehr.token(AUDIENCE, NOW, key=key)) is Reason.UNKNOWN_KID
    assert server.fetches == 2  # the first unknown kid refetched; the next four did not

    clock.advance(REFETCH_INTERVAL_S)
    assert await refused(verifier, ehr.token(AUDIENCE, NOW, key=invented[0])) is Reason.UNKNOWN_KID
    assert server.fetches == 3


async def test_concurrent_calls_with_a_new_kid_share_one_fetch(
    server: JwksServer, ehr: TokenFactory, verifier: JwtVerifier, clock: ManualClock
) -> None:
    await verifier.verify(ehr.token(AUDIENCE, NOW), AUDIENCE, NOW)
    clock.advance(REFETCH_INTERVAL_S)
    rotated = SigningKey.generate("ES384")
    server.publish(ehr.jwks(rotated))
    tokens = [ehr.token(AUDIENCE, NOW, key=rotated) for _ in range(10)]
    callers = await asyncio.gather(*(verifier.verify(t, AUDIENCE, NOW) for t in tokens))
    assert len(callers) == 10
    assert server.fetches == 2


async def test_old_key_sets_are_refreshed_so_a_withdrawn_key_stops_working(
    server: JwksServer, ehr: TokenFactory, verifier: JwtVerifier, clock: ManualClock
) -> None:
    await verifier.verify(ehr.token(AUDIENCE, NOW), AUDIENCE, NOW)
    server.publish({"keys": [SigningKey.generate("ES384").public_jwk()]})
    clock.advance(MAX_AGE_S - 1)
    await verifier.verify(ehr.token(AUDIENCE, NOW), AUDIENCE, NOW)
    assert server.fetches == 1
    clock.advance(1)
    assert await refused(verifier, ehr.token(AUDIENCE, NOW)) is Reason.UNKNOWN_KID
    assert server.fetches == 2


async def test_a_failed_refresh_keeps_the_keys_already_known(
    server: JwksServer, ehr: TokenFactory, verifier: JwtVerifier, clock: ManualClock
) -> None:
    await verifier.verify(ehr.token(AUDIENCE, NOW), AUDIENCE, NOW)
    server.answer(503)
    clock.advance(MAX_AGE_S)
    await verifier.verify(ehr.token(AUDIENCE, NOW), AUDIENCE, NOW)
    assert server.fetches == 2
    new_key = SigningKey.generate("ES384")
    clock.advance(REFETCH_INTERVAL_S)
    assert await refused(verifier, ehr.token(AUDIENCE, NOW, key=new_key)) is (
        Reason.KEYS_UNAVAILABLE
    )


async def test_unavailable_keys_are_retried_after_the_interval_only(
    server: JwksServer, ehr: TokenFactory, verifier: JwtVerifier, clock: ManualClock
) -> None:
    good = ehr.jwks()
    server.answer(500)
    assert await refused(verifier, ehr.token(AUDIENCE, NOW)) is Reason.KEYS_UNAVAILABLE
    server.publish(good)
    assert await refused(verifier, ehr.token(AUDIENCE, NOW)) is Reason.KEYS_UNAVAILABLE
    assert server.fetches == 1
    clock.advance(REFETCH_INTERVAL_S)
    await verifier.verify(ehr.token(AUDIENCE, NOW), AUDIENCE, NOW)
    assert server.fetches == 2


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/jwks.json"


async def test_an_unreachable_key_set_is_keys_unavailable(
    http: httpx.AsyncClient, clock: ManualClock
) -> None:
    ehr = TokenFactory(EHR_ISSUER)
    verifier = fetching_verifier(_closed_port_url(), http, clock)
    assert await refused(verifier, ehr.token(AUDIENCE, NOW)) is Reason.KEYS_UNAVAILABLE


async def test_redirects_are_not_followed(
    server: JwksServer, ehr: TokenFactory, verifier: JwtVerifier
) -> None:
    for target in jwks_server.start():
        target.publish(ehr.jwks())
        server.answer(302, Location=target.url)
        assert await refused(verifier, ehr.token(AUDIENCE, NOW)) is Reason.KEYS_UNAVAILABLE
        assert target.fetches == 0


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(lambda jwks: (200, b"<html>maintenance</html>", {}), id="not JSON"),
        pytest.param(lambda jwks: (200, b'{"keys": {}}', {}), id="not a JWK Set"),
        pytest.param(
            lambda jwks: (
                200,
                gzip.compress(json.dumps(jwks).encode()),
                {"Content-Encoding": "gzip"},
            ),
            id="compressed (never inflated)",
        ),
        pytest.param(
            lambda jwks: (200, json.dumps({**jwks, "pad": "x" * 70_000}).encode(), {}),
            id="over 64 KiB",
        ),
        pytest.param(lambda jwks: (404, json.dumps(jwks).encode(), {}), id="404 with keys"),
    ],
)
async def test_a_broken_or_hostile_reply_is_keys_unavailable(
    reply: Callable[[dict[str, object]], tuple[int, bytes, dict[str, str]]],
    server: JwksServer,
    ehr: TokenFactory,
    verifier: JwtVerifier,
) -> None:
    status, body, headers = reply(ehr.jwks())
    server.answer(status, body, **headers)
    assert await refused(verifier, ehr.token(AUDIENCE, NOW)) is Reason.KEYS_UNAVAILABLE


async def test_the_size_cap_counts_the_body_as_it_arrives(
    server: JwksServer, ehr: TokenFactory, http: httpx.AsyncClient, clock: ManualClock
) -> None:
    verifier = fetching_verifier(server.url, http, clock, max_bytes=100)
    assert await refused(verifier, ehr.token(AUDIENCE, NOW)) is Reason.KEYS_UNAVAILABLE


async def test_a_key_set_server_that_never_answers_is_cut_off_at_the_deadline(
    server: JwksServer, ehr: TokenFactory, http: httpx.AsyncClient, clock: ManualClock
) -> None:
    verifier = fetching_verifier(server.url, http, clock, timeout_s=0.2)
    server.hang()
    assert await refused(verifier, ehr.token(AUDIENCE, NOW)) is Reason.KEYS_UNAVAILABLE
    server.release()


async def test_the_deadline_covers_the_whole_download_not_each_read(
    server: JwksServer, ehr: TokenFactory, http: httpx.AsyncClient, clock: ManualClock
) -> None:
    """A server dripping a byte at a time never trips a per-read timeout; the total one cuts it."""
    verifier = fetching_verifier(server.url, http, clock, timeout_s=0.3)
    server.drip()
    assert await refused(verifier, ehr.token(AUDIENCE, NOW)) is Reason.KEYS_UNAVAILABLE
    server.release()


async def test_https_key_sets_verify_without_any_test_flag() -> None:
    for server in jwks_server.start(tls=True):
        ehr = TokenFactory(EHR_ISSUER, jku=server.url)
        server.publish(ehr.jwks())
        issuers = parse_trusted_issuers(json.dumps({EHR_ISSUER: {"jwks_url": server.url}}))
        assert server.url.startswith("https://127.0.0.1:")
        async with httpx.AsyncClient(verify=server.client_ssl_context()) as trusting:
            verifier = JwtVerifier(
                KeySetStore(issuers, trusting), MemoryReplayCache(clock=lambda: NOW)
            )
            caller = await verifier.verify(ehr.token(AUDIENCE, NOW), AUDIENCE, NOW)
            assert caller.issuer == EHR_ISSUER
        async with httpx.AsyncClient() as untrusting:  # the throwaway CA is not trusted
            verifier = JwtVerifier(KeySetStore(issuers, untrusting), MemoryReplayCache())
            assert await refused(verifier, ehr.token(AUDIENCE, NOW)) is Reason.KEYS_UNAVAILABLE
        assert server.fetches == 1
