"""Calls to the EHR's FHIR server, with the guard rails a hook call needs.

The service only ever reads (GET) from servers on `CDS_FHIR_ALLOWLIST`, with
the bearer token the EHR granted for this request, under one deadline for all
calls of the request. HTTP failures map once to named exceptions:

    FhirError
    ├── FhirNotAllowed      the URL is not on the allowlist (no network call made)
    ├── FhirUnauthorized    401 / 403
    ├── FhirNotFound        404
    └── FhirUnavailable     5xx, timeout, connection error, not JSON, not FHIR
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urljoin, urlsplit

import requests

from mappings.fhirjson import JsonObject


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


def is_allowed(url: str, allowlist: Sequence[str]) -> bool:
    """True when `url` starts with an allowlisted prefix at a path boundary.

    `https://fhir.example.org` must not admit `https://fhir.example.org.evil.net`,
    `https://fhir.example.org@evil.net` or `https://fhir.example.org/../admin`, and a
    plain-http URL is only allowed by a prefix that itself says http.
    """
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname or "@" in parts.netloc:
        return False
    # `..` (also percent-encoded, or after a backslash) would climb out of the prefix
    # once the HTTP stack or the server normalises the path.
    segments = unquote(parts.path).replace("\\", "/").split("/")
    if any(segment in {".", ".."} for segment in segments):
        return False
    for prefix in allowlist:
        if not url.startswith(prefix):
            continue
        if prefix.endswith("/") or len(url) == len(prefix) or url[len(prefix)] in "/?#":
            return True
    return False


@dataclass
class FhirClient:
    """Reads from one FHIR server within a deadline (monotonic seconds)."""

    base_url: str
    allowlist: Sequence[str]
    deadline: float
    access_token: str | None = None
    max_pages: int = 10

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/") + "/"
        if not is_allowed(self.base_url, self.allowlist):
            raise FhirNotAllowed("fhirServer is not on CDS_FHIR_ALLOWLIST")

    def read(self, relative_url: str) -> JsonObject:
        """GET one resource or search page relative to the base URL."""
        return self._get(self.base_url + relative_url.lstrip("/"))

    def search_all(self, relative_url: str) -> list[JsonObject]:
        """Every entry resource of a search, following `next` links up to `max_pages`."""
        bundle = self.read(relative_url)
        return self.follow(bundle)

    def follow(self, bundle: JsonObject) -> list[JsonObject]:
        """Entries of `bundle` and of the pages its `next` links lead to."""
        if bundle.get("resourceType") != "Bundle":
            raise FhirUnavailable("search did not return a Bundle")
        resources = entry_resources(bundle)
        for _ in range(self.max_pages):
            next_url = next_link(bundle)
            if next_url is None:
                break
            bundle = self._get(urljoin(self.base_url, next_url))
            if bundle.get("resourceType") != "Bundle":
                raise FhirUnavailable("next page is not a Bundle")
            resources.extend(entry_resources(bundle))
        return resources

    def _get(self, url: str) -> JsonObject:
        if not is_allowed(url, self.allowlist):
            raise FhirNotAllowed("URL is not on CDS_FHIR_ALLOWLIST")
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise FhirUnavailable("FHIR time budget used up")
        headers = {"Accept": "application/fhir+json"}
        if self.access_token:
            headers["Authorization"] = f"Bearer {self.access_token}"
        try:
            response = requests.get(
                url,
                headers=headers,
                timeout=(min(remaining, 3.0), remaining),
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise FhirUnavailable(type(exc).__name__) from None
        if response.status_code in (401, 403):
            raise FhirUnauthorized(f"HTTP {response.status_code}")
        if response.status_code == 404:
            raise FhirNotFound("HTTP 404")
        if response.status_code != 200:
            raise FhirUnavailable(f"HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
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
