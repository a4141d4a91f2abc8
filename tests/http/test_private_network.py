"""A page on a public https origin (the CDS Hooks sandbox) calling a service on localhost.

Chromium browsers send a Private Network Access preflight for such calls; the service
grants it to allowed origins only.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from httpx import Response

SANDBOX = "https://sandbox.cds-hooks.org"
PNA_REQUEST = {"Access-Control-Request-Private-Network": "true"}


def preflight(client: TestClient, origin: str, **extra: str) -> Response:
    return client.options(
        "/cds-services/footdrop-patient-view",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
            **extra,
        },
    )


def test_allowed_origin_gets_the_private_network_grant(
    client_factory: Callable[..., TestClient],
) -> None:
    client = client_factory(cors_origins=[SANDBOX])
    response = preflight(client, SANDBOX, **PNA_REQUEST)
    assert response.status_code == 200
    headers = response.headers
    assert headers["access-control-allow-private-network"] == "true"
    assert headers["access-control-allow-origin"] == SANDBOX


def test_other_origins_get_no_grant(client_factory: Callable[..., TestClient]) -> None:
    client = client_factory(cors_origins=[SANDBOX])
    response = preflight(client, "https://attacker.example", **PNA_REQUEST)
    assert response.status_code == 400
    headers = response.headers
    assert "access-control-allow-private-network" not in headers
    assert "access-control-allow-origin" not in headers


def test_no_grant_unless_asked(client_factory: Callable[..., TestClient]) -> None:
    client = client_factory(cors_origins=[SANDBOX])
    response = preflight(client, SANDBOX)
    assert response.status_code == 200
    assert "access-control-allow-private-network" not in response.headers
