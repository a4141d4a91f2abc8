"""Facts in plain words for the card texts (clinical-logic v3 §1 "Cards a clinician can
read in seconds"): the rules' shared helpers, and what the renderer makes of them."""

from __future__ import annotations

from datetime import date

import pytest

from cards.catalogue import CardCatalogue, code_notation, resource_references
from cards.render import render
from service.clinical.features.model import CareEvent, Evidence, Finding
from service.clinical.recommendation import Recommendation
from service.clinical.shared import (
    ago,
    cause_flags,
    fact_list,
    finding_fact,
    plain_display,
    recorded_when,
)
from tests.cards.conftest import patient
from tests.support.clinical import PERONEAL, card, condition, days_ago, features_of, foot_drop

TODAY = date(2026, 6, 15)


@pytest.mark.parametrize(
    ("day", "words"),
    [
        (date(2026, 6, 15), "today"),
        (date(2026, 6, 14), "yesterday"),
        (date(2026, 6, 13), "2 days ago"),
        (date(2026, 6, 2), "13 days ago"),
        (date(2026, 6, 1), "2 weeks ago"),
        (date(2026, 3, 1), "3 months ago"),
        (date(2023, 6, 15), "3 years ago"),
        (date(2026, 6, 20), "on 2026-06-20"),
    ],
)
def test_ago_counts_as_a_calendar_would(day: date, words: str) -> None:
    assert ago(day, TODAY) == words


def test_an_undated_record_says_so() -> None:
    assert recorded_when(None, TODAY) == "on record"
    assert recorded_when(date(2026, 6, 13), TODAY) == "recorded 2 days ago"


@pytest.mark.parametrize(
    ("display", "plain"),
    [
        ("Retention of urine (disorder)", "Retention of urine"),
        ("Foot drop (M21.371)", "Foot drop"),
        ("[M21.371] Foot drop, right foot", "Foot drop, right foot"),
        ("Epilepsy (SNOMED 84757009)", "Epilepsy"),
        ("ICD-10 G40.909: Epilepsy, unspecified", "Epilepsy, unspecified"),
        ("Lumbar radiculopathy (L5)", "Lumbar radiculopathy (L5)"),
        ("  acute   urinary retention ", "acute urinary retention"),
    ],
)
def test_plain_display_has_no_code_notation(display: str, plain: str) -> None:
    evidence = Evidence("Condition", "c-1", display, "2026-06-13")
    assert plain_display(evidence) == plain
    assert not code_notation(plain)


def test_a_record_without_a_display_is_named_by_its_feature() -> None:
    finding = Finding("saddle_anaesthesia", Evidence("Condition", "c-1", ""), TODAY)
    assert plain_display(finding) == "saddle anaesthesia"


def test_finding_fact_names_the_finding_and_when() -> None:
    retention = Finding(
        "urinary_retention",
        Evidence("Condition", "cond-b-ur", "Retention of urine (disorder)", "2026-06-13"),
        date(2026, 6, 13),
    )
    mri = CareEvent(
        "lumbar_mri", Evidence("ServiceRequest", "mri-1", "MRI lumbar spine"), "ordered", None
    )
    assert finding_fact(retention, TODAY) == "Retention of urine recorded 2 days ago"
    assert finding_fact(mri, TODAY) == "MRI lumbar spine on record"


def test_fact_list_items_each_once_and_never_split_inside() -> None:
    assert fact_list(["Epilepsy; resolved", "Epilepsy, resolved", "", "eGFR 42"]) == (
        "Epilepsy, resolved; eGFR 42"
    )


def test_a_summary_from_the_helpers_keeps_whole_findings() -> None:
    """Facts from `finding_fact` and `fact_list`: ids never shown, no semantic tags, and a
    list too long for the summary keeps whole findings ("and N more")."""
    stroke = Finding(
        "central_cause",
        Evidence("Condition", "cond-st", "Stroke (disorder)", "1988-04-02"),
        date(1988, 4, 2),
    )
    palsy = Finding(
        "central_cause",
        Evidence("Condition", "cond-cp", "Hereditary spastic paraplegia (disorder)", "1970-05-02"),
        date(1970, 5, 2),
    )
    rec = Recommendation(
        topic="localization-workup",
        indicator="info",
        evidence=(stroke.evidence, palsy.evidence),
        facts={
            "side": "right side",
            "duration": "10 days",
            "possible_cause": fact_list(finding_fact(x, TODAY) for x in (stroke, palsy)),
        },
        flags=frozenset({"central_chronic_first"}),
    )
    catalogue = CardCatalogue.load()
    [card] = render(
        [rec], patient(), catalogue, hook="patient-view", docs_url="https://x.org/docs/clinical"
    )
    assert card.summary == (
        "Foot drop (right side, 10 days) with Stroke recorded 38 years ago and 1 more:"
        " consider neurology review first"
    )
    assert len(card.summary) < 140 and "…" not in card.summary
    assert not resource_references(card.summary) and not code_notation(card.summary)


@pytest.mark.parametrize(
    ("causes", "flagged"),
    [
        ((), True),
        ((condition("M51.16", onset=days_ago(20)),), True),
        ((condition(PERONEAL["right"], onset=days_ago(20)),), False),
        (
            (
                condition(PERONEAL["right"], onset=days_ago(20)),
                condition("M51.16", onset=days_ago(20)),
            ),
            True,
        ),
    ],
    ids=["no-cause", "disc", "peroneal-only", "peroneal-and-disc"],
)
def test_disc_herniation_summary_behind_first_line_cards_only_where_a_spinal_cause_is_possible(
    causes: tuple[dict[str, object], ...], flagged: bool
) -> None:
    features = features_of(foot_drop("right"), *causes)
    assert ("disc_cause_possible" in cause_flags(features)) is flagged
    orthosis = card("orthosis", foot_drop("right"), *causes)
    assert orthosis is not None and ("disc_cause_possible" in orthosis.flags) is flagged
