"""Closing the loop: an overridden card's topic rests for that patient for CDS_SNOOZE_DAYS.

Only in jwt mode, only for the issuer whose user overrode it, only when the card
is in the card log for that issuer, never for a critical card, never for the red
flag, never for an order-select or order-sign topic; and each card that can be
snoozed says so.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cards.catalogue import CardCatalogue
from tests.conftest import (
    FOOT_DROP,
    condition,
    days_ago,
    full_prefetch,
    hook_request,
    patient,
)
from tests.support.clock import SettableClock
from tests.support.ehr import Ehr, SignedClient
from tests.support.tokens import TokenFactory

PATIENT_VIEW = "/cds-services/footdrop-patient-view"
ORDER_SELECT = "/cds-services/footdrop-order-select"
SNOOZE_SENTENCE = "Overriding this card hides this recommendation for this patient for 30 days."
CAUDA_EQUINA = condition("192970008", display="Cauda equina syndrome", onset=days_ago(2))


@pytest.fixture
def clock() -> SettableClock[datetime]:
    return SettableClock(datetime.now(UTC))


class ClockedClient(SignedClient):
    """Signs each call at the service's (test) time, so moving the clock keeps tokens valid."""

    def __init__(self, client: SignedClient, clock: SettableClock[datetime]) -> None:
        super().__init__(client.client, client.ehr)
        self.clock = clock

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": self.ehr.authorization(path, now=self.clock.now)}
        return self.client.request(method, path, headers=headers, **kwargs)


@pytest.fixture
def service(
    signed_client_factory: Callable[..., SignedClient], clock: SettableClock[datetime]
) -> SignedClient:
    return ClockedClient(signed_client_factory(clock=clock), clock)


def patient_view(
    client: SignedClient | TestClient, *resources: dict[str, Any], **body: Any
) -> dict[str, dict[str, Any]]:
    request = hook_request(prefetch=full_prefetch(*(resources or (FOOT_DROP,))))
    response = client.post(PATIENT_VIEW, json={**request, **body})
    assert response.status_code == 200, response.text
    return {card["source"]["topic"]["code"]: card for card in response.json()["cards"]}


def override(
    client: SignedClient | TestClient, card: dict[str, Any], path: str = PATIENT_VIEW
) -> None:
    item = {
        "card": card["uuid"],
        "outcome": "overridden",
        "overrideReason": {
            "reason": {"code": "declined", "system": "urn:footdrop-cds:override-reason"}
        },
        "outcomeTimestamp": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }
    response = client.post(f"{path}/feedback", json={"feedback": [item]})
    assert response.status_code == 200, response.text


def test_a_snoozable_card_says_so_with_the_configured_days(service: SignedClient) -> None:
    cards = patient_view(service)
    assert SNOOZE_SENTENCE in cards["orthosis"]["detail"]
    assert SNOOZE_SENTENCE in cards["physical-therapy"]["detail"]


def test_an_overridden_topic_is_not_shown_again_for_that_patient(service: SignedClient) -> None:
    override(service, patient_view(service)["orthosis"])
    again = patient_view(service)
    assert "orthosis" not in again
    assert "physical-therapy" in again  # only the overridden topic rests


def test_the_snooze_ends_after_the_configured_days(
    service: SignedClient, clock: SettableClock[datetime]
) -> None:
    override(service, patient_view(service)["orthosis"])
    clock.now += timedelta(days=29)
    assert "orthosis" not in patient_view(service)
    clock.now += timedelta(days=2)
    assert "orthosis" in patient_view(service)


def test_the_number_of_days_is_a_setting(
    signed_client_factory: Callable[..., SignedClient], clock: SettableClock[datetime]
) -> None:
    service = ClockedClient(signed_client_factory(clock=clock, snooze_days=7), clock)
    card = patient_view(service)["orthosis"]
    assert "for this patient for 7 days." in card["detail"]
    override(service, card)
    clock.now += timedelta(days=8)
    assert "orthosis" in patient_view(service)


def test_another_patient_or_fhir_server_is_not_snoozed(service: SignedClient) -> None:
    override(service, patient_view(service)["orthosis"])
    other_server = patient_view(service, fhirServer="https://other-fhir.example.org/r4")
    assert "orthosis" in other_server
    foot_drop = condition("6077001", rid="fd-2", subject={"reference": "Patient/pat-2"})
    other = full_prefetch(foot_drop, patient_resource={**patient(), "id": "pat-2"})
    request = hook_request(prefetch=other, context={"patientId": "pat-2"})
    topics = {
        c["source"]["topic"]["code"]
        for c in service.post(PATIENT_VIEW, json=request).json()["cards"]
    }
    assert "orthosis" in topics


def test_an_override_snoozes_only_for_the_issuer_whose_user_made_it(
    client_factory: Callable[..., TestClient], tmp_path: Path
) -> None:
    first = Ehr(tmp_path)
    second = Ehr(tmp_path, TokenFactory(issuer="https://second-ehr.example.org"))
    issuers = {**json.loads(first.trusted_issuers()), **json.loads(second.trusted_issuers())}
    client = client_factory(
        auth_mode="jwt",
        trusted_issuers=json.dumps(issuers),
        public_base_url="https://cds.example.org",
    )
    by_first, by_second = SignedClient(client, first), SignedClient(client, second)
    card = patient_view(by_first)["orthosis"]
    override(by_second, card)  # the second EHR reports on a card it was never given
    assert "orthosis" in patient_view(by_first)
    assert "orthosis" in patient_view(by_second)
    override(by_first, card)
    assert "orthosis" not in patient_view(by_first)
    assert "orthosis" in patient_view(by_second)


def test_feedback_on_a_card_not_in_the_log_or_accepted_snoozes_nothing(
    service: SignedClient,
) -> None:
    card = patient_view(service)["orthosis"]
    override(service, {**card, "uuid": str(uuid.uuid4())})
    accepted = {
        "card": card["uuid"],
        "outcome": "accepted",
        "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}],
        "outcomeTimestamp": "2026-11-25T10:00:00Z",
    }
    assert (
        service.post(f"{PATIENT_VIEW}/feedback", json={"feedback": [accepted]}).status_code == 200
    )
    assert "orthosis" in patient_view(service)


def test_a_critical_card_never_says_it_snoozes_and_is_never_snoozed(service: SignedClient) -> None:
    cards = patient_view(service, FOOT_DROP, CAUDA_EQUINA)
    red_flag = cards["red-flag-urgent-evaluation"]
    assert red_flag["indicator"] == "critical"
    assert "hides this recommendation" not in red_flag["detail"]
    override(service, red_flag)
    assert "red-flag-urgent-evaluation" in patient_view(service, FOOT_DROP, CAUDA_EQUINA)


def test_the_red_flag_and_order_topics_can_never_be_snoozed() -> None:
    catalogue = CardCatalogue.load()
    snoozable = {topic for topic, t in catalogue.templates.items() if t.snoozable}
    assert "red-flag-urgent-evaluation" not in snoozable
    for topic in snoozable:
        assert catalogue.templates[topic].hooks == ("patient-view",)
    assert snoozable == {
        "disc-surgery-referral",
        "localization-workup",
        "ms-dalfampridine",
        "nerve-injury-referral",
        "orthosis",
        "palliative-surgery",
        "peroneal-decompression",
        "physical-therapy",
        "spasticity-botulinum",
    }


def test_an_order_select_card_is_never_snoozed(service: SignedClient) -> None:
    afo = {
        "resourceType": "DeviceRequest",
        "id": "dev-draft-1",
        "status": "draft",
        "subject": {"reference": "Patient/pat-1"},
        "codeCodeableConcept": {
            "coding": [
                {
                    "system": "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
                    "code": "L1930",
                }
            ]
        },
    }
    context = {
        "selections": ["DeviceRequest/dev-draft-1"],
        "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": afo}]},
    }

    def order_select() -> dict[str, dict[str, Any]]:
        body = hook_request("order-select", prefetch=full_prefetch(FOOT_DROP), context=context)
        response = service.post(ORDER_SELECT, json=body)
        assert response.status_code == 200
        return {card["source"]["topic"]["code"]: card for card in response.json()["cards"]}

    card = order_select()["add-physical-therapy"]
    assert "hides this recommendation" not in card["detail"]
    override(service, card, ORDER_SELECT)
    assert "add-physical-therapy" in order_select()


def test_without_authentication_nothing_is_snoozed_or_promised(
    client_factory: Callable[..., TestClient],
) -> None:
    client = client_factory()  # CDS_AUTH_MODE=off
    card = patient_view(client)["orthosis"]
    assert "hides this recommendation" not in card["detail"]
    override(client, card)
    assert "orthosis" in patient_view(client)
