"""Each trusted issuer's public keys: read from its file, or fetched from its JWKS URL.

Fetched key sets are cached per issuer. A `kid` the cache does not know triggers
a refetch (key rotation, CDS Hooks 3.0), but at most once per
`refetch_interval_s` per issuer, so a stream of tokens with invented `kid`s
cannot turn the service into a load generator against the EHR. A cached set
older than `max_age_s` is refetched too (a removed key stops being accepted);
if that refetch fails, the old keys stay in use and the failure is logged.

Downloads are bounded: HTTPS only (checked in the configuration), no redirects,
one total deadline, at most `max_bytes` read as sent (never decompressed). Any failure to
obtain keys is `Reason.KEYS_UNAVAILABLE`, never an exception of another type.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import httpx
from jwt import PyJWK

from service.auth.errors import AuthError, Reason
from service.auth.issuers import TrustedIssuers
from service.auth.jwks import MAX_KEY_SET_BYTES, KeySet, KeySetError, parse_key_set

log = logging.getLogger(__name__)

_REQUEST_HEADERS = {
    "Accept": "application/jwk-set+json, application/json",
    "Accept-Encoding": "identity",
}


@dataclass
class _FetchedKeys:
    keys: KeySet | None = None
    fetched_at: float | None = None
    attempted_at: float | None = None
    last_attempt_failed: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class KeySetStore:
    """Verification keys by issuer and `kid`; one instance per process, shared by requests."""

    def __init__(
        self,
        issuers: TrustedIssuers,
        http: httpx.AsyncClient,
        *,
        refetch_interval_s: float = 60.0,
        max_age_s: float = 3600.0,
        timeout_s: float = 5.0,
        max_bytes: int = MAX_KEY_SET_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._issuers = issuers
        self._http = http
        self._refetch_interval_s = refetch_interval_s
        self._max_age_s = max_age_s
        self._timeout_s = timeout_s
        self._max_bytes = max_bytes
        self._clock = clock
        self._fetched: dict[str, _FetchedKeys] = {}

    @property
    def issuers(self) -> TrustedIssuers:
        return self._issuers

    async def keys_for(self, iss: str, kid: str) -> Mapping[str, PyJWK]:
        """The keys (by algorithm) of this issuer's `kid`; AuthError when there are none."""
        issuer = self._issuers.get(iss)
        if issuer is None:
            raise AuthError(Reason.ISSUER)
        if issuer.file_keys is not None:
            if kid in issuer.file_keys:
                return issuer.file_keys[kid]
            raise AuthError(Reason.UNKNOWN_KID, iss)
        assert issuer.jwks_url is not None  # the configuration requires a file or a URL
        state = self._fetched.setdefault(iss, _FetchedKeys())
        if self._wants_fetch(state, kid):
            async with state.lock:  # calls arriving during a fetch wait for its keys
                if self._wants_fetch(state, kid) and self._may_fetch(state):
                    await self._fetch(iss, issuer.jwks_url, state)
        if state.keys is not None and kid in state.keys:
            return state.keys[kid]
        unavailable = state.keys is None or state.last_attempt_failed
        raise AuthError(Reason.KEYS_UNAVAILABLE if unavailable else Reason.UNKNOWN_KID, iss)

    def _wants_fetch(self, state: _FetchedKeys, kid: str) -> bool:
        if state.keys is None or kid not in state.keys or state.fetched_at is None:
            return True
        return self._clock() - state.fetched_at >= self._max_age_s

    def _may_fetch(self, state: _FetchedKeys) -> bool:
        return (
            state.attempted_at is None
            or self._clock() - state.attempted_at >= self._refetch_interval_s
        )

    async def _fetch(self, iss: str, url: str, state: _FetchedKeys) -> None:
        state.attempted_at = self._clock()
        try:
            keys = parse_key_set(await self._download(url))
        except Exception as error:  # any failure to get keys is a 401, never a 500
            state.last_attempt_failed = True
            log.warning(
                "JWK Set of issuer %s not obtained from %s: %s",
                iss,
                url,
                str(error) if isinstance(error, KeySetError) else type(error).__name__,
            )
            return
        state.keys = keys
        state.fetched_at = state.attempted_at
        state.last_attempt_failed = False
        log.info("JWK Set of issuer %s fetched: %d usable key(s)", iss, len(keys))

    async def _download(self, url: str) -> bytes:
        async with (
            asyncio.timeout(self._timeout_s),
            self._http.stream(
                "GET",
                url,
                headers=_REQUEST_HEADERS,
                follow_redirects=False,
                timeout=self._timeout_s,
            ) as response,
        ):
            if response.status_code != 200:
                raise KeySetError(f"HTTP status {response.status_code}")
            body = bytearray()
            async for chunk in response.aiter_raw():  # raw: a compressed body is never inflated
                body += chunk
                if len(body) > self._max_bytes:
                    raise KeySetError(f"larger than {self._max_bytes} bytes")
            return bytes(body)
