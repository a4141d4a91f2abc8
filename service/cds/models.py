"""CDS Hooks 2.0 objects as pydantic models.

Inbound models follow the spec and tolerate what it allows (unknown fields,
`extension`); outbound models are strict and are serialised without `None`
values, because the spec forbids null and empty values in responses (G-2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator

from cards.model import Card

FHIR_REFERENCE = re.compile(r"^[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}$")
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@dataclass(frozen=True)
class Caller:
    """Who made the call: the verified issuer of its JWT, or None with authentication off.

    State kept across calls (the shown-card memory) is keyed by the issuer, so no
    caller can change what another is shown; an anonymous caller keeps no state.
    """

    issuer: str | None = None

    @property
    def verified(self) -> bool:
        return self.issuer is not None


class _Inbound(BaseModel):
    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)


class FhirAuthorization(_Inbound):
    """OAuth 2.0 access token the EHR grants for FHIR calls (never logged)."""

    access_token: str = Field(min_length=1, repr=False)
    token_type: Literal["Bearer"]
    expires_in: StrictInt  # "300", true and 300.0 are not integers
    scope: str = Field(min_length=1)
    subject: str = Field(min_length=1)
    patient: str | None = None


class HookRequest(_Inbound):
    """The body of `POST /cds-services/{id}`; `context` is checked per hook."""

    hook: str = Field(min_length=1)
    hookInstance: str = Field(pattern=UUID.pattern)  # R-3; also keeps logs free of injected text
    fhirServer: str | None = None
    fhirAuthorization: FhirAuthorization | None = None
    context: dict[str, Any]
    prefetch: dict[str, Any] | None = None
    extension: dict[str, Any] | None = Field(
        default=None,
        description="Reverse-domain keys; this service reads "
        '`"org.footdrop-cds.suppress-repeated-cards": true` (order-sign: leave out cards '
        'shown at order-select) and `"org.footdrop-cds.explain": true` (the rule trace in '
        "the response's `extension`, only where CDS_EXPLAIN=true).",
    )

    @model_validator(mode="after")
    def _authorization_needs_server(self) -> HookRequest:
        # Invariant cds-r-1: fhirServer is required when fhirAuthorization is given.
        if self.fhirAuthorization is not None and not self.fhirServer:
            raise ValueError("fhirAuthorization requires fhirServer")
        return self

    @field_validator("fhirServer")
    @classmethod
    def _absolute_http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("fhirServer must be an absolute http(s) URL")
        return value


class PatientViewContext(_Inbound):
    userId: str = Field(pattern=FHIR_REFERENCE.pattern)
    patientId: str = Field(min_length=1)
    encounterId: str | None = None


class DraftOrdersBundle(_Inbound):
    """A Bundle of draft orders; clients such as the sandbox omit `type`."""

    resourceType: Literal["Bundle"]
    entry: list[Any] = Field(default_factory=list)


class OrderSignContext(PatientViewContext):
    draftOrders: DraftOrdersBundle


class OrderSelectContext(OrderSignContext):
    selections: list[str] = Field(min_length=1)

    @field_validator("selections")
    @classmethod
    def _references(cls, value: list[str]) -> list[str]:
        bad = [item for item in value if not FHIR_REFERENCE.match(item)]
        if bad:
            raise ValueError("selections must be Type/id references")
        return value


HOOK_CONTEXTS: dict[str, type[PatientViewContext]] = {
    "patient-view": PatientViewContext,
    "order-select": OrderSelectContext,
    "order-sign": OrderSignContext,
}


class _Outbound(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CdsResponse(_Outbound):
    cards: list[Card]
    extension: dict[str, Any] | None = Field(
        default=None,
        description='Only `"org.footdrop-cds.explain"`: the rule trace, when the request '
        "asked for it and CDS_EXPLAIN=true (every topic: fired, or the condition that "
        "stopped it, with the records read; each prefetch key's origin).",
    )


class PrefetchTemplate(_Outbound):
    """Not a spec object: one key of a service's prefetch with its policy."""

    query: str
    essential: bool = False


class ServiceDescriptor(_Outbound):
    hook: str
    id: str
    title: str
    description: str
    prefetch: dict[str, str] | None = None
    usageRequirements: str | None = None
    extension: dict[str, Any] | None = None


class Discovery(_Outbound):
    services: list[ServiceDescriptor]
    extension: dict[str, Any] | None = None
