"""The attack suite (issue 10, item 8): each hostile token is refused with its reason.

Every token here is one an attacker (or a broken EHR) could send; each test
would fail if the check it names were removed. Keys come from a file, so no
test here depends on a network.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from service.auth import AuthError, JwtVerifier, Reason
from tests.auth.harness import NOW, trust_files, verifier_for
from tests.support.tokens import (
    AUDIENCE,
    EHR_ISSUER,
    EHR_JWKS_URL,
    SigningKey,
    TokenFactory,
    b64url,
)

pytestmark = pytest.mark.anyio

T0 = int(NOW.timestamp())
OTHER_SERVICE = "https://cds.example.org/cds-services/footdrop-order-sign"
ATTACKER = SigningKey.generate("ES384")


@pytest.fixture
def ehr() -> TokenFactory:
    return TokenFactory(EHR_ISSUER, jku=EHR_JWKS_URL)


@pytest.fixture
def verifier(tmp_path: Path, ehr: TokenFactory, offline_http: httpx.AsyncClient) -> JwtVerifier:
    return verifier_for(trust_files(tmp_path, ehr), offline_http)


def _forged_header(token: str, raw_header: bytes) -> str:
    """The token with its header segment replaced by these exact bytes."""
    _, claims, signature = token.split(".")
    return f"{b64url(raw_header)}.{claims}.{signature}"


Attack = Callable[[TokenFactory], str]

ATTACKS: dict[str, tuple[Attack, Reason]] = {
    "alg none": (lambda ehr: ehr.unsigned(AUDIENCE, NOW), Reason.ALG),
    "HS256 keyed with the public key": (
        lambda ehr: ehr.hmac_with_public_key(AUDIENCE, NOW),
        Reason.ALG,
    ),
    "alg None spelled otherwise": (
        lambda ehr: ehr.token(AUDIENCE, NOW, header={"alg": "None"}),
        Reason.ALG,
    ),
    "alg ES512 (not accepted)": (
        lambda ehr: ehr.token(AUDIENCE, NOW, header={"alg": "ES512"}),
        Reason.ALG,
    ),
    "alg missing": (lambda ehr: ehr.token(AUDIENCE, NOW, omit_header=["alg"]), Reason.ALG),
    "RS384 header on the issuer's EC key": (
        lambda ehr: ehr.token(
            AUDIENCE, NOW, key=SigningKey.generate("RS384", ehr.key.kid, rsa_bits=2048)
        ),
        Reason.ALG,
    ),
    "ES256 header on the issuer's P-384 key": (
        lambda ehr: ehr.token(AUDIENCE, NOW, key=SigningKey.generate("ES256", ehr.key.kid)),
        Reason.ALG,
    ),
    "signed with another key under the issuer's kid": (
        lambda ehr: ehr.token(AUDIENCE, NOW, key=SigningKey.generate("ES384", ehr.key.kid)),
        Reason.SIGNATURE,
    ),
    "attacker key embedded in the header (jwk)": (
        lambda ehr: ehr.token(
            AUDIENCE,
            NOW,
            key=SigningKey("ES384", ehr.key.kid, ATTACKER.private_key),
            header={"jwk": ATTACKER.public_jwk()},
        ),
        Reason.SIGNATURE,
    ),
    "signature stripped": (
        lambda ehr: ehr.token(AUDIENCE, NOW).rsplit(".", 1)[0] + ".",
        Reason.SIGNATURE,
    ),
    "claims changed after signing": (
        lambda ehr: _swap_claims(ehr.token(AUDIENCE, NOW), {"aud": OTHER_SERVICE}),
        Reason.SIGNATURE,
    ),
    "unknown kid": (
        lambda ehr: ehr.token(AUDIENCE, NOW, key=SigningKey.generate("ES384", "not-published")),
        Reason.UNKNOWN_KID,
    ),
    "kid missing": (lambda ehr: ehr.token(AUDIENCE, NOW, omit_header=["kid"]), Reason.KID),
    "kid empty": (lambda ehr: ehr.token(AUDIENCE, NOW, header={"kid": ""}), Reason.KID),
    "typ other than JWT": (
        lambda ehr: ehr.token(AUDIENCE, NOW, header={"typ": "at+jwt"}),
        Reason.TYP,
    ),
    "typ missing": (lambda ehr: ehr.token(AUDIENCE, NOW, omit_header=["typ"]), Reason.TYP),
    "jku off the allowlist": (
        lambda ehr: ehr.token(
            AUDIENCE, NOW, header={"jku": "https://attacker.example/.well-known/jwks.json"}
        ),
        Reason.JKU,
    ),
    "jku of the issuer's host but another path": (
        lambda ehr: ehr.token(AUDIENCE, NOW, header={"jku": EHR_JWKS_URL + "?evil"}),
        Reason.JKU,
    ),
    "untrusted iss": (
        lambda ehr: TokenFactory("https://attacker.example", ATTACKER).token(AUDIENCE, NOW),
        Reason.ISSUER,
    ),
    "iss of a trusted issuer with a trailing slash": (
        lambda ehr: ehr.token(AUDIENCE, NOW, claims={"iss": EHR_ISSUER + "/"}),
        Reason.ISSUER,
    ),
    "expired": (
        lambda ehr: ehr.token(AUDIENCE, NOW, claims={"iat": T0 - 400, "exp": T0 - 31}),
        Reason.EXPIRED,
    ),
    "iat in the future": (
        lambda ehr: ehr.token(AUDIENCE, NOW, claims={"iat": T0 + 31, "exp": T0 + 300}),
        Reason.IAT_FUTURE,
    ),
    "nbf in the future": (
        lambda ehr: ehr.token(AUDIENCE, NOW, claims={"nbf": T0 + 120}),
        Reason.IAT_FUTURE,
    ),
    "lifetime beyond an hour": (
        lambda ehr: ehr.token(AUDIENCE, NOW, claims={"exp": T0 + 3601}),
        Reason.LIFETIME,
    ),
    "aud of another service": (
        lambda ehr: ehr.token(OTHER_SERVICE, NOW),
        Reason.AUDIENCE,
    ),
    "aud with a trailing slash": (
        lambda ehr: ehr.token(AUDIENCE + "/", NOW),
        Reason.AUDIENCE,
    ),
    "aud list without this service": (
        lambda ehr: ehr.token(AUDIENCE, NOW, claims={"aud": [OTHER_SERVICE]}),
        Reason.AUDIENCE,
    ),
    **{
        f"{claim} missing": (
            lambda ehr, claim=claim: ehr.token(AUDIENCE, NOW, omit_claims=[claim]),
            Reason.MISSING_CLAIM,
        )
        for claim in ("jti", "exp", "iat", "aud", "iss")
    },
    "exp a string": (
        lambda ehr: ehr.token(AUDIENCE, NOW, claims={"exp": str(T0 + 300)}),
        Reason.INVALID_CLAIM,
    ),
    "exp true": (lambda ehr: ehr.token(AUDIENCE, NOW, claims={"exp": True}), Reason.INVALID_CLAIM),
    "exp beyond any date": (  # a 401-digit number is refused by the strict JSON parser
        lambda ehr: ehr.token(AUDIENCE, NOW, claims={"exp": 10**400}),
        Reason.MALFORMED,
    ),
    "jti empty": (lambda ehr: ehr.token(AUDIENCE, NOW, claims={"jti": ""}), Reason.INVALID_CLAIM),
    "jti a number": (lambda ehr: ehr.token(AUDIENCE, NOW, claims={"jti": 7}), Reason.INVALID_CLAIM),
    "jti of 257 characters": (
        lambda ehr: ehr.token(AUDIENCE, NOW, claims={"jti": "j" * 257}),
        Reason.INVALID_CLAIM,
    ),
    "aud empty list": (
        lambda ehr: ehr.token(AUDIENCE, NOW, claims={"aud": []}),
        Reason.INVALID_CLAIM,
    ),
    "iss a number": (lambda ehr: ehr.token(AUDIENCE, NOW, claims={"iss": 1}), Reason.INVALID_CLAIM),
    "crit extension": (
        lambda ehr: ehr.token(AUDIENCE, NOW, header={"crit": ["exp"], "exp": 1}),
        Reason.MALFORMED,
    ),
    "unencoded payload (b64 false)": (
        lambda ehr: ehr.token(AUDIENCE, NOW, header={"b64": False, "crit": ["b64"]}),
        Reason.MALFORMED,
    ),
    "duplicate alg in the header": (
        lambda ehr: _forged_header(
            ehr.token(AUDIENCE, NOW),
            b'{"alg":"none","alg":"ES384","typ":"JWT","kid":"%s"}' % ehr.key.kid.encode(),
        ),
        Reason.MALFORMED,
    ),
    "header a JSON array": (
        lambda ehr: _forged_header(ehr.token(AUDIENCE, NOW), b'["ES384"]'),
        Reason.MALFORMED,
    ),
    "header not JSON": (
        lambda ehr: _forged_header(ehr.token(AUDIENCE, NOW), b"alg=ES384"),
        Reason.MALFORMED,
    ),
    "NaN in the claims": (
        lambda ehr: _swap_claims(ehr.token(AUDIENCE, NOW), {}, raw=b'{"exp": NaN}'),
        Reason.MALFORMED,
    ),
    "two segments": (
        lambda ehr: ".".join(ehr.token(AUDIENCE, NOW).split(".")[:2]),
        Reason.MALFORMED,
    ),
    "four segments": (lambda ehr: ehr.token(AUDIENCE, NOW) + ".e30", Reason.MALFORMED),
    "not base64url": (lambda ehr: "é" + ehr.token(AUDIENCE, NOW), Reason.MALFORMED),
    "padding in a segment": (
        lambda ehr: ehr.token(AUDIENCE, NOW).replace(".", "=.", 1),
        Reason.MALFORMED,
    ),
    "longer than 8192 characters": (
        lambda ehr: ehr.token(AUDIENCE, NOW, claims={"pad": "x" * 8192}),
        Reason.MALFORMED,
    ),
    "empty": (lambda ehr: "", Reason.MALFORMED),
}


def _swap_claims(token: str, changes: dict[str, object], raw: bytes | None = None) -> str:
    """The token with its claims edited but its original signature kept."""
    header, claims, signature = token.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    edited = raw if raw is not None else json.dumps({**decoded, **changes}).encode()
    return f"{header}.{b64url(edited)}.{signature}"


@pytest.mark.parametrize("name", list(ATTACKS))
async def test_hostile_token_is_refused_with_its_reason(
    name: str, ehr: TokenFactory, verifier: JwtVerifier
) -> None:
    attack, reason = ATTACKS[name]
    with pytest.raises(AuthError) as refused:
        await verifier.verify(attack(ehr), AUDIENCE, NOW)
    assert refused.value.reason is reason
    assert refused.value.client_message == "Authentication failed"


async def test_the_same_token_is_accepted_once(ehr: TokenFactory, verifier: JwtVerifier) -> None:
    token = ehr.token(AUDIENCE, NOW)
    await verifier.verify(token, AUDIENCE, NOW)
    with pytest.raises(AuthError) as replayed:
        await verifier.verify(token, AUDIENCE, NOW + timedelta(seconds=5))
    assert replayed.value.reason is Reason.REPLAY


async def test_a_jti_is_not_reused_at_another_endpoint(
    ehr: TokenFactory, verifier: JwtVerifier
) -> None:
    await verifier.verify(ehr.token(AUDIENCE, NOW, claims={"jti": "once"}), AUDIENCE, NOW)
    with pytest.raises(AuthError) as replayed:
        await verifier.verify(
            ehr.token(OTHER_SERVICE, NOW, claims={"jti": "once"}), OTHER_SERVICE, NOW
        )
    assert replayed.value.reason is Reason.REPLAY


async def test_a_refused_token_does_not_use_up_its_jti(
    ehr: TokenFactory, verifier: JwtVerifier
) -> None:
    """Only verified tokens are recorded, so a forged copy cannot burn a real token's jti."""
    with pytest.raises(AuthError):
        await verifier.verify(ehr.token(OTHER_SERVICE, NOW, claims={"jti": "j1"}), AUDIENCE, NOW)
    caller = await verifier.verify(ehr.token(AUDIENCE, NOW, claims={"jti": "j1"}), AUDIENCE, NOW)
    assert caller.jti == "j1"
