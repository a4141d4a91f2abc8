"""CDS_AUTH_MODE=jwt over the real HTTP stack: every call needs a valid EHR JWT (S-1 to S-11).

The attack suite proper (every hostile token, reason by reason) is in tests/auth;
here each kind is sent to the service's endpoints and must be a 401 with a generic
OperationOutcome, while valid ES384 and RS384 tokens pass at every URL.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import FOOT_DROP, full_prefetch, hook_request
from tests.support.ehr import PUBLIC_BASE_URL, Ehr, SignedClient
from tests.support.tokens import SigningKey, TokenFactory

DISCOVERY = "/cds-services"
PATIENT_VIEW = "/cds-services/footdrop-patient-view"
ORDER_SELECT = "/cds-services/footdrop-order-select"


def now() -> datetime:
    return datetime.now(UTC)


def patient_view_body() -> dict[str, Any]:
    return hook_request(prefetch=full_prefetch(FOOT_DROP))


def assert_refused(response: Any) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["diagnostics"] == "Authentication failed"


@pytest.fixture
def service(signed_client_factory: Callable[..., SignedClient]) -> SignedClient:
    return signed_client_factory()


def test_valid_tokens_pass_at_discovery_and_service_urls(service: SignedClient) -> None:
    assert service.get(DISCOVERY).status_code == 200
    response = service.post(PATIENT_VIEW, json=patient_view_body())
    assert response.status_code == 200
    assert {c["source"]["topic"]["code"] for c in response.json()["cards"]} >= {"orthosis"}


@pytest.mark.parametrize("alg", ["ES384", "RS384", "ES256", "RS256"])
def test_each_asymmetric_algorithm_is_accepted(
    alg: str, client_factory: Callable[..., TestClient], tmp_path: Path
) -> None:
    ehr = Ehr(tmp_path, TokenFactory(key=SigningKey.generate(alg)))
    client = client_factory(
        auth_mode="jwt", trusted_issuers=ehr.trusted_issuers(), public_base_url=PUBLIC_BASE_URL
    )
    signed = SignedClient(client, ehr)
    assert signed.get(DISCOVERY).status_code == 200
    assert signed.post(PATIENT_VIEW, json=patient_view_body()).status_code == 200


def test_no_token_is_refused_everywhere_but_public_pages(service: SignedClient) -> None:
    client = service.client
    assert_refused(client.get(DISCOVERY))
    assert_refused(client.post(PATIENT_VIEW, json=patient_view_body()))
    assert client.get("/docs/clinical").status_code == 200


def test_cors_preflight_needs_no_token(
    signed_client_factory: Callable[..., SignedClient],
) -> None:
    client = signed_client_factory(cors_origins="https://sandbox.cds-hooks.org").client
    response = client.options(
        PATIENT_VIEW,
        headers={
            "Origin": "https://sandbox.cds-hooks.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://sandbox.cds-hooks.org"


def _hostile(ehr: Ehr, path: str) -> dict[str, str]:
    """Every kind of bad token, for the URL `path` (the attack list of issue 10)."""
    audience = PUBLIC_BASE_URL + path
    tokens = ehr.tokens
    stranger = TokenFactory("https://evil.example.org")
    return {
        "alg none": tokens.unsigned(audience, now()),
        "HS256 with the public key as secret": tokens.hmac_with_public_key(audience, now()),
        "wrong key": tokens.token(
            audience, now(), key=SigningKey.generate("ES384", tokens.key.kid)
        ),
        "unknown kid": tokens.token(audience, now(), header={"kid": "no-such-key"}),
        "expired": tokens.token(audience, now() - timedelta(hours=1)),
        "iat in the future": tokens.token(audience, now() + timedelta(minutes=10)),
        "aud of another service": tokens.token(PUBLIC_BASE_URL + ORDER_SELECT, now()),
        "untrusted iss": stranger.token(audience, now()),
        "jku off the allowlist": tokens.token(
            audience, now(), header={"jku": "https://evil.example.org/jwks.json"}
        ),
        "missing kid": tokens.token(audience, now(), omit_header=["kid"]),
        "typ other than JWT": tokens.token(audience, now(), header={"typ": "at+jwt"}),
        "missing jti": tokens.token(audience, now(), omit_claims=["jti"]),
        "not a JWT at all": "not-a-token",
    }


@pytest.mark.parametrize("path", [DISCOVERY, PATIENT_VIEW])
@pytest.mark.parametrize(
    "attack",
    [
        "alg none",
        "HS256 with the public key as secret",
        "wrong key",
        "unknown kid",
        "expired",
        "iat in the future",
        "aud of another service",
        "untrusted iss",
        "jku off the allowlist",
        "missing kid",
        "typ other than JWT",
        "missing jti",
        "not a JWT at all",
    ],
)
def test_hostile_tokens_are_refused(service: SignedClient, path: str, attack: str) -> None:
    token = _hostile(service.ehr, path)[attack]
    headers = {"Authorization": f"Bearer {token}"}
    if path == DISCOVERY:
        response = service.client.get(path, headers=headers)
    else:
        response = service.client.post(path, json=patient_view_body(), headers=headers)
    assert_refused(response)


def test_a_replayed_token_is_refused_by_every_worker(
    signed_client_factory: Callable[..., SignedClient], tmp_path: Path
) -> None:
    database = f"sqlite:///{tmp_path / 'shared.db'}"
    first, second = (
        signed_client_factory(database_url=database),
        signed_client_factory(database_url=database),
    )
    header = {"Authorization": first.ehr.authorization(DISCOVERY)}
    assert first.client.get(DISCOVERY, headers=header).status_code == 200
    assert_refused(first.client.get(DISCOVERY, headers=header))
    assert_refused(second.client.get(DISCOVERY, headers=header))


def test_a_testing_issuer_is_warned_about_at_start_up(
    client_factory: Callable[..., TestClient], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ehr = Ehr(tmp_path, TokenFactory.sandbox_shaped())
    issuers = ehr.trusted_issuers().replace('"jwks_file"', '"testing": true, "jwks_file"')
    client_factory(auth_mode="jwt", trusted_issuers=issuers, public_base_url=PUBLIC_BASE_URL)
    assert "testing issuer" in caplog.text and "https://sandbox.cds-hooks.org" in caplog.text


def test_sandbox_shaped_tokens_verify_offline_against_the_issuer_file(
    client_factory: Callable[..., TestClient], tmp_path: Path
) -> None:
    """The sandbox signs with jku = its https URL; the file entry must accept that offline."""
    ehr = Ehr(tmp_path, TokenFactory.sandbox_shaped())
    client = client_factory(
        auth_mode="jwt", trusted_issuers=ehr.trusted_issuers(), public_base_url=PUBLIC_BASE_URL
    )
    assert SignedClient(client, ehr).post(PATIENT_VIEW, json=patient_view_body()).status_code == 200
