"""Verification of the EHR's JWT on every CDS Hooks call (S-2 to S-9).

Checks, in order (the first that fails is the `Reason`):

1. the token is a compact JWS of bounded size whose header and claims are strict JSON objects;
2. header: `alg` one of ES384, RS384, ES256, RS256; `typ` = `JWT`; `kid` present;
   no `crit` extensions; embedded keys (`jwk`, `x5c`, `x5u`) are never used;
3. `iss` is a trusted issuer, and a `jku` header, if any, is exactly its `jwks_url`;
4. the issuer's key with that `kid` exists for that `alg`, and the signature verifies;
5. claims `aud`, `exp`, `iat`, `jti` are present and well-typed (`sub` is ignored);
   `exp` not passed and `iat`/`nbf` not in the future, both within `leeway_s`;
   a lifetime of at most `max_lifetime_s`; `aud` is exactly the URL invoked;
6. the issuer's `jti` is recorded for the first time.

Claims are checked only after the signature, so every reason past step 4 is
about a token the issuer really signed.
"""

from __future__ import annotations

import base64
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jwt import InvalidSignatureError, PyJWS, PyJWTError

from service.auth.errors import AuthError, Reason
from service.auth.jwks import ALGORITHMS
from service.auth.key_sets import KeySetStore
from service.auth.replay import ReplayCache
from service.fhir.strict_json import load_object

log = logging.getLogger(__name__)

MAX_TOKEN_CHARS = 8192
"""A CDS Hooks JWT is well under 2 KB; anything longer is refused unparsed."""
MAX_JTI_CHARS = 256
REQUIRED_CLAIMS = ("iss", "aud", "exp", "iat", "jti")

_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"Bearer +(\S+) *", re.IGNORECASE)
_JWS = PyJWS(algorithms=list(ALGORITHMS))


@dataclass(frozen=True)
class VerifiedCaller:
    """Who signed the call; safe to log (S-9 allows iss and jti, never the token)."""

    issuer: str
    jti: str
    expires_at: datetime


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header."""
    match = _BEARER.fullmatch(authorization or "")
    if match is None:
        raise AuthError(Reason.MISSING_TOKEN)
    return match.group(1)


class JwtVerifier:
    """One per process: holds the key sets and the replay memory shared by all calls."""

    def __init__(
        self,
        key_sets: KeySetStore,
        replay: ReplayCache,
        *,
        leeway_s: float = 30.0,
        max_lifetime_s: float = 3600.0,
    ) -> None:
        self._key_sets = key_sets
        self._replay = replay
        self._leeway_s = leeway_s
        self._max_lifetime_s = max_lifetime_s

    async def verify(self, token: str, audience_url: str, now: datetime) -> VerifiedCaller:
        """Verify a token presented at `audience_url` (public base URL + path invoked)."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        if len(token) > MAX_TOKEN_CHARS or not _COMPACT_JWS.fullmatch(token):
            raise AuthError(Reason.MALFORMED)
        header_segment, claims_segment, _ = token.split(".")
        header = _decode_segment(header_segment)
        claims = _decode_segment(claims_segment)
        alg, kid = _check_header(header)

        iss = claims.get("iss")
        if iss is None:
            raise AuthError(Reason.MISSING_CLAIM)
        if not isinstance(iss, str):
            raise AuthError(Reason.INVALID_CLAIM)
        issuer = self._key_sets.issuers.get(iss)
        if issuer is None:
            raise AuthError(Reason.ISSUER)
        if "jku" in header and header["jku"] != issuer.jwks_url:
            raise AuthError(Reason.JKU, iss)

        key = (await self._key_sets.keys_for(iss, kid)).get(alg)
        if key is None:
            raise AuthError(Reason.ALG, iss)
        try:
            _JWS.decode_complete(token, key=key, algorithms=[alg])
        except InvalidSignatureError:
            raise AuthError(Reason.SIGNATURE, iss) from None
        except PyJWTError:
            raise AuthError(Reason.MALFORMED, iss) from None

        exp, jti = self._check_claims(claims, iss, audience_url, now.timestamp())
        await self._record_first_use(iss, jti, exp)
        return VerifiedCaller(issuer=iss, jti=jti, expires_at=datetime.fromtimestamp(exp, UTC))

    def _check_claims(
        self, claims: dict[str, Any], iss: str, audience_url: str, now: float
    ) -> tuple[float, str]:
        if any(name not in claims for name in REQUIRED_CLAIMS):
            raise AuthError(Reason.MISSING_CLAIM, iss)
        exp, iat = _numeric_date(claims["exp"], iss), _numeric_date(claims["iat"], iss)
        nbf = _numeric_date(claims["nbf"], iss) if "nbf" in claims else None
        jti = claims["jti"]
        if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_CHARS:
            raise AuthError(Reason.INVALID_CLAIM, iss)
        audiences = _audiences(claims["aud"], iss)

        if exp + self._leeway_s <= now:
            raise AuthError(Reason.EXPIRED, iss)
        if iat > now + self._leeway_s or (nbf is not None and nbf > now + self._leeway_s):
            raise AuthError(Reason.IAT_FUTURE, iss)
        if exp - iat > self._max_lifetime_s:
            raise AuthError(Reason.LIFETIME, iss)
        if audience_url not in audiences:
            raise AuthError(Reason.AUDIENCE, iss)
        return exp, jti

    async def _record_first_use(self, iss: str, jti: str, exp: float) -> None:
        # Remembered for as long as the token would still pass the exp check.
        acceptable_until = datetime.fromtimestamp(exp + self._leeway_s, UTC)
        try:
            first = await self._replay.first_use(iss, jti, acceptable_until)
        except Exception as error:  # cannot record the jti: refuse rather than risk a replay
            log.warning("jti of issuer %s not recorded: %s", iss, type(error).__name__)
            raise AuthError(Reason.REPLAY_UNAVAILABLE, iss) from None
        if not first:
            raise AuthError(Reason.REPLAY, iss)


def _decode_segment(segment: str) -> dict[str, Any]:
    try:
        return load_object(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except ValueError:
        raise AuthError(Reason.MALFORMED) from None


def _check_header(header: dict[str, Any]) -> tuple[str, str]:
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ALGORITHMS:
        raise AuthError(Reason.ALG)
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.upper() != "JWT":
        raise AuthError(Reason.TYP)
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise AuthError(Reason.KID)
    if "crit" in header or "b64" in header:
        raise AuthError(Reason.MALFORMED)
    return alg, kid


def _numeric_date(value: object, iss: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AuthError(Reason.INVALID_CLAIM, iss)
    try:
        return float(value)
    except OverflowError:  # an integer beyond any date
        raise AuthError(Reason.INVALID_CLAIM, iss) from None


def _audiences(value: object, iss: str) -> list[str]:
    """`aud` is a string or an array of strings (RFC 7519 §4.1.3)."""
    candidates = value if isinstance(value, list) else [value]
    audiences = [audience for audience in candidates if isinstance(audience, str)]
    if not audiences or len(audiences) != len(candidates):
        raise AuthError(Reason.INVALID_CLAIM, iss)
    return audiences
