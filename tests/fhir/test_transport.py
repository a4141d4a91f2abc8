"""The pooled HTTP transport over real loopback servers: reuse, dropped connections, TLS,
and what it asks the server for (no compression).

The pool keeps connections open between calls and asks an idle connection whether the
server has closed it before reusing it; these tests would fail if connections were
opened per call, or if a connection the server dropped were reused.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from collections.abc import Iterator

import pytest

from service.fhir.client import FhirClient, FhirUnavailable
from service.fhir.transport import HttpTransport, ResponseTooLarge, TransportError, get_request
from tests.support import fhir_server, jwks_server
from tests.support.fhir_server import FhirServer

PATIENT = {"resourceType": "Patient", "id": "1"}


@pytest.fixture
def keep_alive_fhir() -> Iterator[FhirServer]:
    yield from fhir_server.start(keep_alive=True)


async def get_three_times(transport: HttpTransport, url: str) -> list[int]:
    try:
        return [(await transport.get(url, {}, 2.0)).status for _ in range(3)]
    finally:
        await transport.aclose()


def test_one_connection_serves_calls_one_after_another(keep_alive_fhir: FhirServer) -> None:
    keep_alive_fhir.reply("/fhir/Patient/1", PATIENT)
    url = keep_alive_fhir.base_url + "/Patient/1"
    assert asyncio.run(get_three_times(HttpTransport(10**6), url)) == [200, 200, 200]
    assert keep_alive_fhir.connections == 1


def test_an_idle_connection_the_server_dropped_is_not_reused(keep_alive_fhir: FhirServer) -> None:
    keep_alive_fhir.reply("/fhir/Patient/1", PATIENT, then_drop=True)
    url = keep_alive_fhir.base_url + "/Patient/1"

    async def twice() -> list[int]:
        transport = HttpTransport(10**6)
        try:
            first = await transport.get(url, {}, 2.0)
            assert keep_alive_fhir.dropped.wait(2.0)
            second = await transport.get(url, {}, 2.0)
            return [first.status, second.status]
        finally:
            await transport.aclose()

    assert asyncio.run(twice()) == [200, 200]
    assert keep_alive_fhir.connections == 2


def test_a_connection_left_in_the_middle_of_an_answer_is_not_reused(
    keep_alive_fhir: FhirServer,
) -> None:
    keep_alive_fhir.reply("/fhir/Observation", {"resourceType": "Bundle", "pad": "x" * 10_000})
    keep_alive_fhir.reply("/fhir/Patient/1", PATIENT)
    base = keep_alive_fhir.base_url

    async def over_the_cap_then_small() -> int:
        transport = HttpTransport(1_000)
        try:
            with pytest.raises(ResponseTooLarge):
                await transport.get(base + "/Observation", {}, 2.0)
            return (await transport.get(base + "/Patient/1", {}, 2.0)).status
        finally:
            await transport.aclose()

    assert asyncio.run(over_the_cap_then_small()) == 200
    assert keep_alive_fhir.connections == 2


def test_answers_are_asked_for_uncompressed_and_a_compressed_one_is_not_inflated(
    fhir: FhirServer,
) -> None:
    fhir.reply("/fhir/Patient/1", raw=gzip.compress(json.dumps(PATIENT).encode()))
    client = FhirClient(HttpTransport(10**6), fhir.base_url, [fhir.base_url], time.monotonic() + 2)
    with pytest.raises(FhirUnavailable, match="not strict JSON"):
        asyncio.run(client.read("Patient/1"))
    assert fhir.requests[0].headers["Accept-Encoding"] == "identity"


def test_https_is_verified_against_the_trusted_authorities() -> None:
    for server in jwks_server.start(tls=True):
        server.publish({"keys": []})
        trusting = HttpTransport(10**6, ssl_context=server.client_ssl_context())
        assert asyncio.run(get_three_times(trusting, server.url)) == [200, 200, 200]
        with pytest.raises(TransportError):
            asyncio.run(get_three_times(HttpTransport(10**6), server.url))
        assert server.fetches == 3


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://127.0.0.1:8080/fhir/Patient/1", b"127.0.0.1:8080"),
        ("https://fhir.example.org/r4/Patient/1", b"fhir.example.org"),
        ("https://fhir.example.org:443/r4/Patient/1", b"fhir.example.org"),
        ("http://[::1]:8080/fhir/Patient/1", b"[::1]:8080"),
    ],
)
def test_the_host_header_names_the_server_as_its_url_does(url: str, host: bytes) -> None:
    assert dict(get_request(url, {}, 1.0).headers)[b"Host"] == host
