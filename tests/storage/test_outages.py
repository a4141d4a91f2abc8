"""A database that is hung, down or locked never costs a card (the review's findings).

The service runs as a real uvicorn process in jwt mode, so every call also goes
through the JWT replay memory in the database. PostgreSQL is reached through a
proxy the test switches to `stall` (connections accepted, nothing answered) and
`down` (connections refused). Each call must come back, well inside the client's
timeout, with the same cards as when the database was healthy; feedback, which
must be stored to be acknowledged, is a 503 instead.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.storage.service_under_test import (
    ORDER_SELECT,
    ORDER_SIGN,
    PATIENT_VIEW,
    SignedHttp,
    a_card_uuid,
    jwt_settings,
    log_dir,
    order_body,
    overridden,
    patient_view_body,
)
from tests.support.ehr import Ehr
from tests.support.postgres import POSTGRES, postgres_schema
from tests.support.service_process import service_process
from tests.support.stalling_proxy import StallingProxy, stalling_proxy

#: The client's patience: far above the service's database budget, far below "forever".
CLIENT_TIMEOUT_S = 20.0


@pytest.fixture
def schema_url() -> Iterator[str]:
    yield from postgres_schema()


def every_hook(client: SignedHttp) -> dict[str, set[str]]:
    sign = order_body("order-sign")
    sign["extension"] = {"org.footdrop-cds.suppress-repeated-cards": True}
    discovery = httpx.get(
        f"{client.base_url}/cds-services",
        headers={"Authorization": client.ehr.authorization("/cds-services")},
        timeout=CLIENT_TIMEOUT_S,
    )
    assert discovery.status_code == 200
    return {
        "patient-view": client.topics(client.post(PATIENT_VIEW, patient_view_body())),
        "order-select": client.topics(client.post(ORDER_SELECT, order_body("order-select"))),
        "order-sign": client.topics(client.post(ORDER_SIGN, sign)),
    }


def assert_no_card_lost(during: dict[str, set[str]], healthy: dict[str, set[str]]) -> None:
    """The same cards; order-sign may repeat more when the shown-card memory is out of reach."""
    assert during["patient-view"] == healthy["patient-view"]
    assert during["order-select"] == healthy["order-select"]
    assert during["order-sign"] >= healthy["order-sign"]


def send_feedback(client: SignedHttp) -> int:
    body = {"feedback": [overridden(a_card_uuid())]}
    return client.post(f"{PATIENT_VIEW}/feedback", body).status_code


def test_postgresql_hung_or_down_never_costs_a_card(schema_url: str, tmp_path: Path) -> None:
    target = urlsplit(POSTGRES)
    ehr = Ehr(tmp_path)
    with stalling_proxy(target.hostname or "127.0.0.1", target.port or 5432) as proxy:
        url = schema_url.replace(f":{target.port}/", f":{proxy.port}/")
        settings = jwt_settings(
            ehr, url, CDS_DATABASE_TIMEOUT_S="2", CDS_DATABASE_HOOK_BUDGET_S="0.5"
        )
        with service_process(log_dir(tmp_path) / "outage.log", settings) as server:
            client = SignedHttp(server.base_url, ehr, timeout_s=CLIENT_TIMEOUT_S)
            healthy = every_hook(client)
            assert healthy["order-sign"] == {"dalfampridine-contraindicated"}  # memory works
            assert send_feedback(client) == 200

            for mode in ("stall", "down"):
                proxy.set(mode)
                assert_no_card_lost(every_hook(client), healthy)
                assert send_feedback(client) == 503, mode

            proxy.set("forward")
            assert recovers(client, proxy)
            output = server.output()
            metrics = httpx.get(f"{server.base_url}/metrics", timeout=CLIENT_TIMEOUT_S).text
    assert "database unavailable for" in output  # logged, and counted by the guard
    assert "internal error" not in output
    assert {"shown-card memory", "feedback"} <= operations_answered_without(metrics)


def operations_answered_without(metrics: str) -> set[str]:
    """The operations /metrics counts in footdrop_cds_database_unavailable_total."""
    return {
        sample.labels["operation"]
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
        if sample.name == "footdrop_cds_database_unavailable_total" and sample.value > 0
    }


def recovers(client: SignedHttp, proxy: StallingProxy, attempts: int = 20) -> bool:
    """Feedback is stored again once the database is back (pooled connections renewed)."""
    for _ in range(attempts):
        if send_feedback(client) == 200:
            return True
        time.sleep(0.5)
    return False


def test_a_locked_sqlite_file_never_costs_a_card(tmp_path: Path) -> None:
    database = tmp_path / "cds.db"
    ehr = Ehr(tmp_path)
    settings = jwt_settings(
        ehr, f"sqlite:///{database}", CDS_DATABASE_TIMEOUT_S="2", CDS_DATABASE_HOOK_BUDGET_S="0.5"
    )
    with service_process(log_dir(tmp_path) / "locked.log", settings) as server:
        client = SignedHttp(server.base_url, ehr, timeout_s=CLIENT_TIMEOUT_S)
        healthy = every_hook(client)
        # Another process takes the write lock, once the card log's writer has let go of it.
        holder = sqlite3.connect(database, timeout=10)
        holder.execute("BEGIN IMMEDIATE")
        try:
            assert_no_card_lost(every_hook(client), healthy)
            assert send_feedback(client) == 503
        finally:
            holder.rollback()
            holder.close()
        assert send_feedback(client) == 200
