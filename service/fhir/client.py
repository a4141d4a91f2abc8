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

import asyncio
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urljoin

from anyio import to_thread

from mappings.fhirjson import JsonObject
from service.fhir.allowlist import is_allowed
from service.fhir.strict_json import DEFAULT_MAX_DEPTH, JsonRejected, loads
from service.fhir.transport import FhirTransport, TransportError

#: What RFC 6750 allows in a bearer token; anything else cannot be sent in a header.
_TOKEN68 = re.compile(r"^[A-Za-z0-9\-._~+/]+=*$")


@dataclass(frozen=True)
class FhirLimits:
    """What one hook request may spend on its FHIR server (set from CDS_FHIR_*)."""

    allowlist: tuple[str, ...] = ()
    timeout_s: float = 5.0
    max_pages: int = 10
    max_entries: int = 20_000
    max_depth: int = DEFAULT_MAX_DEPTH


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


@dataclass(frozen=True)
class SearchResult:
    """The resources of a search, and whether a cap (pages, entries) left some out."""

    resources: list[JsonObject]
    partial: bool = False


class FhirClient:
    """Reads from one FHIR server until a deadline (monotonic seconds).

    One client serves one hook request: its entry budget (`max_entries`) is shared
    by every query of the request, and bodies are parsed one at a time, off the
    event loop, so a hostile server cannot make one request hold many parsed
    pages at once.
    """

    def __init__(
        self,
        transport: FhirTransport,
        base_url: str,
        allowlist: Sequence[str],
        deadline: float,
        access_token: str | None = None,
        max_pages: int = 10,
        max_entries: int = 20_000,
        max_depth: int = DEFAULT_MAX_DEPTH,
    ) -> None:
        self.transport = transport
        self.base_url = base_url.rstrip("/") + "/"
        self.allowlist = allowlist
        self.deadline = deadline
        self.access_token = access_token
        self.max_pages = max_pages
        self.entries_left = max_entries
        self.max_depth = max_depth
        self._parsing = asyncio.Lock()
        if not is_allowed(self.base_url, self.allowlist):
            raise FhirNotAllowed("fhirServer is not on CDS_FHIR_ALLOWLIST")

    @classmethod
    def for_request(
        cls,
        transport: FhirTransport,
        base_url: str,
        limits: FhirLimits,
        access_token: str | None,
    ) -> FhirClient:
        return cls(
            transport,
            base_url,
            limits.allowlist,
            time.monotonic() + limits.timeout_s,
            access_token,
            limits.max_pages,
            limits.max_entries,
            limits.max_depth,
        )

    async def read(self, relative_url: str) -> JsonObject:
        """GET one resource or search page relative to the base URL."""
        return await self._get(self.base_url + relative_url.lstrip("/"))

    async def search_all(self, relative_url: str) -> SearchResult:
        """Every entry resource of a search, following `next` links up to `max_pages`."""
        return await self.follow(await self.read(relative_url))

    async def follow(self, bundle: JsonObject) -> SearchResult:
        """Entries of `bundle` and of the pages its `next` links lead to, within the caps."""
        if bundle.get("resourceType") != "Bundle":
            raise FhirUnavailable("search did not return a Bundle")
        resources: list[JsonObject] = []
        partial = self._take(entry_resources(bundle), resources)
        pages = 0
        while not partial and (next_url := next_link(bundle)) is not None:
            if pages == self.max_pages:
                return SearchResult(resources, partial=True)
            pages += 1
            bundle = await self._get(urljoin(self.base_url, next_url))
            if bundle.get("resourceType") != "Bundle":
                raise FhirUnavailable("next page is not a Bundle")
            partial = self._take(entry_resources(bundle), resources)
        return SearchResult(resources, partial)

    def take_supplied(self, resources: list[JsonObject]) -> SearchResult:
        """Count resources the client supplied against the budget; truncate at the cap."""
        kept: list[JsonObject] = []
        partial = self._take(resources, kept)
        return SearchResult(kept, partial)

    def _take(self, page: list[JsonObject], into: list[JsonObject]) -> bool:
        """Move what the entry budget allows from `page` into `into`; True when cut short."""
        allowed = max(0, self.entries_left)
        into.extend(page[:allowed])
        self.entries_left -= min(len(page), allowed)
        return len(page) > allowed

    async def _get(self, url: str) -> JsonObject:
        if not is_allowed(url, self.allowlist):
            raise FhirNotAllowed("URL is not on CDS_FHIR_ALLOWLIST")
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise FhirUnavailable("FHIR time budget used up")
        headers = {"Accept": "application/fhir+json"}
        if self.access_token:
            if not _TOKEN68.match(self.access_token):
                raise FhirUnauthorized("the access token cannot be sent in a header")
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
            async with self._parsing:
                body = await to_thread.run_sync(loads, response.body, self.max_depth)
        except JsonRejected as exc:
            raise FhirUnavailable(f"response is not strict JSON: {exc}") from None
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
