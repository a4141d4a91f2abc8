"""POST /cds-services/{id}/feedback over the real HTTP stack (CDS Hooks F-1 to F-5).

The service runs in jwt mode (every call signed by a trusted EHR) on SQLite, and
on PostgreSQL for the round trip. What a client sees (status, body) and what the
committee later counts (the rows stored) are both checked.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select, text

from service.storage.store import Store
from service.storage.tables import Feedback
from tests.conftest import FOOT_DROP, full_prefetch, hook_request
from tests.support.ehr import SignedClient
from tests.support.postgres import postgres_schema

PATIENT_VIEW = "/cds-services/footdrop-patient-view"
FEEDBACK = f"{PATIENT_VIEW}/feedback"
OUR_REASONS = "urn:footdrop-cds:override-reason"
HL7_REASONS = "http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes"
WHEN = "2026-11-25T10:05:31Z"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "sqlite":
        yield "sqlite://"
    else:
        yield from postgres_schema()


@pytest.fixture
def service(signed_client_factory: Callable[..., SignedClient], database_url: str) -> SignedClient:
    return signed_client_factory(database_url=database_url)


def store_of(service: SignedClient) -> Store:
    store: Store = service.client.app.state.engine.store  # type: ignore[attr-defined]
    return store


def stored(service: SignedClient) -> list[dict[str, Any]]:
    with store_of(service).engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(select(Feedback))]


def cards(service: SignedClient) -> list[dict[str, Any]]:
    response = service.post(PATIENT_VIEW, json=hook_request(prefetch=full_prefetch(FOOT_DROP)))
    assert response.status_code == 200
    found: list[dict[str, Any]] = response.json()["cards"]
    assert found
    return found


def overridden(card: str, reason: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"card": card, "outcome": "overridden", "outcomeTimestamp": WHEN}
    if reason is not None:
        item["overrideReason"] = reason
    return {"feedback": [{**item, **extra}]}


def post(service: SignedClient, body: Any, path: str = FEEDBACK, **kwargs: Any) -> Any:
    return service.post(path, json=body, **kwargs)


def test_the_sandboxs_override_is_accepted_and_stored(service: SignedClient) -> None:
    card = next(c for c in cards(service) if c["source"]["topic"]["code"] == "orthosis")
    sandbox = {"reason": {"code": "declined", "system": OUR_REASONS}}
    response = post(service, overridden(card["uuid"], sandbox))
    assert response.status_code == 200 and response.json() == {}
    (row,) = stored(service)
    assert (row["card_uuid"], row["outcome"], row["reason_system"], row["reason_code"]) == (
        card["uuid"],
        "overridden",
        OUR_REASONS,
        "declined",
    )
    assert row["issuer"] == service.ehr.tokens.issuer
    assert row["service_id"] == "footdrop-patient-view"
    assert row["outcome_at"].isoformat().startswith("2026-11-25T10:05:31")


def test_an_accepted_card_with_its_suggestion(service: SignedClient) -> None:
    card = next(c for c in cards(service) if c.get("suggestions"))
    chosen = card["suggestions"][0]["uuid"]
    body = {
        "feedback": [
            {
                "card": card["uuid"],
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": chosen}],
                "outcomeTimestamp": WHEN,
            }
        ]
    }
    assert post(service, body).status_code == 200
    (row,) = stored(service)
    assert row["outcome"] == "accepted" and row["accepted_suggestions"] == [chosen]


def test_a_standard_reason_and_a_comment(service: SignedClient) -> None:
    card = cards(service)[0]
    reason = {
        "reason": {"system": HL7_REASONS, "code": "patient-refuses", "display": "Patient refuses"},
        "userComment": "Patient Jane Doe prefers to wait",
    }
    assert post(service, overridden(card["uuid"], reason)).status_code == 200
    (row,) = stored(service)
    assert (row["reason_system"], row["reason_code"], row["has_comment"]) == (
        HL7_REASONS,
        "patient-refuses",
        True,
    )
    assert "Jane" not in str(row)


def test_the_same_feedback_twice_is_200_both_times_and_stored_once(service: SignedClient) -> None:
    card = cards(service)[0]
    body = overridden(card["uuid"], {"reason": {"code": "declined", "system": OUR_REASONS}})
    assert post(service, body).status_code == 200
    assert post(service, body).status_code == 200
    twice_in_one = {"feedback": body["feedback"] * 2}
    assert post(service, twice_in_one).status_code == 200
    assert len(stored(service)) == 1


def test_one_call_may_cover_several_cards(service: SignedClient) -> None:
    shown = cards(service)
    body = {
        "feedback": [
            {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": WHEN}
            for card in shown
        ]
    }
    assert post(service, body).status_code == 200
    assert {row["card_uuid"] for row in stored(service)} == {card["uuid"] for card in shown}


def test_an_unknown_card_is_accepted_and_kept(service: SignedClient) -> None:
    unknown = str(uuid.uuid4())
    assert post(service, overridden(unknown)).status_code == 200
    assert [row["card_uuid"] for row in stored(service)] == [unknown]


def test_a_reason_the_ehr_added_itself_is_kept(service: SignedClient) -> None:
    reason = {"reason": {"system": "https://ehr.example.org/reasons", "code": "LOCAL 7"}}
    assert post(service, overridden(str(uuid.uuid4()), reason)).status_code == 200
    assert stored(service)[0]["reason_code"] == "LOCAL 7"


CARD = "1c8e7c5a-8a1c-4d0e-9f6e-2f0b7a4e1d21"
SUGGESTION = [{"id": "9b0c3f1e-6a2d-4c59-8e4a-0d7f2b6c1a35"}]
LEFT_OUT = object()


def one(**changes: Any) -> dict[str, Any]:
    """A feedback body of one overridden item with `changes` (LEFT_OUT removes a member)."""
    item = {"card": CARD, "outcome": "overridden", "outcomeTimestamp": WHEN, **changes}
    return {"feedback": [{k: v for k, v in item.items() if v is not LEFT_OUT}]}


def reason(**coding: Any) -> dict[str, Any]:
    return {"reason": coding}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "feedback"),
        ({"feedback": []}, "feedback"),
        ({"feedback": {"card": CARD}}, "feedback"),
        ({"feedback": one()["feedback"] * 101}, "feedback"),
        (one(card=LEFT_OUT), "card"),
        (one(card="not-a-uuid"), "card"),
        (one(outcome="ignored"), "outcome"),
        (one(outcome=LEFT_OUT), "outcome"),
        (one(outcome="accepted"), "acceptedSuggestions"),
        (one(outcome="accepted", acceptedSuggestions=[]), "acceptedSuggestions"),
        (one(outcome="accepted", acceptedSuggestions=[{"id": "x"}]), "id"),
        (one(acceptedSuggestions=SUGGESTION), "acceptedSuggestions"),
        (
            one(
                outcome="accepted",
                acceptedSuggestions=SUGGESTION,
                overrideReason={"userComment": "x"},
            ),
            "overrideReason",
        ),
        (one(overrideReason={}), "overrideReason"),
        (one(overrideReason=reason(code="declined")), "system"),
        (one(overrideReason=reason(system=OUR_REASONS)), "code"),
        (one(overrideReason=reason(system=OUR_REASONS, code=7)), "code"),
        (one(overrideReason=reason(system=OUR_REASONS, code="")), "code"),
        (one(outcomeTimestamp=LEFT_OUT), "outcomeTimestamp"),
        (one(outcomeTimestamp="2026-11-25T10:05:31"), "outcomeTimestamp"),
        (one(outcomeTimestamp="2026-11-25"), "outcomeTimestamp"),
        (one(outcomeTimestamp="2026-02-30T10:05:31Z"), "outcomeTimestamp"),
        (one(outcomeTimestamp=1764065131), "outcomeTimestamp"),
        (one(outcomeTimestamp="0001-01-01T00:00:00+01:00"), "outcomeTimestamp"),
        (one(outcomeTimestamp="9999-12-31T23:59:59-01:00"), "outcomeTimestamp"),
    ],
)
def test_malformed_feedback_is_400_naming_the_field(
    service: SignedClient, body: dict[str, Any], field: str
) -> None:
    response = post(service, body)
    assert response.status_code == 400, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert field in outcome["issue"][0]["diagnostics"]
    assert stored(service) == []


@pytest.mark.parametrize(
    "raw", [b"not json", b'{"feedback": [NaN]}', b'{"feedback": [], "feedback": []}', b"[]"]
)
def test_a_body_that_is_not_a_strict_json_object_is_400(service: SignedClient, raw: bytes) -> None:
    response = service.post(FEEDBACK, content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400


def test_only_application_json_is_accepted(service: SignedClient) -> None:
    body = b'{"feedback": []}'
    response = service.post(FEEDBACK, content=body, headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert response.json()["resourceType"] == "OperationOutcome"


def test_other_timestamp_forms_are_the_same_instant(service: SignedClient) -> None:
    card = str(uuid.uuid4())
    for when in ("2026-11-25T10:05:31Z", "2026-11-25T11:05:31+01:00", "2026-11-25t10:05:31z"):
        body = {"feedback": [{"card": card, "outcome": "overridden", "outcomeTimestamp": when}]}
        assert post(service, body).status_code == 200
    assert len(stored(service)) == 1


def test_an_unknown_service_is_404(service: SignedClient) -> None:
    response = post(service, overridden(str(uuid.uuid4())), "/cds-services/nope/feedback")
    assert response.status_code == 404
    assert stored(service) == []


def test_feedback_needs_a_token_for_the_feedback_url(service: SignedClient) -> None:
    body = overridden(str(uuid.uuid4()))
    assert service.client.post(FEEDBACK, json=body).status_code == 401
    discovery_token = service.ehr.authorization("/cds-services")
    response = service.client.post(FEEDBACK, json=body, headers={"Authorization": discovery_token})
    assert response.status_code == 401  # F-5: aud must be the feedback URL
    service_token = service.ehr.authorization(PATIENT_VIEW)
    response = service.client.post(FEEDBACK, json=body, headers={"Authorization": service_token})
    assert response.status_code == 401
    assert stored(service) == []
    assert post(service, body).status_code == 200


def test_feedback_while_the_database_is_gone_is_503_and_never_a_lie(
    signed_client_factory: Callable[..., SignedClient], tmp_path: Any
) -> None:
    service = signed_client_factory(database_url=f"sqlite:///{tmp_path / 'cds.db'}")
    with store_of(service).engine.begin() as connection:
        connection.execute(text("DROP TABLE feedback"))
    response = post(service, overridden(str(uuid.uuid4())))
    assert response.status_code == 503
    assert response.headers["retry-after"]
    assert response.json()["resourceType"] == "OperationOutcome"


ODD_VALUES: list[Any] = [
    None,
    0,
    -1,
    1e308,
    True,
    "",
    " ",
    "x" * 5000,
    "\u0000",
    [],
    {},
    [None],
    {"id": None},
    "2026-02-30T10:05:31Z",
    "0001-01-01T00:00:00+14:00",
]


def members(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every member path of a JSON value (object keys and array indexes)."""
    found = [path] if path else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += members(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += members(item, (*path, index))
    return found


def with_value(body: Any, path: tuple[Any, ...], value: Any) -> Any:
    copy = json.loads(json.dumps(body))
    target = copy
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return copy


def test_no_body_shape_is_ever_a_server_error(
    signed_client_factory: Callable[..., SignedClient],
) -> None:
    """Every member of full accepted and overridden items set to odd values: 200 or 400."""
    service = signed_client_factory()
    full = {
        "feedback": [
            {
                "card": CARD,
                "outcome": "accepted",
                "acceptedSuggestions": SUGGESTION,
                "outcomeTimestamp": WHEN,
                "extension": {"org.example.x": 1},
            },
            {
                "card": CARD,
                "outcome": "overridden",
                "overrideReason": {
                    "reason": {"system": OUR_REASONS, "code": "declined", "display": "Declined"},
                    "userComment": "not now",
                },
                "outcomeTimestamp": WHEN,
            },
        ]
    }
    statuses = set()
    for path in members(full):
        for value in ODD_VALUES:
            response = post(service, with_value(full, path, value))
            assert response.status_code in (200, 400), (path, value, response.text)
            statuses.add(response.status_code)
    assert statuses == {200, 400}
