"""Valid tokens pass, with what the service may log about the caller; the edges of each rule."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from service.auth import (
    AuthError,
    MemoryReplayCache,
    Reason,
    VerifiedCaller,
    bearer_token,
)
from tests.auth.harness import NOW, trust_files, verifier_for
from tests.support.tokens import AUDIENCE, EHR_ISSUER, EHR_JWKS_URL, SigningKey, TokenFactory

pytestmark = pytest.mark.anyio

T0 = int(NOW.timestamp())


@pytest.mark.parametrize("alg", ["ES384", "RS384", "ES256", "RS256"])
async def test_each_accepted_algorithm_verifies(
    alg: str, tmp_path: Path, offline_http: httpx.AsyncClient
) -> None:
    ehr = TokenFactory(EHR_ISSUER, SigningKey.generate(alg), jku=EHR_JWKS_URL)
    verifier = verifier_for(trust_files(tmp_path, ehr), offline_http)
    token = ehr.token(AUDIENCE, NOW, claims={"jti": "call-1"})
    caller = await verifier.verify(token, AUDIENCE, NOW)
    assert caller == VerifiedCaller(
        issuer=EHR_ISSUER, jti="call-1", expires_at=NOW + timedelta(seconds=300)
    )


async def test_without_jku_keys_come_from_the_configuration(
    tmp_path: Path, offline_http: httpx.AsyncClient
) -> None:
    ehr = TokenFactory(EHR_ISSUER)  # no jku: keys known out of band (S-7)
    verifier = verifier_for(trust_files(tmp_path, ehr), offline_http)
    assert (await verifier.verify(ehr.token(AUDIENCE, NOW), AUDIENCE, NOW)).issuer == EHR_ISSUER


async def test_a_jku_with_a_file_only_issuer_is_refused(
    tmp_path: Path, offline_http: httpx.AsyncClient
) -> None:
    """With no jwks_url configured, no jku can be on the allowlist."""
    configured = TokenFactory(EHR_ISSUER)
    verifier = verifier_for(trust_files(tmp_path, configured), offline_http)
    sender = TokenFactory(EHR_ISSUER, configured.key, jku=EHR_JWKS_URL)
    with pytest.raises(AuthError) as refused:
        await verifier.verify(sender.token(AUDIENCE, NOW), AUDIENCE, NOW)
    assert refused.value.reason is Reason.JKU
    assert refused.value.issuer == EHR_ISSUER


@pytest.fixture
def ehr() -> TokenFactory:
    return TokenFactory(EHR_ISSUER, jku=EHR_JWKS_URL)


async def _reason(ehr: TokenFactory, token: str, tmp_path: Path, **options: float) -> Reason | None:
    async with httpx.AsyncClient() as http:
        verifier = verifier_for(trust_files(tmp_path, ehr), http, **options)
        try:
            await verifier.verify(token, AUDIENCE, NOW)
        except AuthError as error:
            return error.reason
    return None


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"iat": T0 - 300, "exp": T0 - 29}, None),  # expired 29 s ago: within the leeway
        ({"iat": T0 - 300, "exp": T0 - 30}, Reason.EXPIRED),
        ({"iat": T0 + 30, "exp": T0 + 330}, None),  # issued 30 s ahead: within the leeway
        ({"iat": T0 + 31, "exp": T0 + 331}, Reason.IAT_FUTURE),
        ({"exp": T0 + 3600}, None),  # a lifetime of exactly an hour
        ({"exp": T0 + 3601}, Reason.LIFETIME),
        ({"iat": T0 + 0.5, "exp": T0 + 300.25}, None),  # NumericDate may be fractional
        ({"nbf": T0 + 30}, None),
    ],
)
async def test_time_rules_at_their_edges(
    claims: dict[str, float], reason: Reason | None, ehr: TokenFactory, tmp_path: Path
) -> None:
    assert await _reason(ehr, ehr.token(AUDIENCE, NOW, claims=claims), tmp_path) is reason


@pytest.mark.parametrize(
    ("leeway_s", "exp_offset", "reason"),
    [(0, 1, None), (0, 0, Reason.EXPIRED), (120, -119, None), (120, -120, Reason.EXPIRED)],
)
async def test_the_leeway_is_a_parameter(
    leeway_s: float, exp_offset: int, reason: Reason | None, ehr: TokenFactory, tmp_path: Path
) -> None:
    token = ehr.token(AUDIENCE, NOW, claims={"iat": T0 - 300, "exp": T0 + exp_offset})
    assert await _reason(ehr, token, tmp_path, leeway_s=leeway_s) is reason


async def test_the_maximum_lifetime_is_a_parameter(ehr: TokenFactory, tmp_path: Path) -> None:
    token = ehr.token(AUDIENCE, NOW, claims={"exp": T0 + 301})
    assert await _reason(ehr, token, tmp_path, max_lifetime_s=300) is Reason.LIFETIME


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": [AUDIENCE]},
        {"aud": ["https://other.example/cds-services", AUDIENCE]},
        {"sub": "Practitioner/1"},  # old sandbox builds sent sub: ignored
        {"sub": 42},  # even when it is not a string
        {"tenant": "ward-4"},
    ],
)
async def test_accepted_claim_variants(
    claims: dict[str, object], ehr: TokenFactory, tmp_path: Path
) -> None:
    assert await _reason(ehr, ehr.token(AUDIENCE, NOW, claims=claims), tmp_path) is None


async def test_typ_is_case_insensitive(ehr: TokenFactory, tmp_path: Path) -> None:
    """RFC 7519 §5.1 only recommends upper case."""
    assert await _reason(ehr, ehr.token(AUDIENCE, NOW, header={"typ": "jwt"}), tmp_path) is None


async def test_the_replay_memory_is_kept_while_the_token_could_pass(
    ehr: TokenFactory, tmp_path: Path, offline_http: httpx.AsyncClient
) -> None:
    recorded: list[tuple[str, str, datetime]] = []

    class Recording:
        async def first_use(self, issuer: str, jti: str, expires_at: datetime) -> bool:
            recorded.append((issuer, jti, expires_at))
            return True

    verifier = verifier_for(trust_files(tmp_path, ehr), offline_http, Recording(), leeway_s=30)
    await verifier.verify(ehr.token(AUDIENCE, NOW, claims={"jti": "j"}), AUDIENCE, NOW)
    assert recorded == [(EHR_ISSUER, "j", NOW + timedelta(seconds=300 + 30))]


async def test_a_replay_memory_failure_refuses_the_token(
    ehr: TokenFactory, tmp_path: Path, offline_http: httpx.AsyncClient
) -> None:
    class Broken:
        async def first_use(self, issuer: str, jti: str, expires_at: datetime) -> bool:
            raise ConnectionError("database down")

    verifier = verifier_for(trust_files(tmp_path, ehr), offline_http, Broken())
    with pytest.raises(AuthError) as refused:
        await verifier.verify(ehr.token(AUDIENCE, NOW), AUDIENCE, NOW)
    assert refused.value.reason is Reason.REPLAY_UNAVAILABLE


async def test_a_full_replay_memory_refuses_new_tokens(
    ehr: TokenFactory, tmp_path: Path, offline_http: httpx.AsyncClient
) -> None:
    replay = MemoryReplayCache(max_entries=2, clock=lambda: NOW)
    verifier = verifier_for(trust_files(tmp_path, ehr), offline_http, replay)
    for _ in range(2):
        await verifier.verify(ehr.token(AUDIENCE, NOW), AUDIENCE, NOW)
    with pytest.raises(AuthError) as refused:
        await verifier.verify(ehr.token(AUDIENCE, NOW), AUDIENCE, NOW)
    assert refused.value.reason is Reason.REPLAY_UNAVAILABLE


async def test_the_same_jti_from_two_issuers_is_two_tokens(
    tmp_path: Path, offline_http: httpx.AsyncClient
) -> None:
    first, second = TokenFactory("https://ehr-a.example"), TokenFactory("https://ehr-b.example")
    verifier = verifier_for(trust_files(tmp_path, first, second), offline_http)
    for ehr in (first, second):
        caller = await verifier.verify(ehr.token(AUDIENCE, NOW, claims={"jti": "1"}), AUDIENCE, NOW)
        assert caller.issuer == ehr.issuer


async def test_an_issuer_cannot_use_another_issuers_key(
    tmp_path: Path, offline_http: httpx.AsyncClient
) -> None:
    honest, other = TokenFactory("https://ehr-a.example"), TokenFactory("https://ehr-b.example")
    verifier = verifier_for(trust_files(tmp_path, honest, other), offline_http)
    forged = TokenFactory(honest.issuer, other.key).token(AUDIENCE, NOW)
    with pytest.raises(AuthError) as refused:
        await verifier.verify(forged, AUDIENCE, NOW)
    assert refused.value.reason is Reason.UNKNOWN_KID


async def test_now_must_carry_a_time_zone(
    ehr: TokenFactory, tmp_path: Path, offline_http: httpx.AsyncClient
) -> None:
    verifier = verifier_for(trust_files(tmp_path, ehr), offline_http)
    with pytest.raises(ValueError, match="timezone"):
        await verifier.verify(ehr.token(AUDIENCE, NOW), AUDIENCE, NOW.replace(tzinfo=None))


@pytest.mark.parametrize(
    ("header", "token"),
    [("Bearer abc.def.ghi", "abc.def.ghi"), ("bearer  abc.def.ghi ", "abc.def.ghi")],
)
def test_bearer_token_is_read_from_the_authorization_header(header: str, token: str) -> None:
    assert bearer_token(header) == token


@pytest.mark.parametrize(
    "header", [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwdw==", "Bearer a b"]
)
def test_no_bearer_token_is_missing_token(header: str | None) -> None:
    with pytest.raises(AuthError) as refused:
        bearer_token(header)
    assert refused.value.reason is Reason.MISSING_TOKEN


def test_reasons_are_stable_metric_labels() -> None:
    assert {reason.value for reason in Reason} == {
        "missing_token", "malformed", "alg", "kid", "typ", "issuer", "jku", "unknown_kid",
        "keys_unavailable", "signature", "missing_claim", "invalid_claim", "expired",
        "iat_future", "lifetime", "audience", "replay", "replay_unavailable",
    }  # fmt: skip
    assert str(AuthError(Reason.EXPIRED)) == "expired"
