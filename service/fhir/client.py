"""Reads from the EHR's FHIR server, with the guard rails a hook call needs.

The service only ever reads (GET) from servers on `CDS_FHIR_ALLOWLIST`, with the
bearer token the EHR granted for this request, through the shared transport.
The caller bounds the whole request in time (and cancels what is left); each
GET is also bounded by what remains of that time. HTTP failures map once to
named exceptions:

    FhirError
    ├── FhirNotAllowed      the URL is not on the allowlist (no network call made)
    ├── FhirUnauthorized    401 / 403
    ├── FhirNotFound        404
    └── FhirUnavailable     5xx, timeout, connection error, not JSON, not FHIR
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urljoin

from mappings.fhirjson import JsonObject
from service.fhir.allowlist import is_allowed
from service.fhir.transport import FhirTransport, TransportError


@dataclass(frozen=True)
class FhirLimits:
    """What one hook request may spend on its FHIR server (set from CDS_FHIR_*)."""

    allowlist: tuple[str, ...] = ()
    timeout_s: float = 5.0
    max_pages: int = 10


class FhirError(Exception):
    pass


class FhirNotAllowed(FhirError):
    pass


class FhirUnauthorized(FhirError):
    pass


class FhirNotFound(FhirError):
    pass


class FhirUnavailable(FhirError):
    pass


class FhirClient:
    """Reads from one FHIR server until a deadline (monotonic seconds)."""

    def __init__(
        self,
        transport: FhirTransport,
        base_url: str,
        allowlist: Sequence[str],
        deadline: float,
        access_token: str | None = None,
        max_pages: int = 10,
    ) -> None:
        self.transport = transport
        self.base_url = base_url.rstrip("/") + "/"
        self.allowlist = allowlist
        self.deadline = deadline
        self.access_token = access_token
        self.max_pages = max_pages
        if not is_allowed(self.base_url, self.allowlist):
            raise FhirNotAllowed("fhirServer is not on CDS_FHIR_ALLOWLIST")

    async def read(self, relative_url: str) -> JsonObject:
        """GET one resource or search page relative to the base URL."""
        return await self._get(self.base_url + relative_url.lstrip("/"))

    async def search_all(self, relative_url: str) -> list[JsonObject]:
        """Every entry resource of a search, following `next` links up to `max_pages`."""
        return await self.follow(await self.read(relative_url))

    async def follow(self, bundle: JsonObject) -> list[JsonObject]:
        """Entries of `bundle` and of the pages its `next` links lead to."""
        if bundle.get("resourceType") != "Bundle":
            raise FhirUnavailable("search did not return a Bundle")
        resources = entry_resources(bundle)
        for _ in range(self.max_pages):
            next_url = next_link(bundle)
            if next_url is None:
                break
            bundle = await self._get(urljoin(self.base_url, next_url))
            if bundle.get("resourceType") != "Bundle":
                raise FhirUnavailable("next page is not a Bundle")
            resources.extend(entry_resources(bundle))
        return resources

    async def _get(self, url: str) -> JsonObject:
        if not is_allowed(url, self.allowlist):
            raise FhirNotAllowed("URL is not on CDS_FHIR_ALLOWLIST")
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise FhirUnavailable("FHIR time budget used up")
        headers = {"Accept": "application/fhir+json"}
        if self.access_token:
            headers["Authorization"] = f"Bearer {self.access_token}"
        try:
            response = await self.transport.get(url, headers, remaining)
        except TransportError as exc:
            raise FhirUnavailable(type(exc).__name__) from None
        if response.status in (401, 403):
            raise FhirUnauthorized(f"HTTP {response.status}")
        if response.status == 404:
            raise FhirNotFound("HTTP 404")
        if response.status != 200:
            raise FhirUnavailable(f"HTTP {response.status}")
        try:
            body = json.loads(response.body)
        except (ValueError, UnicodeDecodeError):
            raise FhirUnavailable("response is not JSON") from None
        except RecursionError:
            raise FhirUnavailable("response is nested too deeply") from None
        if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
            raise FhirUnavailable("response is not a FHIR resource")
        return body


def entry_resources(bundle: JsonObject) -> list[JsonObject]:
    entries = bundle.get("entry")
    if not isinstance(entries, list):
        return []
    return [
        entry["resource"]
        for entry in entries
        if isinstance(entry, dict) and isinstance(entry.get("resource"), dict)
    ]


def next_link(bundle: JsonObject) -> str | None:
    links = bundle.get("link")
    if not isinstance(links, list):
        return None
    for link in links:
        if isinstance(link, dict) and link.get("relation") == "next":
            url = link.get("url")
            return url if isinstance(url, str) and url else None
    return None
