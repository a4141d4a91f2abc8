"""GET /analytics/cards(.html): the committee's numbers from real hook calls and feedback."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from service.http.analytics import CardAnalytics
from service.storage.records import week_of
from tests.conftest import FOOT_DROP, full_prefetch, hook_request
from tests.support.ehr import SignedClient

TOKEN = "committee-token-0123456789-abcdefghij"
PATIENT_VIEW = "/cds-services/footdrop-patient-view"
OURS = "urn:footdrop-cds:override-reason"
HL7 = "http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes"
WHEN = "2026-11-25T10:05:31Z"


@pytest.fixture
def service(signed_client_factory: Callable[..., SignedClient]) -> SignedClient:
    return signed_client_factory(analytics_token=TOKEN)


def committee(service: SignedClient, path: str = "/analytics/cards", **headers: str) -> Any:
    auth = {"Authorization": f"Bearer {TOKEN}", **headers}
    return service.client.get(path, headers=auth)


def shown(service: SignedClient) -> dict[str, dict[str, Any]]:
    body = hook_request(prefetch=full_prefetch(FOOT_DROP))
    cards = service.post(PATIENT_VIEW, json=body).json()["cards"]
    return {card["source"]["topic"]["code"]: card for card in cards}


def send(service: SignedClient, *items: dict[str, Any]) -> None:
    response = service.post(f"{PATIENT_VIEW}/feedback", json={"feedback": list(items)})
    assert response.status_code == 200, response.text


def overridden(
    card: dict[str, Any], system: str | None = None, code: str | None = None
) -> dict[str, Any]:
    item: dict[str, Any] = {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": WHEN}
    if code:
        item["overrideReason"] = {"reason": {"system": system, "code": code}}
    return item


def accepted(card: dict[str, Any]) -> dict[str, Any]:
    return {
        "card": card["uuid"],
        "outcome": "accepted",
        "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}],
        "outcomeTimestamp": WHEN,
    }


def test_the_report_counts_shown_accepted_overridden_and_maps_reasons(
    service: SignedClient,
) -> None:
    calls = [shown(service) for _ in range(4)]
    send(
        service,
        accepted(calls[0]["orthosis"]),
        overridden(calls[1]["orthosis"], OURS, "declined"),  # the sandbox's code
        overridden(calls[2]["orthosis"], HL7, "patient-refuses"),  # the standard code
        overridden(calls[3]["orthosis"], OURS, "already-has-orthosis"),
        overridden(calls[0]["physical-therapy"], "https://ehr.example.org/reasons", "R7"),
        overridden(calls[1]["physical-therapy"]),
        overridden({"uuid": str(uuid.uuid4())}, HL7, "action-completed"),
    )
    report = committee(service).json()
    CardAnalytics.model_validate(report)  # the body the OpenAPI document describes
    this_week = week_of(datetime.now(UTC)).isoformat()
    assert report["weeks"][-1] == this_week and len(report["weeks"]) == 12
    rows = {row["topic"]: row for row in report["rows"] if row["week"] == this_week}

    orthosis = rows["orthosis"]
    assert (orthosis["shown"], orthosis["accepted"], orthosis["overridden"]) == (4, 1, 3)
    assert orthosis["acceptanceRate"] == 0.25
    reasons = {(r["system"], r["code"]): r for r in orthosis["overrideReasons"]}
    assert reasons[(OURS, "declined")]["standardCode"] == "patient-refuses"
    assert reasons[(HL7, "patient-refuses")]["standardCode"] == "patient-refuses"
    assert reasons[(OURS, "already-has-orthosis")]["standardCode"] == "action-completed"
    assert reasons[(OURS, "already-has-orthosis")]["display"] == "Already has an orthosis"
    assert reasons[(OURS, "declined")]["categoryCode"] == "does-not-align-preferences"
    assert all(r["count"] == 1 for r in reasons.values())
    standard = {r["code"]: r["count"] for r in orthosis["standardReasons"]}
    assert standard == {"patient-refuses": 2, "action-completed": 1}  # ours and HL7's together

    therapy = rows["physical-therapy"]
    assert (therapy["shown"], therapy["accepted"], therapy["overridden"]) == (4, 0, 2)
    therapy_reasons = {r.get("code"): r for r in therapy["overrideReasons"]}
    assert "standardCode" not in therapy_reasons["R7"]  # the EHR's own code, as sent
    assert therapy_reasons[None]["display"] == "no reason chosen"

    unknown = rows["(card not in the log)"]
    assert (unknown["shown"], unknown["overridden"]) == (0, 1)
    assert "acceptanceRate" not in unknown
    totals = {row["topic"]: row for row in report["totals"]}
    assert totals["orthosis"]["shown"] == 4


def test_the_page_is_self_contained_with_a_chart(service: SignedClient) -> None:
    send(service, accepted(shown(service)["orthosis"]))
    response = committee(service, "/analytics/cards.html")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    page = response.text
    assert "<svg" in page and "<circle" in page
    assert "Ankle-foot orthosis" in page
    assert not re.search(r"<script|<link|<img|\bsrc=|@import|url\(", page, re.IGNORECASE)
    external = set(re.findall(r"https?://[^\"'\s<>]+", page)) - {"http://www.w3.org/2000/svg"}
    assert external == set()


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token-of-the-same-length-0123", f"Basic {TOKEN}", f"Bearer {TOKEN}x"],
)
def test_without_the_committee_token_it_is_401(
    service: SignedClient, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    for path in ("/analytics/cards", "/analytics/cards.html"):
        response = service.client.get(path, headers=headers)
        assert response.status_code == 401
        assert response.json()["resourceType"] == "OperationOutcome"


def test_an_ehr_jwt_grants_nothing(service: SignedClient) -> None:
    assert service.get("/analytics/cards").status_code == 401


def test_with_no_token_configured_nobody_gets_in(
    signed_client_factory: Callable[..., SignedClient],
) -> None:
    service = signed_client_factory()
    assert committee(service).status_code == 401


def test_the_number_of_weeks_is_bounded(service: SignedClient) -> None:
    assert committee(service, "/analytics/cards?weeks=0").status_code == 400
    assert committee(service, "/analytics/cards?weeks=261").status_code == 400
    assert len(committee(service, "/analytics/cards?weeks=52").json()["weeks"]) == 52
