"""The SSRF guard: only allowlisted FHIR servers, matched at a path boundary."""

from __future__ import annotations

import asyncio
import time

import pytest

from service.fhir.allowlist import is_allowed
from service.fhir.client import FhirClient, FhirNotAllowed, FhirUnauthorized
from service.fhir.transport import HttpTransport, MemoryTransport
from tests.support.fhir_server import FhirServer

ALLOW = ["https://fhir.example.org/r4", "http://127.0.0.1:9999/"]


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://fhir.example.org/r4", True),
        ("https://fhir.example.org/r4/Patient/1", True),
        ("https://fhir.example.org/r4?x=1", True),
        ("https://fhir.example.org/r4b", False),
        ("https://fhir.example.org/r4.evil.net/x", False),
        ("https://fhir.example.org/r4@evil.net/x", False),
        ("http://fhir.example.org/r4", False),  # plain http only when the prefix says http
        ("https://evil.net/https://fhir.example.org/r4", False),
        ("http://127.0.0.1:9999/fhir", True),
        ("http://127.0.0.1:99999/fhir", False),
        ("file:///etc/passwd", False),
        ("", False),
    ],
)
def test_allowlist_prefix_matching(url: str, allowed: bool) -> None:
    assert is_allowed(url, ALLOW) is allowed


def test_client_refuses_a_server_off_the_allowlist() -> None:
    with pytest.raises(FhirNotAllowed):
        FhirClient(MemoryTransport(), "https://evil.net/fhir", ALLOW, time.monotonic() + 1)


def test_next_link_to_another_host_is_not_followed(fhir: FhirServer) -> None:
    client = FhirClient(HttpTransport(10**6), fhir.base_url, [fhir.base_url], time.monotonic() + 2)
    page = {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": [{"relation": "next", "url": "https://evil.net/fhir/page-2"}],
    }
    with pytest.raises(FhirNotAllowed):
        asyncio.run(client.follow(page))
    assert fhir.requests == []


def test_unauthorized_is_named(fhir: FhirServer) -> None:
    fhir.reply("/fhir/Patient/1", {"resourceType": "OperationOutcome"}, status=401)
    client = FhirClient(
        HttpTransport(10**6), fhir.base_url, [fhir.base_url], time.monotonic() + 2, "x"
    )
    with pytest.raises(FhirUnauthorized):
        asyncio.run(client.read("Patient/1"))
