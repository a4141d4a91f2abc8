"""The SSRF guard: the service calls only FHIR servers on `CDS_FHIR_ALLOWLIST`.

Every URL is checked before any connection is made — the `fhirServer` of the
request, and every `next` link a server returns — because the bearer token of the
EHR goes with each call.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import unquote, urlsplit


def is_allowed(url: str, allowlist: Sequence[str]) -> bool:
    """True when `url` starts with an allowlisted prefix at a path boundary.

    `https://fhir.example.org` must not admit `https://fhir.example.org.evil.net`,
    `https://fhir.example.org@evil.net` or `https://fhir.example.org/../admin`, and a
    plain-http URL is only allowed by a prefix that itself says http.
    """
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname or "@" in parts.netloc:
        return False
    # `..` (also percent-encoded, encoded twice as %252e, or after a backslash) would
    # climb out of the prefix once the HTTP stack or a proxy normalises the path.
    if any(segment in {".", ".."} for segment in _segments(parts.path)):
        return False
    for prefix in allowlist:
        if not url.startswith(prefix):
            continue
        if prefix.endswith("/") or len(url) == len(prefix) or url[len(prefix)] in "/?#":
            return True
    return False


def _segments(path: str) -> list[str]:
    """Path segments as any decoder along the way could read them: decoded until stable."""
    decoded = path
    for _ in range(4):
        once = unquote(decoded)
        if once == decoded:
            break
        decoded = once
    else:
        return [".."]  # still encoded after four rounds: refuse rather than guess
    return decoded.replace("\\", "/").split("/")
