"""Every card a hook call returns is in the card log, and the log never costs a card."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, text

from service.cds.engine import Engine
from service.storage.tables import IssuedCard
from tests.conftest import (
    FOOT_DROP,
    PATIENT_HASH_KEY,
    PATIENT_ID,
    condition,
    days_ago,
    full_prefetch,
    hook_request,
)
from tests.http.test_operations import sample
from tests.support.ehr import SignedClient

PATIENT_VIEW = "/cds-services/footdrop-patient-view"
FHIR_SERVER = "https://fhir.example.org/r4"


def engine_of(client: SignedClient | TestClient) -> Engine:
    app = client.client.app if isinstance(client, SignedClient) else client.app
    engine: Engine = app.state.engine  # type: ignore[attr-defined]
    return engine


def logged(client: SignedClient | TestClient) -> list[dict[str, Any]]:
    engine = engine_of(client)
    assert engine.card_log.flush(10)
    with engine.store.engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(select(IssuedCard))]


def test_every_card_is_logged_with_what_the_committee_needs(
    signed_client_factory: Callable[..., SignedClient],
) -> None:
    service = signed_client_factory()
    request = hook_request(prefetch=full_prefetch(FOOT_DROP), fhir_server_url=FHIR_SERVER)
    cards = service.post(PATIENT_VIEW, json=request).json()["cards"]
    rows = {row["card_uuid"]: row for row in logged(service)}
    assert set(rows) == {card["uuid"] for card in cards}
    for card in cards:
        row = rows[card["uuid"]]
        assert row["suggestions"] == [s["uuid"] for s in card.get("suggestions", [])]
        assert row["topic"] == card["source"]["topic"]["code"]
        assert row["indicator"] == card["indicator"]
        assert (row["service_id"], row["hook"]) == ("footdrop-patient-view", "patient-view")
        assert row["hook_instance"] == request["hookInstance"]
        assert row["issuer"] == service.ehr.tokens.issuer
        assert row["issued_at"] is not None
        assert row["snoozable"] == (
            row["topic"] in {"orthosis", "physical-therapy", "localization-workup"}
        )


def test_the_patient_is_a_keyed_hash_with_its_fhir_server_never_the_id(
    signed_client_factory: Callable[..., SignedClient],
) -> None:
    service = signed_client_factory()
    request = hook_request(prefetch=full_prefetch(FOOT_DROP), fhir_server_url=FHIR_SERVER)
    service.post(PATIENT_VIEW, json=request)
    expected = hmac.new(
        PATIENT_HASH_KEY.encode(), f"{FHIR_SERVER}\x1f{PATIENT_ID}".encode(), hashlib.sha256
    ).hexdigest()
    rows = logged(service)
    assert rows and {row["patient_key"] for row in rows} == {expected}
    dump = str(rows)
    assert PATIENT_ID not in dump and "Practitioner/doc-1" not in dump


def test_without_authentication_cards_are_logged_without_an_issuer(
    client_factory: Callable[..., TestClient],
) -> None:
    client = client_factory()
    cards = client.post(PATIENT_VIEW, json=hook_request(prefetch=full_prefetch(FOOT_DROP))).json()
    rows = logged(client)
    assert len(rows) == len(cards["cards"]) > 0
    assert {row["issuer"] for row in rows} == {None}
    assert not any(row["snoozable"] for row in rows)


def test_a_broken_card_log_never_costs_a_card(
    signed_client_factory: Callable[..., SignedClient], tmp_path: Path
) -> None:
    service = signed_client_factory(
        database_url=f"sqlite:///{tmp_path / 'cds.db'}", card_log_drain_s=0.5
    )
    with engine_of(service).store.engine.begin() as connection:
        connection.execute(text("DROP TABLE issued_cards"))
        connection.execute(text("DROP TABLE feedback"))
        connection.execute(text("DROP TABLE shown_cards"))
    red_flag = condition("192970008", display="Cauda equina syndrome", onset=days_ago(2))
    for resources in ((FOOT_DROP,), (FOOT_DROP, red_flag)):
        response = service.post(PATIENT_VIEW, json=hook_request(prefetch=full_prefetch(*resources)))
        assert response.status_code == 200
        assert response.json()["cards"]


def test_the_card_gallery_is_not_in_the_log(client: TestClient) -> None:
    """Its example patients' cards are shown to no clinician: the analytics never count them."""
    assert client.get("/docs/cards").status_code == 200
    assert logged(client) == []
    assert engine_of(client).card_log.written == 0


def test_the_card_log_counts_are_on_the_metrics_page(client: TestClient) -> None:
    before = sample(client, "footdrop_cds_card_log_cards_total", outcome="written")
    cards = client.post(PATIENT_VIEW, json=hook_request(prefetch=full_prefetch(FOOT_DROP)))
    count = len(cards.json()["cards"])
    assert count and len(logged(client)) == count
    assert sample(client, "footdrop_cds_card_log_cards_total", outcome="written") == before + count
