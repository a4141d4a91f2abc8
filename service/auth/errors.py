"""The one exception of JWT verification, with a reason code for metrics and logs.

The reason tells operators why a call was refused; the client only ever gets
`CLIENT_MESSAGE` (S-9: a 401 without details), so a prober learns nothing about
which check failed.
"""

from __future__ import annotations

from enum import StrEnum

CLIENT_MESSAGE = "Authentication failed"


class Reason(StrEnum):
    """Why a token was refused; the values are stable metric label values."""

    MISSING_TOKEN = "missing_token"
    """No `Authorization: Bearer` header."""
    MALFORMED = "malformed"
    """Not a compact JWS with JSON-object header and claims, or a header we do not understand."""
    ALG = "alg"
    """`alg` missing, not ES384/RS384/ES256/RS256, or not the algorithm of the selected key."""
    KID = "kid"
    """`kid` missing or not a non-empty string."""
    TYP = "typ"
    """`typ` missing or not `JWT`."""
    ISSUER = "issuer"
    """`iss` is not a trusted issuer."""
    JKU = "jku"
    """`jku` present but not the issuer's configured `jwks_url`."""
    UNKNOWN_KID = "unknown_kid"
    """The issuer's key set has no key with this `kid`, even after a refetch."""
    KEYS_UNAVAILABLE = "keys_unavailable"
    """The issuer's key set could not be fetched."""
    SIGNATURE = "signature"
    """The signature does not verify with the selected key."""
    MISSING_CLAIM = "missing_claim"
    """One of iss, aud, exp, iat, jti is absent."""
    INVALID_CLAIM = "invalid_claim"
    """A claim has the wrong type (e.g. `exp` not a number, `jti` empty or too long)."""
    EXPIRED = "expired"
    """`exp` is in the past (beyond the leeway)."""
    IAT_FUTURE = "iat_future"
    """`iat` (or `nbf`) is in the future (beyond the leeway)."""
    LIFETIME = "lifetime"
    """`exp - iat` is longer than the service accepts (it bounds the replay memory)."""
    AUDIENCE = "audience"
    """`aud` is not the URL of the endpoint invoked."""
    REPLAY = "replay"
    """This issuer's `jti` was already accepted."""
    REPLAY_UNAVAILABLE = "replay_unavailable"
    """The `jti` could not be recorded, so the token is refused rather than risk a replay."""


class AuthError(Exception):
    """A refused token. `issuer` is set only once `iss` is known to be trusted."""

    def __init__(self, reason: Reason, issuer: str | None = None) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.issuer = issuer

    @property
    def client_message(self) -> str:
        return CLIENT_MESSAGE
