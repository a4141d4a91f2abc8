"""Whether a central cause explains the foot drop (clinical-logic v3 §2 central_cause)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.clinical import SCT, condition, days_ago, features_of, foot_drop

ACUTE = foot_drop(onset=days_ago(10))


def explains(*resources: dict[str, Any]) -> bool:
    return bool(features_of(*resources).central.explains)


@pytest.mark.parametrize(
    ("code", "system"),
    [
        ("I69.354", "http://hl7.org/fhir/sid/icd-10-cm"),  # hemiplegia following infarction
        ("I69.044", "http://hl7.org/fhir/sid/icd-10-cm"),  # lower-limb monoplegia after SAH
        ("G81.90", "http://hl7.org/fhir/sid/icd-10-cm"),
        ("G83.12", "http://hl7.org/fhir/sid/icd-10-cm"),
        ("442733008", SCT),
        ("108691000119102", SCT),
    ],
)
def test_an_active_sequela_with_deficit_explains_whatever_its_date(code: str, system: str) -> None:
    assert explains(ACUTE, condition(code, system, onset="1990-01-01"))


def test_a_resolved_sequela_explains_nothing() -> None:
    assert not explains(ACUTE, condition("I69.354", status="resolved", onset="1990-01-01"))


@pytest.mark.parametrize(
    ("days_before_foot_drop", "linked"),
    [
        (190, False),  # more than 6 months before the foot drop
        (170, True),
        (14, True),  # two weeks before
        (0, True),
        (-14, True),  # 14 days after
        (-15, False),  # later than 14 days after: never
    ],
)
def test_an_acute_event_explains_only_when_linked_in_time(
    days_before_foot_drop: int, linked: bool
) -> None:
    """'from 6 months before to 14 days after the foot drop's onset'."""
    fd = foot_drop(onset=days_ago(20))
    stroke = condition("I63.9", onset=days_ago(20 + days_before_foot_drop))
    assert explains(fd, stroke) is linked


def test_an_event_after_the_foot_drop_by_more_than_14_days_never_explains() -> None:
    """'Never later: an event cannot explain a deficit that came first.'"""
    fd = foot_drop(onset=days_ago(40))
    assert not explains(fd, condition("I63.9", onset=days_ago(20)))
    assert explains(fd, condition("I63.9", onset=days_ago(30)))


def test_stroke_in_1988_with_a_foot_drop_this_month_is_a_possible_cause() -> None:
    f = features_of(ACUTE, condition("I63.9", onset="1988-04-02"))
    assert not f.central.explains
    assert [x.evidence.date for x in f.central.possible] == ["1988-04-02"]


def test_an_undated_stroke_cannot_be_linked() -> None:
    assert not explains(ACUTE, condition("I63.9"))


def test_a_stroke_dated_only_by_its_recorded_date_is_not_linked() -> None:
    """recordedDate is reset by problem-list migrations: not a true onset."""
    assert not explains(ACUTE, condition("I63.9", recorded=days_ago(12)))
    assert explains(ACUTE, condition("I63.9", onset=days_ago(12)))


@pytest.mark.parametrize("code", ["G35", "G80.1", "G11.4", "G95.9"])
def test_chronic_disease_explains_a_foot_drop_of_six_months_or_more(code: str) -> None:
    assert explains(foot_drop(onset=days_ago(200)), condition(code, onset="2012-01-01"))


@pytest.mark.parametrize("code", ["G35", "G80.1", "G11.4", "G95.9"])
def test_chronic_disease_explains_a_foot_drop_of_approximate_or_unknown_onset(code: str) -> None:
    assert explains(foot_drop(recorded=days_ago(20)), condition(code, onset="2012-01-01"))


def test_chronic_disease_with_a_recent_known_onset_is_named_first() -> None:
    f = features_of(foot_drop(onset=days_ago(56)), condition("G35", onset="2012-01-01"))
    assert not f.central.explains
    assert len(f.central.chronic_recent) == 1 and f.central.possible == f.central.chronic_recent


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("Foot drop due to stroke", True),
        ("Foot drop after traumatic brain injury", True),
        ("Foot drop; history of stroke", False),
        ("Foot drop, ?stroke", False),
        ("Foot drop", False),
    ],
)
def test_the_foot_drop_record_naming_its_cause_explains(text: str, named: bool) -> None:
    fd = condition("M21.371", onset=days_ago(10), text=text)
    assert explains(fd) is named


def test_stroke_without_residual_deficit_is_no_central_cause() -> None:
    f = features_of(ACUTE, condition("Z86.73", onset=days_ago(20)))
    assert not f.central.explains and not f.central.possible
