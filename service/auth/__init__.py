"""Authentication of the EHR: JWT verification per CDS Hooks 2.0 (S-2 to S-9), issue 10.

Wiring, once per process:

    issuers = parse_trusted_issuers(settings_text)           # CDS_TRUSTED_ISSUERS
    if warning := issuers.testing_issuer_warning(): log.warning(warning)
    key_sets = KeySetStore(issuers, shared_httpx_client)
    verifier = JwtVerifier(key_sets, FallbackReplayCache(db_cache, MemoryReplayCache(), count))

and per call:

    caller = await verifier.verify(bearer_token(authorization_header), audience_url, now)

`AuthError.reason` is for metrics and logs; clients only get `CLIENT_MESSAGE`.
"""

from service.auth.errors import CLIENT_MESSAGE, AuthError, Reason
from service.auth.issuers import (
    SANDBOX_JWKS_FILE,
    TrustedIssuer,
    TrustedIssuers,
    check_jwks_url,
    parse_trusted_issuers,
)
from service.auth.jwks import ALGORITHMS, KeySetError
from service.auth.key_sets import KeySetStore
from service.auth.replay import (
    FallbackReplayCache,
    MemoryReplayCache,
    ReplayCache,
    ReplayCacheFull,
)
from service.auth.verifier import JwtVerifier, VerifiedCaller, bearer_token

__all__ = [
    "ALGORITHMS",
    "CLIENT_MESSAGE",
    "SANDBOX_JWKS_FILE",
    "AuthError",
    "FallbackReplayCache",
    "JwtVerifier",
    "KeySetError",
    "KeySetStore",
    "MemoryReplayCache",
    "Reason",
    "ReplayCache",
    "ReplayCacheFull",
    "TrustedIssuer",
    "TrustedIssuers",
    "VerifiedCaller",
    "bearer_token",
    "check_jwks_url",
    "parse_trusted_issuers",
]
