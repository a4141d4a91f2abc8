"""Operator endpoints over the real ASGI stack: /health, /ready, /metrics, /version."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from importlib.metadata import version
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import FOOT_DROP, PATIENT_ID, discovery_queries, hook_request, serve_record
from tests.support.fhir_server import FhirServer
from tests.support.stalling_proxy import StallingProxy, stalling_proxy

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PV = "/cds-services/footdrop-patient-view"
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/"


def sample(client: TestClient, name: str, **labels: str) -> float:
    """The current value of one sample of /metrics (0 when it has not been recorded yet)."""
    text = client.get("/metrics").text
    for family in text_string_to_metric_families(text):
        for metric in family.samples:
            if metric.name == name and all(metric.labels.get(k) == v for k, v in labels.items()):
                return float(metric.value)
    return 0.0


def test_health_answers_while_the_process_runs(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_once_content_is_loaded_and_database_reachable(client: TestClient) -> None:
    response = client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "content": "loaded", "database": "ok"}


def test_version_and_discovery_extension_carry_the_installed_version(client: TestClient) -> None:
    installed = version("footdrop-cds")
    body = client.get("/version").json()
    assert body["version"] == installed
    assert body["content"]["version"] and body["content"]["date"]
    discovery = client.get("/cds-services").json()
    assert discovery["extension"] == {"org.footdrop-cds.version": installed}
    for service in discovery["services"]:
        assert service["extension"]["org.footdrop-cds.version"] == installed


def test_metrics_count_requests_and_cards_per_topic(client: TestClient) -> None:
    example = json.loads((EXAMPLES / "patient-view.json").read_text())
    labels = {"service": "footdrop-patient-view", "topic": "orthosis", "indicator": "warning"}
    request_labels = {"endpoint": "call_service", "service": "footdrop-patient-view"}
    cards_before = sample(client, "footdrop_cds_cards_issued_total", **labels)
    calls_before = sample(
        client, "footdrop_cds_http_request_duration_seconds_count", status="200", **request_labels
    )
    refused_before = sample(
        client, "footdrop_cds_http_request_duration_seconds_count", status="415", **request_labels
    )
    response = client.post(PV, json=example)
    assert response.status_code == 200
    client.post(PV, content=b"{}", headers={"Content-Type": "text/plain"})
    metrics = client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert sample(client, "footdrop_cds_cards_issued_total", **labels) == cards_before + 1
    assert (
        sample(
            client,
            "footdrop_cds_http_request_duration_seconds_count",
            status="200",
            **request_labels,
        )
        == calls_before + 1
    )
    assert (
        sample(
            client,
            "footdrop_cds_http_request_duration_seconds_count",
            status="415",
            **request_labels,
        )
        == refused_before + 1
    )


def test_metrics_expose_every_family_the_dashboard_reads(client: TestClient) -> None:
    text = client.get("/metrics").text
    for family in (
        "footdrop_cds_http_request_duration_seconds histogram",
        "footdrop_cds_cards_issued_total counter",
        "footdrop_cds_fhir_request_duration_seconds histogram",
        "footdrop_cds_jwt_rejections_total counter",
        "footdrop_cds_database_errors_total counter",
        "footdrop_cds_build_info gauge",
    ):
        assert f"# TYPE {family}" in text


def test_fhir_calls_and_failures_are_counted(
    client_factory: Callable[..., TestClient], fhir: FhirServer
) -> None:
    client = client_factory(fhir_allowlist=[fhir.base_url])
    serve_record(fhir, FOOT_DROP)
    ok_before = sample(client, "footdrop_cds_fhir_request_duration_seconds_count", outcome="ok")
    body = hook_request(fhir_server_url=fhir.base_url, token="secret-token")
    assert client.post(PV, json=body).status_code == 200
    ok_after = sample(client, "footdrop_cds_fhir_request_duration_seconds_count", outcome="ok")
    assert ok_after - ok_before == len(discovery_queries())  # one page per key, Patient too

    fhir.reply(f"/fhir/Patient/{PATIENT_ID}", {"resourceType": "Patient"}, status=500)
    failed_before = sample(
        client, "footdrop_cds_fhir_request_duration_seconds_count", outcome="http_5xx"
    )
    client.post(PV, json=hook_request(fhir_server_url=fhir.base_url, token="secret-token"))
    failed_after = sample(
        client, "footdrop_cds_fhir_request_duration_seconds_count", outcome="http_5xx"
    )
    assert failed_after == failed_before + 1


# --- the database as a degraded dependency ------------------------------------------------------


@pytest.fixture(scope="module")
def postgres_database() -> Iterator[str]:
    """A database of this test run's own on the real server, dropped afterwards, so no other
    branch or run (with other migrations) ever shares its schema."""
    name = f"footdrop_ops_{uuid.uuid4().hex[:12]}"
    admin = "postgresql://postgres@127.0.0.1:5432/test"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as connection:
            connection.execute(f"CREATE DATABASE {name}")
    except psycopg.OperationalError as error:
        pytest.skip(f"no PostgreSQL on 127.0.0.1:5432: {error}")
    yield name
    with psycopg.connect(admin, autocommit=True, connect_timeout=3) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def proxy() -> Iterator[StallingProxy]:
    with stalling_proxy("127.0.0.1", 5432) as started:
        yield started


def test_database_outage_is_degraded_never_unready(
    client_factory: Callable[..., TestClient], proxy: StallingProxy, postgres_database: str
) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/{postgres_database}"
    client = client_factory(database_url=url)
    assert client.get("/ready").json()["database"] == "ok"
    errors_before = sum_database_errors(client)

    proxy.set("down")
    response = client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "degraded", "content": "loaded", "database": "unavailable"}
    assert sum_database_errors(client) > errors_before
    assert client.get("/health").status_code == 200

    proxy.set("forward")
    assert client.get("/ready").json()["status"] == "ready"


def test_hung_database_is_degraded_within_the_probe_deadline(
    client_factory: Callable[..., TestClient], proxy: StallingProxy, postgres_database: str
) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/{postgres_database}"
    client = client_factory(database_url=url)
    assert client.get("/ready").json()["database"] == "ok"
    proxy.set("stall")  # connections are accepted, nothing is ever answered
    for _ in range(2):  # the second probe finds the first ping still hanging
        response = client.get("/ready")
        assert response.status_code == 200
        assert response.json()["status"] == "degraded"


def sum_database_errors(client: TestClient) -> float:
    text = client.get("/metrics").text
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "footdrop_cds_database_errors_total"
    )
