"""EHR signing keys and JWTs for tests: valid tokens and every kind of hostile one.

Keys are generated in the test run; no real private key is ever in the project.
`TokenFactory.sandbox_shaped()` signs tokens shaped exactly like the CDS Hooks
sandbox's (its iss, kid, jku and claims, ES384, exp = iat + 300, no sub) with a
P-384 key of our own, since the sandbox's private key must not be copied here.

Tokens are assembled by hand rather than with a JWT library's encoder so a test
can send what no well-behaved library would: a missing `typ`, `alg: none`, an
HMAC signed with the public key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import get_default_algorithms

SANDBOX_ISSUER = "https://sandbox.cds-hooks.org"
SANDBOX_KID = "44823f3d-0b01-4a6c-a80e-b9d3e8a7226f"
SANDBOX_JKU = "https://sandbox.cds-hooks.org/.well-known/jwks.json"
EHR_ISSUER = "https://ehr.example.org"
EHR_JWKS_URL = "https://ehr.example.org/.well-known/jwks.json"
AUDIENCE = "https://cds.example.org/cds-services/footdrop-patient-view"

_CURVES = {"ES256": ec.SECP256R1, "ES384": ec.SECP384R1}

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def encode(
    header: Mapping[str, Any], claims: Mapping[str, Any], sign: Callable[[bytes], bytes]
) -> str:
    """A compact JWS of exactly this header and these claims."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64url(sign(signing_input.encode()))}"


@dataclass(frozen=True)
class SigningKey:
    """An EHR's key pair: the private half signs, `public_jwk()` goes into its JWK Set."""

    alg: str
    kid: str
    private_key: PrivateKey

    @classmethod
    def generate(
        cls, alg: str = "ES384", kid: str | None = None, rsa_bits: int = 2048
    ) -> SigningKey:
        private_key: PrivateKey
        if alg in _CURVES:
            private_key = ec.generate_private_key(_CURVES[alg]())
        else:
            private_key = rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
        return cls(alg=alg, kid=kid or str(uuid.uuid4()), private_key=private_key)

    def public_jwk(self, **members: Any) -> dict[str, Any]:
        algorithm = get_default_algorithms()[self.alg]
        jwk: dict[str, Any] = algorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {**jwk, "kid": self.kid, "use": "sig", "alg": self.alg, **members}

    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, signing_input: bytes) -> bytes:
        return get_default_algorithms()[self.alg].sign(signing_input, self.private_key)


class TokenFactory:
    """Tokens of one issuer, valid by default; every part can be overridden or left out."""

    def __init__(
        self,
        issuer: str = EHR_ISSUER,
        key: SigningKey | None = None,
        *,
        jku: str | None = None,
        lifetime_s: int = 300,
    ) -> None:
        self.issuer = issuer
        self.key = key or SigningKey.generate()
        self.jku = jku
        self.lifetime_s = lifetime_s

    @classmethod
    def sandbox_shaped(cls) -> TokenFactory:
        """Tokens like the CDS Hooks sandbox's, signed with our own P-384 key."""
        return cls(SANDBOX_ISSUER, SigningKey.generate("ES384", SANDBOX_KID), jku=SANDBOX_JKU)

    def jwks(self, *other_keys: SigningKey) -> dict[str, Any]:
        """The issuer's JWK Set: its key, then `other_keys`."""
        return {"keys": [key.public_jwk() for key in (self.key, *other_keys)]}

    def header(self, key: SigningKey | None = None) -> dict[str, Any]:
        key = key or self.key
        header = {"alg": key.alg, "typ": "JWT", "kid": key.kid}
        if self.jku:
            header["jku"] = self.jku
        return header

    def claims(self, audience: str, now: datetime) -> dict[str, Any]:
        issued_at = int(now.timestamp())
        return {
            "iss": self.issuer,
            "aud": audience,
            "exp": issued_at + self.lifetime_s,
            "iat": issued_at,
            "jti": str(uuid.uuid4()),
        }

    def token(
        self,
        audience: str,
        now: datetime,
        *,
        header: Mapping[str, Any] | None = None,
        claims: Mapping[str, Any] | None = None,
        omit_header: Iterable[str] = (),
        omit_claims: Iterable[str] = (),
        key: SigningKey | None = None,
    ) -> str:
        """A token for `audience` issued at `now`, signed with `key` (default: the issuer's)."""
        signer = key or self.key
        final_header = _without({**self.header(signer), **(header or {})}, omit_header)
        final_claims = _without({**self.claims(audience, now), **(claims or {})}, omit_claims)
        return encode(final_header, final_claims, signer.sign)

    def unsigned(self, audience: str, now: datetime) -> str:
        """`alg: none` with an empty signature."""
        return encode({**self.header(), "alg": "none"}, self.claims(audience, now), lambda _: b"")

    def hmac_with_public_key(self, audience: str, now: datetime) -> str:
        """HS256 keyed with the issuer's public key: the classic algorithm-confusion attack."""
        secret = self.key.public_pem()
        return encode(
            {**self.header(), "alg": "HS256"},
            self.claims(audience, now),
            lambda data: hmac.new(secret, data, hashlib.sha256).digest(),
        )


def _without(values: dict[str, Any], names: Iterable[str]) -> dict[str, Any]:
    dropped = set(names)
    return {name: value for name, value in values.items() if name not in dropped}
