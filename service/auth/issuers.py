"""Trusted issuers: the EHRs this service was registered with, and where their keys are.

The configuration is the JSON of `CDS_TRUSTED_ISSUERS`:

    {"<iss>": {"jwks_url": "https://…", "jwks_file": "/path/jwks.json", "testing": true}}

- `jwks_url`: the issuer's JWK Set; a token's `jku` header is honoured only when it
  is exactly this URL (S-7). Keys are fetched from it unless `jwks_file` is set.
- `jwks_file`: keys come from this file, read once at start-up; nothing is fetched.
- `testing`: this issuer's private key is public (the CDS Hooks sandbox): anyone can
  sign tokens it accepts, so start-up logs `testing_issuer_warning()`.

The settings module reads the environment and calls `parse_trusted_issuers(text)`
(one-line errors), or embeds `TrustedIssuers` as a field type.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    RootModel,
    StrictBool,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from service.auth.jwks import KeySet, KeySetError, read_key_set_file
from service.fhir.strict_json import load_object

SETTING = "CDS_TRUSTED_ISSUERS"
ALLOW_HTTP_LOOPBACK = "allow_http_loopback"
"""Validation-context flag: accept `http://` key-set URLs on loopback hosts (tests only)."""

SANDBOX_JWKS_FILE = Path(__file__).parent / "trust" / "cds-hooks-sandbox-jwks.json"
"""The CDS Hooks sandbox's public JWK Set, shipped with the service (testing trust only)."""


def check_jwks_url(url: str, *, allow_http_loopback: bool = False) -> str:
    """Key sets come over HTTPS; plain HTTP only to a loopback host and only when asked."""
    parts = urlsplit(url)
    if not parts.hostname or parts.username is not None or parts.fragment:
        raise ValueError(f"jwks_url must be an absolute https:// URL: {url!r}")
    if parts.scheme == "https":
        return url
    if parts.scheme == "http" and allow_http_loopback and _is_loopback(parts.hostname):
        return url
    raise ValueError(f"jwks_url must be an https:// URL: {url!r}")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class TrustedIssuer(BaseModel):
    """Where one issuer's keys come from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    jwks_url: str | None = None
    jwks_file: Path | None = None
    testing: StrictBool = False
    _file_keys: KeySet | None = PrivateAttr(default=None)

    @field_validator("jwks_url")
    @classmethod
    def _https_only(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        context = info.context if isinstance(info.context, dict) else {}
        return check_jwks_url(value, allow_http_loopback=bool(context.get(ALLOW_HTTP_LOOPBACK)))

    @model_validator(mode="after")
    def _load_key_source(self) -> TrustedIssuer:
        if self.jwks_url is None and self.jwks_file is None:
            raise ValueError("needs jwks_url or jwks_file")
        if self.jwks_file is not None:
            try:
                self._file_keys = read_key_set_file(self.jwks_file)
            except KeySetError as error:
                raise ValueError(f"jwks_file: {error}") from None
        return self

    @property
    def file_keys(self) -> KeySet | None:
        """The keys read from `jwks_file`, or None when keys are fetched from `jwks_url`."""
        return self._file_keys


class TrustedIssuers(RootModel[dict[str, TrustedIssuer]]):
    """`iss` → `TrustedIssuer`; an `iss` not listed here is never trusted."""

    root: dict[str, TrustedIssuer] = Field(default_factory=dict)

    @field_validator("root")
    @classmethod
    def _issuer_names(cls, value: dict[str, TrustedIssuer]) -> dict[str, TrustedIssuer]:
        for iss in value:
            if not iss or iss != iss.strip():
                raise ValueError(f"issuer {iss!r} must be a non-empty iss without spaces")
        return value

    def get(self, iss: str) -> TrustedIssuer | None:
        return self.root.get(iss)

    def testing_issuer_warning(self) -> str | None:
        """The line to log at start-up when an issuer whose private key is public is trusted."""
        testing = sorted(iss for iss, issuer in self.root.items() if issuer.testing)
        if not testing:
            return None
        return (
            f"{SETTING} trusts testing issuer(s) whose private key is public, so anyone can "
            f"sign tokens they accept; never use in production: {', '.join(testing)}"
        )


def parse_trusted_issuers(text: str, *, allow_http_loopback: bool = False) -> TrustedIssuers:
    """Parse the JSON of CDS_TRUSTED_ISSUERS; every problem is reported on one line."""
    try:
        document = load_object(text.encode())
    except ValueError as error:
        raise ValueError(
            f'{SETTING} must be a JSON object {{"<iss>": {{"jwks_url": ...}}}}: {error}'
        ) from None
    try:
        return TrustedIssuers.model_validate(
            document, context={ALLOW_HTTP_LOOPBACK: allow_http_loopback}
        )
    except ValidationError as error:
        raise ValueError("; ".join(_describe(detail) for detail in error.errors())) from None


def _describe(detail: Any) -> str:
    location = "".join(
        f"[{json.dumps(part)}]" if index == 0 else f".{part}"
        for index, part in enumerate(detail["loc"])
    )
    message = str(detail["msg"]).removeprefix("Value error, ")
    return f"{SETTING}{location}: {message}"
