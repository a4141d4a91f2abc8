"""Shared fixtures: the app over the real HTTP stack, a loopback FHIR server, hook requests."""

from __future__ import annotations

import contextlib
import functools
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.settings import Settings
from tests.support import fhir_server
from tests.support.ehr import PUBLIC_BASE_URL, Ehr, SignedClient

PATIENT_ID = "pat-1"
#: CDS_PATIENT_HASH_KEY of the test apps (jwt mode requires one).
PATIENT_HASH_KEY = "test-patient-hash-key-0123456789abcdef"


@pytest.fixture
def fhir() -> Iterator[fhir_server.FhirServer]:
    yield from fhir_server.start()


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": "sqlite://",
        # Loopback servers answer at once: a timeout with this budget is the machine stalling
        # (CI saw one call's 20 queries all miss 2 s), not the service. Tests of slow or hung
        # servers set their own short budgets.
        "fhir_timeout_s": 10.0,
        "patient_hash_key": PATIENT_HASH_KEY,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def client_factory() -> Iterator[Callable[..., TestClient]]:
    """Started apps (lifespan entered, as uvicorn does), stopped at the end of the test."""
    with contextlib.ExitStack() as apps:

        def build(clock: Callable[[], datetime] | None = None, **overrides: Any) -> TestClient:
            from service.app import create_app

            app = create_app(make_settings(**overrides), clock)
            return apps.enter_context(TestClient(app, raise_server_exceptions=False))

        yield build


@pytest.fixture
def client(client_factory: Callable[..., TestClient]) -> TestClient:
    return client_factory()


@pytest.fixture
def ehr(tmp_path: Path) -> Ehr:
    """A registered EHR: its key set is trusted by the `signed_client_factory` apps."""
    return Ehr(tmp_path)


@pytest.fixture
def signed_client_factory(
    client_factory: Callable[..., TestClient], ehr: Ehr
) -> Callable[..., SignedClient]:
    """Apps in `CDS_AUTH_MODE=jwt` trusting `ehr`, called with its signed tokens."""

    def build(**overrides: Any) -> SignedClient:
        settings = {
            "auth_mode": "jwt",
            "trusted_issuers": ehr.trusted_issuers(),
            "public_base_url": PUBLIC_BASE_URL,
            **overrides,
        }
        return SignedClient(client_factory(**settings), ehr)

    return build


def days_ago(days: int) -> str:
    """A date relative to the real request time: the service evaluates at `now`."""
    return (datetime.now(UTC) - timedelta(days=days)).date().isoformat()


def patient(birth_date: str = "1970-05-01", gender: str = "female") -> dict[str, Any]:
    return {"resourceType": "Patient", "id": PATIENT_ID, "birthDate": birth_date, "gender": gender}


def condition(
    code: str,
    system: str = "http://snomed.info/sct",
    display: str | None = None,
    *,
    rid: str | None = None,
    clinical_status: str = "active",
    onset: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "id": rid or f"cond-{code.replace('.', '')}",
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": clinical_status,
                }
            ]
        },
        "code": {
            "coding": [
                {"system": system, "code": code, **({"display": display} if display else {})}
            ]
        },
    }
    if onset != "":  # "" leaves the onset out; None means three weeks ago
        resource["onsetDateTime"] = onset or days_ago(21)
    resource.update(extra)
    return resource


FOOT_DROP = condition("6077001", display="Foot-drop", rid="fd-1")


def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return fhir_server.searchset(*resources)


#: The services' search prefetch keys by the resource type they hold.
#: The prefetch key each resource type is sent in (the first, when a query is split).
PREFETCH_KEYS = {
    "Condition": "conditions",
    "Observation": "observations",
    "Procedure": "procedures",
    "ServiceRequest": "serviceRequests",
    "DeviceRequest": "deviceRequests",
    "DeviceUseStatement": "deviceUseStatements",
    "Device": "devices",
    "MedicationRequest": "medicationRequests",
    "MedicationStatement": "medicationStatements",
    "MedicationAdministration": "medicationAdministrations",
    "AllergyIntolerance": "allergies",
    "DiagnosticReport": "reports",
    "ImagingStudy": "imagingStudies",
    "Encounter": "encounters",
    "CarePlan": "carePlans",
}


@functools.cache
def discovery_queries() -> dict[str, str]:
    """Every prefetch key the services ask for, with its expanded query."""
    from mappings.matcher import ValueSetIndex
    from service.cds.services import load_services

    keys: dict[str, str] = {}
    for service in load_services(ValueSetIndex.load()).values():
        keys.update((name, key.query) for name, key in service.prefetch.items())
    return keys


def full_prefetch(
    *resources: dict[str, Any], patient_resource: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A prefetch object with every key the services ask for, resources sorted by type."""
    prefetch: dict[str, Any] = {key: bundle() for key in discovery_queries()}
    prefetch["patient"] = patient_resource or patient()
    for resource in resources:
        prefetch[PREFETCH_KEYS[resource["resourceType"]]]["entry"].append({"resource": resource})
    return prefetch


def serve_record(
    fhir: fhir_server.FhirServer,
    *resources: dict[str, Any],
    patient_resource: dict[str, Any] | None = None,
) -> None:
    """Let the loopback FHIR server answer every query of the services for this patient."""
    fhir.reply(f"/fhir/Patient/{PATIENT_ID}", patient_resource or patient())
    for resource_type in PREFETCH_KEYS:
        matching = [r for r in resources if r["resourceType"] == resource_type]
        fhir.reply(f"/fhir/{resource_type}", fhir_server.searchset(*matching))


def hook_request(
    hook: str = "patient-view",
    *,
    prefetch: dict[str, Any] | None = None,
    fhir_server_url: str | None = None,
    token: str | None = None,
    context: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hook": hook,
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/doc-1", "patientId": PATIENT_ID, **(context or {})},
    }
    if prefetch is not None:
        body["prefetch"] = prefetch
    if fhir_server_url:
        body["fhirServer"] = fhir_server_url
    if token:
        body["fhirAuthorization"] = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read",
            "subject": "footdrop-cds",
            "patient": PATIENT_ID,
        }
    return body
