"""The card log, feedback and snoozes in the store, on SQLite and PostgreSQL (`database_url`)."""

from __future__ import annotations

import itertools
import random
import threading
import uuid
from dataclasses import asdict, replace
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert, select, text

from service.storage.database import create_db_engine, migrate
from service.storage.records import FeedbackRecord, IssuedCardRecord, patient_key, week_of
from service.storage.reports import weekly_outcomes
from service.storage.store import Store
from service.storage.tables import Feedback, IssuedCard

NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)  # a Wednesday
ISSUER = "https://ehr.example.org"
SECRET = b"k" * 32
PATIENT = patient_key(SECRET, "https://fhir.example.org/r4", "pat-1")


def card(topic: str = "orthosis", **changes: object) -> IssuedCardRecord:
    record = IssuedCardRecord(
        card_uuid=str(uuid.uuid4()),
        suggestion_uuids=(str(uuid.uuid4()), str(uuid.uuid4())),
        service_id="footdrop-patient-view",
        hook="patient-view",
        hook_instance=str(uuid.uuid4()),
        topic=topic,
        indicator="warning",
        issued_at=NOW,
        issuer=ISSUER,
        patient_key=PATIENT,
        snoozable=True,
    )
    return replace(record, **changes)  # type: ignore[arg-type]


def feedback(card_uuid: str, outcome: str = "overridden", **changes: object) -> FeedbackRecord:
    overridden = outcome == "overridden"
    record = FeedbackRecord(
        issuer=ISSUER,
        service_id="footdrop-patient-view",
        card_uuid=card_uuid,
        outcome=outcome,
        outcome_at=NOW + timedelta(minutes=1),
        accepted_suggestions=(),
        reason_system="urn:footdrop-cds:override-reason" if overridden else None,
        reason_code="declined" if overridden else None,
        comment_digest=None,
        received_at=NOW + timedelta(minutes=1),
    )
    return replace(record, **changes)  # type: ignore[arg-type]


def test_patient_keys_depend_on_the_secret_and_the_server_never_show_the_id() -> None:
    key = patient_key(SECRET, "https://fhir.example.org/r4", "patient-12345")
    assert "12345" not in key and len(key) == 64
    assert key == patient_key(SECRET, "https://fhir.example.org/r4/", "patient-12345")
    assert key != patient_key(b"x" * 32, "https://fhir.example.org/r4", "patient-12345")
    assert key != patient_key(SECRET, "https://other.example.org/r4", "patient-12345")


def test_every_field_of_a_logged_card_round_trips(database_url: str) -> None:
    store = Store.open(database_url)
    issued = card()
    store.record_cards([issued])
    with store.engine.connect() as connection:
        row = connection.execute(select(IssuedCard)).one()._mapping
    assert row["card_uuid"] == issued.card_uuid
    assert row["suggestions"] == list(issued.suggestion_uuids)
    assert (row["service_id"], row["hook"], row["topic"], row["indicator"]) == (
        "footdrop-patient-view",
        "patient-view",
        "orthosis",
        "warning",
    )
    assert row["hook_instance"] == issued.hook_instance
    assert row["issuer"] == ISSUER and row["patient_key"] == PATIENT and row["snoozable"]
    assert row["week"] == date(2026, 11, 23)


def test_logging_the_same_cards_again_changes_nothing(database_url: str) -> None:
    store = Store.open(database_url)
    cards = [card() for _ in range(3)]
    store.record_cards(cards)
    store.record_cards(cards[1:])
    with store.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM issued_cards")).scalar() == 3


def test_many_cards_in_one_write(database_url: str) -> None:
    store = Store.open(database_url)
    store.record_cards([card() for _ in range(1_234)])
    with store.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM issued_cards")).scalar() == 1_234


def test_the_same_feedback_twice_is_stored_once(database_url: str) -> None:
    store = Store.open(database_url)
    item = feedback(str(uuid.uuid4()))
    assert store.add_feedback([item, item]) == 1
    assert store.add_feedback([item]) == 0
    upper = replace(item, card_uuid=item.card_uuid.upper())
    assert store.add_feedback([upper]) == 0
    with store.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM feedback")).scalar() == 1


def test_a_batch_partly_stored_before_counts_and_stores_only_the_new(database_url: str) -> None:
    store = Store.open(database_url)
    items = [feedback(str(uuid.uuid4())) for _ in range(5)]
    assert store.add_feedback(items[1:4]) == 3
    assert store.add_feedback(list(reversed(items))) == 2
    with store.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM feedback")).scalar() == 5


def test_feedback_differing_in_what_was_reported_is_stored_apart(database_url: str) -> None:
    store = Store.open(database_url)
    base = feedback(str(uuid.uuid4()))
    variants = [
        base,
        replace(base, outcome_at=base.outcome_at + timedelta(seconds=1)),
        replace(base, reason_code="not-ambulatory"),
        replace(base, comment_digest="0" * 64),
        replace(base, issuer="https://other-ehr.example.org"),
        replace(
            base,
            outcome="accepted",
            reason_system=None,
            reason_code=None,
            accepted_suggestions=("a",),
        ),
    ]
    assert store.add_feedback(variants) == len(variants)


def test_feedback_keeps_no_comment_text(database_url: str) -> None:
    store = Store.open(database_url)
    store.add_feedback([feedback(str(uuid.uuid4()), comment_digest="f" * 64)])
    with store.engine.connect() as connection:
        row = connection.execute(select(Feedback)).one()._mapping
    assert row["has_comment"] is True
    assert "f" * 64 not in {str(value) for value in row.values()}


def test_an_override_snoozes_the_topic_for_that_issuer_and_patient_only(database_url: str) -> None:
    store = Store.open(database_url)
    shown = card()
    store.record_cards([shown])
    store.add_feedback([feedback(shown.card_uuid)])
    since = NOW - timedelta(days=30)
    assert store.snoozed_topics(ISSUER, PATIENT, since) == {"orthosis"}
    assert store.snoozed_topics("https://other-ehr.example.org", PATIENT, since) == set()
    other_patient = patient_key(SECRET, "https://fhir.example.org/r4", "pat-2")
    assert store.snoozed_topics(ISSUER, other_patient, since) == set()
    assert store.snoozed_topics(ISSUER, PATIENT, NOW + timedelta(days=1)) == set()


def test_what_never_snoozes(database_url: str) -> None:
    store = Store.open(database_url)
    not_snoozable = card("red-flag-urgent-evaluation", snoozable=False)
    accepted = card("physical-therapy")
    foreign = card("spasticity-botulinum")
    store.record_cards([not_snoozable, accepted, foreign])
    store.add_feedback(
        [
            feedback(not_snoozable.card_uuid),
            feedback(accepted.card_uuid, "accepted", accepted_suggestions=("x",)),
            # Another issuer overriding a card of ours, and an unknown card: no snooze.
            feedback(foreign.card_uuid, issuer="https://attacker.example.org"),
            feedback(str(uuid.uuid4())),
        ]
    )
    assert store.snoozed_topics(ISSUER, PATIENT, NOW - timedelta(days=30)) == set()


def test_an_override_that_arrives_before_its_card_snoozes_once_the_card_is_logged(
    database_url: str,
) -> None:
    """The card log writes a few milliseconds late (or after an outage); feedback does not wait."""
    store = Store.open(database_url)
    shown = card()
    since = NOW - timedelta(days=30)
    store.add_feedback([feedback(shown.card_uuid)])
    assert store.snoozed_topics(ISSUER, PATIENT, since) == set()
    store.record_cards([shown])
    assert store.snoozed_topics(ISSUER, PATIENT, since) == {"orthosis"}


def test_the_snooze_runs_from_the_latest_override_in_either_order(database_url: str) -> None:
    store = Store.open(database_url)
    first, second = card(), card()
    later = NOW + timedelta(days=10)
    store.add_feedback([feedback(second.card_uuid, received_at=later)])
    store.record_cards([first])
    store.add_feedback([feedback(first.card_uuid)])
    store.record_cards([second])
    store.add_feedback([feedback(first.card_uuid)])  # sent again: changes nothing
    assert store.snoozed_topics(ISSUER, PATIENT, later - timedelta(minutes=1)) == {"orthosis"}
    assert store.snoozed_topics(ISSUER, PATIENT, later + timedelta(minutes=1)) == set()


def test_a_card_and_its_override_written_at_once_always_snooze(shared_database_url: str) -> None:
    """The card log and feedback commit concurrently (another worker's card log): whichever
    commits second must see the other's row."""
    store = Store.open(shared_database_url)
    since = NOW - timedelta(days=30)
    for round in range(20):
        patient = patient_key(SECRET, "https://fhir.example.org/r4", f"race-{round}")
        shown = card(patient_key=patient)
        start = threading.Barrier(2)

        def log_card(shown: IssuedCardRecord = shown, start: threading.Barrier = start) -> None:
            start.wait()
            store.record_cards([shown])

        def report(shown: IssuedCardRecord = shown, start: threading.Barrier = start) -> None:
            start.wait()
            store.add_feedback([feedback(shown.card_uuid)])

        threads = [threading.Thread(target=log_card), threading.Thread(target=report)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert store.snoozed_topics(ISSUER, patient, since) == {"orthosis"}, f"round {round}"


def _snoozed_by_the_card_log(store: Store, issuer: str, patient: str, since: datetime) -> set[str]:
    """The definition (and the lookup before the `snoozes` table): overrides by the card's own
    issuer since `since`, joined to the patient's whole card log."""
    query = (
        select(IssuedCard.topic)
        .join(Feedback, Feedback.card_uuid == IssuedCard.card_uuid)
        .where(
            IssuedCard.patient_key == patient,
            IssuedCard.issuer == issuer,
            IssuedCard.snoozable.is_(True),
            Feedback.issuer == issuer,
            Feedback.outcome == "overridden",
            Feedback.received_at >= since,
        )
    )
    with store.engine.connect() as connection:
        return set(connection.execute(query).scalars())


def test_snoozes_equal_the_card_log_joined_to_the_feedback(database_url: str) -> None:
    """Random cards and feedback, each half logged before its feedback and half after."""
    store = Store.open(database_url)
    chance = random.Random(15)
    issuers = [ISSUER, "https://other-ehr.example.org"]
    patients = [patient_key(SECRET, "https://fhir.example.org/r4", f"p-{n}") for n in range(3)]
    topics = ["orthosis", "physical-therapy", "spasticity-botulinum"]
    cards = [
        card(
            chance.choice(topics),
            issuer=chance.choice(issuers),
            patient_key=chance.choice(patients),
            snoozable=chance.random() < 0.8,
        )
        for _ in range(60)
    ]
    reports = [
        feedback(
            shown.card_uuid,
            "accepted" if chance.random() < 0.3 else "overridden",
            issuer=shown.issuer if chance.random() < 0.9 else chance.choice(issuers),
            received_at=NOW + timedelta(days=chance.randrange(40)),
            accepted_suggestions=("s",),
        )
        for shown in cards
        for _ in range(chance.randrange(3))
    ]
    chance.shuffle(reports)
    early = {shown.card_uuid for shown in cards[::2]}
    store.record_cards([shown for shown in cards if shown.card_uuid in early])
    for start in range(0, len(reports), 7):
        store.add_feedback(reports[start : start + 7])
    store.record_cards([shown for shown in cards if shown.card_uuid not in early])
    snoozed = 0
    for issuer, patient, days in itertools.product(issuers, patients, (0, 10, 20, 30, 40)):
        since = NOW + timedelta(days=days)
        expected = _snoozed_by_the_card_log(store, issuer, patient, since)
        assert store.snoozed_topics(issuer, patient, since) == expected, (issuer, patient, days)
        snoozed += len(expected)
    assert snoozed > 10  # the draw snoozes something


def test_migrating_fills_the_snoozes_from_the_card_log_and_feedback(
    shared_database_url: str,
) -> None:
    engine = create_db_engine(shared_database_url)
    migrate(engine, "0003")  # the card log and feedback tables as they are today, no snoozes
    shown, accepted, foreign = card(), card("physical-therapy"), card("spasticity-botulinum")
    reports = [
        feedback(shown.card_uuid),
        feedback(accepted.card_uuid, "accepted", accepted_suggestions=("s",)),
        feedback(foreign.card_uuid, issuer="https://other-ehr.example.org"),
    ]
    with engine.begin() as connection:
        for logged in (shown, accepted, foreign):
            row = asdict(logged) | {"week": week_of(NOW), "suggestions": []}
            del row["suggestion_uuids"]
            connection.execute(insert(IssuedCard), row)
        for item in reports:
            row = asdict(item) | {"dedupe_key": item.dedupe_key, "has_comment": False}
            del row["comment_digest"]
            connection.execute(insert(Feedback), row)
    engine.dispose()
    store = Store.open(shared_database_url)
    assert store.snoozed_topics(ISSUER, PATIENT, NOW - timedelta(days=30)) == {"orthosis"}
    assert store.snoozed_topics(ISSUER, PATIENT, NOW + timedelta(minutes=2)) == set()


def test_weekly_outcomes_count_each_card_once_by_its_latest_feedback(database_url: str) -> None:
    store = Store.open(database_url)
    first, second, third = card(), card(), card("physical-therapy")
    store.record_cards([first, second, third])
    later = NOW + timedelta(hours=1)
    store.add_feedback(
        [
            feedback(first.card_uuid, "accepted", accepted_suggestions=("s",)),
            feedback(first.card_uuid, outcome_at=later),  # then overridden: counts as that
            feedback(second.card_uuid, "accepted", accepted_suggestions=("s",)),
            feedback(str(uuid.uuid4()), reason_code=None, reason_system=None),
        ]
    )
    counts = weekly_outcomes(store, week_of(NOW))
    week = week_of(NOW)
    assert sorted((s.topic, s.cards) for s in counts.shown) == [
        ("orthosis", 2),
        ("physical-therapy", 1),
    ]
    outcomes = {(o.topic, o.outcome, o.reason_code): o.cards for o in counts.outcomes}
    assert outcomes == {
        ("orthosis", "overridden", "declined"): 1,
        ("orthosis", "accepted", None): 1,
        (None, "overridden", None): 1,
    }
    assert {o.week for o in counts.outcomes} == {week}
    assert weekly_outcomes(store, week + timedelta(weeks=1)).shown == []
