"""An EHR that signs its calls: a TokenFactory whose key set the service trusts from a file.

`SignedClient` wraps a started TestClient and adds `Authorization: Bearer <JWT>`
for the exact URL called (`CDS_PUBLIC_BASE_URL` + path) to every request, as a
registered EHR does.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from tests.support.tokens import TokenFactory

PUBLIC_BASE_URL = "https://cds.example.org"


class Ehr:
    """One issuer and its key set written where the service reads trusted keys from."""

    def __init__(self, directory: Path, tokens: TokenFactory | None = None) -> None:
        self.tokens = tokens or TokenFactory()
        self.jwks_file = directory / f"jwks-{abs(hash(self.tokens.issuer))}.json"
        self.jwks_file.write_text(json.dumps(self.tokens.jwks()))

    def trusted_issuers(self) -> str:
        """The CDS_TRUSTED_ISSUERS value that trusts this EHR."""
        entry: dict[str, Any] = {"jwks_file": str(self.jwks_file)}
        if self.tokens.jku:
            entry["jwks_url"] = self.tokens.jku
        return json.dumps({self.tokens.issuer: entry})

    def authorization(self, path: str, now: datetime | None = None, **token: Any) -> str:
        audience = PUBLIC_BASE_URL + path
        return "Bearer " + self.tokens.token(audience, now or datetime.now(UTC), **token)


class SignedClient:
    """A TestClient whose requests carry a fresh token of `ehr` for the URL they call."""

    def __init__(self, client: TestClient, ehr: Ehr) -> None:
        self.client = client
        self.ehr = ehr

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": self.ehr.authorization(path), **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)
