"""CDS_TRUSTED_ISSUERS parsing (one-line errors) and which JWKs a key set yields."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.auth import KeySetError, TrustedIssuers, parse_trusted_issuers
from service.auth.jwks import parse_key_set, read_key_set_file
from tests.support.tokens import SigningKey

KEY = SigningKey.generate("ES384", "k1")


@pytest.fixture
def jwks_file(tmp_path: Path) -> Path:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [KEY.public_jwk()]}))
    return path


def test_a_full_configuration(jwks_file: Path) -> None:
    issuers = parse_trusted_issuers(
        json.dumps(
            {
                "https://ehr.example.org": {"jwks_url": "https://ehr.example.org/jwks.json"},
                "https://sandbox.cds-hooks.org": {
                    "jwks_url": "https://sandbox.cds-hooks.org/.well-known/jwks.json",
                    "jwks_file": str(jwks_file),
                    "testing": True,
                },
            }
        )
    )
    ehr = issuers.get("https://ehr.example.org")
    assert ehr is not None and ehr.file_keys is None and not ehr.testing
    sandbox = issuers.get("https://sandbox.cds-hooks.org")
    assert sandbox is not None and sandbox.file_keys is not None
    assert list(sandbox.file_keys) == ["k1"]
    assert issuers.get("https://ehr.example.org/") is None


def test_no_issuers_trusts_no_one() -> None:
    assert parse_trusted_issuers("{}").root == {}
    assert TrustedIssuers().get("https://ehr.example.org") is None


def test_testing_issuers_produce_one_start_up_warning(jwks_file: Path) -> None:
    issuers = parse_trusted_issuers(
        json.dumps(
            {
                "https://b.example": {"jwks_file": str(jwks_file), "testing": True},
                "https://a.example": {"jwks_file": str(jwks_file), "testing": True},
                "https://prod.example": {"jwks_file": str(jwks_file)},
            }
        )
    )
    warning = issuers.testing_issuer_warning()
    assert warning is not None and "\n" not in warning
    assert "private key is public" in warning and "never use in production" in warning
    assert warning.endswith("https://a.example, https://b.example")
    production = parse_trusted_issuers(
        json.dumps({"https://p.example": {"jwks_file": str(jwks_file)}})
    )
    assert production.testing_issuer_warning() is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "CDS_TRUSTED_ISSUERS must be a JSON object"),
        ("[]", "CDS_TRUSTED_ISSUERS must be a JSON object"),
        ('{"a": {"jwks_url": "https://x"}, "a": {}}', "duplicate key"),
        ('{"https://e": {}}', 'CDS_TRUSTED_ISSUERS["https://e"]: needs jwks_url or jwks_file'),
        ('{"https://e": "https://e/jwks"}', 'CDS_TRUSTED_ISSUERS["https://e"]: Input should be'),
        ('{"https://e": {"jwks_uri": "https://e/j"}}', '["https://e"].jwks_uri: Extra inputs'),
        ('{"https://e": {"jwks_url": "http://e/j"}}', "jwks_url must be an https:// URL"),
        ('{"https://e": {"jwks_url": "http://127.0.0.1:9/j"}}', "jwks_url must be an https://"),
        ('{"https://e": {"jwks_url": "https:///j"}}', "jwks_url must be an absolute https://"),
        ('{"https://e": {"jwks_url": "https://u:p@e/j"}}', "jwks_url must be an absolute"),
        ('{"https://e": {"jwks_url": "https://e/j", "testing": "yes"}}', ".testing: Input should"),
        ('{"https://e": {"jwks_file": "/no/such/file.json"}}', "jwks_file: cannot read /no/such"),
        ('{"": {"jwks_url": "https://e/j"}}', "must be a non-empty iss"),
        ('{" https://e": {"jwks_url": "https://e/j"}}', "must be a non-empty iss without spaces"),
    ],
)
def test_each_mistake_is_one_clear_line(text: str, message: str) -> None:
    with pytest.raises(ValueError) as error:
        parse_trusted_issuers(text)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_two_mistakes_are_both_reported_on_one_line() -> None:
    with pytest.raises(ValueError) as error:
        parse_trusted_issuers('{"https://a": {}, "https://b": {"jwks_url": "http://b"}}')
    assert '["https://a"]' in str(error.value) and '["https://b"]' in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.0.1", "[::1]", "localhost"])
def test_plain_http_only_to_loopback_and_only_when_asked(host: str) -> None:
    text = json.dumps({"https://e": {"jwks_url": f"http://{host}:8123/jwks.json"}})
    with pytest.raises(ValueError):
        parse_trusted_issuers(text)
    assert parse_trusted_issuers(text, allow_http_loopback=True).get("https://e") is not None


def test_plain_http_elsewhere_is_refused_even_when_asked() -> None:
    text = json.dumps({"https://e": {"jwks_url": "http://10.0.0.5/jwks.json"}})
    with pytest.raises(ValueError, match="https://"):
        parse_trusted_issuers(text, allow_http_loopback=True)


def test_a_key_file_without_a_usable_key_is_a_start_up_error(tmp_path: Path) -> None:
    path = tmp_path / "hmac.json"
    path.write_text(json.dumps({"keys": [{"kty": "oct", "kid": "s", "k": "c2VjcmV0"}]}))
    with pytest.raises(ValueError, match="has no usable signature key"):
        parse_trusted_issuers(json.dumps({"https://e": {"jwks_file": str(path)}}))


def test_a_key_file_that_is_too_large_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"keys": [KEY.public_jwk()], "pad": "x" * 70_000}))
    with pytest.raises(KeySetError, match="larger than"):
        read_key_set_file(path)


def _kids_and_algorithms(*jwks: dict[str, object]) -> dict[str, list[str]]:
    keys = parse_key_set(json.dumps({"keys": list(jwks)}).encode())
    return {kid: sorted(by_alg) for kid, by_alg in keys.items()}


def test_a_key_set_yields_asymmetric_signature_keys_only() -> None:
    es256, es384 = SigningKey.generate("ES256", "p256"), SigningKey.generate("ES384", "p384")
    rsa = SigningKey.generate("RS384", "rsa")
    assert _kids_and_algorithms(
        es256.public_jwk(),
        es384.public_jwk(),
        rsa.public_jwk(alg=None) | {"kid": "rsa-any"},
        rsa.public_jwk(),
        {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0", "alg": "HS256"},
        es384.public_jwk(kid="for-encryption", use="enc"),
        es384.public_jwk(kid="sign-only-ops", key_ops=["sign"]),
        es384.public_jwk(kid="verify-ops", key_ops=["verify"]),
        es384.public_jwk(kid="declared-es256", alg="ES256"),  # P-384 cannot do ES256
        es384.public_jwk(kid="declared-none", alg="none"),
        es384.public_jwk(kid="broken", x="AAAA"),
        {"kty": "EC", "crv": "P-521", "kid": "p521", "x": "AA", "y": "AA"},
        {
            "kty": "OKP",
            "crv": "Ed25519",
            "kid": "ed",
            "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
        },
        {"kid": "no-kty"},
        es384.public_jwk(kid=""),
        "not an object",
    ) == {
        "p256": ["ES256"],
        "p384": ["ES384"],
        "rsa-any": ["RS256", "RS384"],
        "rsa": ["RS384"],
        "verify-ops": ["ES384"],
    }


def test_a_jwk_with_alg_null_is_treated_as_undeclared() -> None:
    rsa = SigningKey.generate("RS256", "r")
    assert _kids_and_algorithms(rsa.public_jwk(alg=None)) == {"r": ["RS256", "RS384"]}


def test_short_rsa_keys_are_skipped() -> None:
    weak = SigningKey.generate("RS256", "weak", rsa_bits=1024)
    assert _kids_and_algorithms(weak.public_jwk()) == {}


def test_a_duplicated_kid_is_ambiguous_and_neither_key_is_used() -> None:
    first, second = SigningKey.generate("ES384", "same"), SigningKey.generate("ES384", "same")
    other = SigningKey.generate("ES384", "other")
    assert _kids_and_algorithms(first.public_jwk(), second.public_jwk(), other.public_jwk()) == {
        "other": ["ES384"]
    }


def test_private_members_of_a_published_key_are_dropped() -> None:
    private = KEY.public_jwk()
    private["d"] = "AAAA"  # a careless publisher: the set must still yield a public key
    keys = parse_key_set(json.dumps({"keys": [private]}).encode())
    assert not hasattr(keys["k1"]["ES384"].key, "private_numbers")


@pytest.mark.parametrize(
    "document", [b"", b"[]", b'{"keys": {}}', b'{"keys": [], "keys": []}', b'{"keys": [NaN]}']
)
def test_documents_that_are_not_jwk_sets(document: bytes) -> None:
    with pytest.raises(KeySetError):
        parse_key_set(document)
