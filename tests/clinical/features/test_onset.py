"""Onset, duration, phase and laterality of the foot drop (clinical-logic §1 Time, §2)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.support.clinical import (
    PERONEAL,
    SCT,
    TODAY,
    as_date,
    condition,
    days_ago,
    features_of,
    foot_drop,
    patient,
    weeks_ago,
)


@pytest.mark.parametrize(
    ("onset", "phase"),
    [
        (days_ago(0), "acute"),
        (days_ago(41), "acute"),
        # "acute/subacute under 6 weeks; established 6 weeks to 12 months"
        (weeks_ago(6), "established"),
        (days_ago(364), "established"),
        ("2025-06-15", "long_standing"),
        ("2019-01-01", "long_standing"),
        # A future onset is a data error, read as today.
        (days_ago(-3), "acute"),
    ],
)
def test_phase_edges(onset: str, phase: str) -> None:
    fd = features_of(foot_drop(onset=onset)).foot_drop
    assert fd is not None
    assert fd.phase == phase
    assert fd.onset.source == "onset_datetime"
    assert not fd.onset.approximate


def test_exactly_six_weeks_is_established_with_its_duration() -> None:
    fd = features_of(foot_drop(onset=weeks_ago(6))).foot_drop
    assert fd is not None
    assert fd.duration == timedelta(weeks=6)
    assert fd.phase == "established"


@pytest.mark.parametrize(
    ("kwargs", "source", "expected"),
    [
        ({"onset_period": days_ago(20)}, "onset_period", days_ago(20)),
        ({"onset_age": (60, "a")}, "onset_age", "2024-03-01"),
        ({"onset_age": (62.5, "a")}, "onset_age", "2026-08-30"),
        ({"recorded": days_ago(5)}, "recorded_date", days_ago(5)),
    ],
)
def test_onset_sources(kwargs: dict[str, Any], source: str, expected: str) -> None:
    fd = features_of(patient(birth="1964-03-01"), foot_drop(**kwargs)).foot_drop
    assert fd is not None
    assert fd.onset.source == source
    assert fd.onset.date == as_date(expected)


def test_recorded_date_only_is_approximate_and_not_known() -> None:
    fd = features_of(foot_drop(recorded=days_ago(5))).foot_drop
    assert fd is not None
    assert fd.onset.approximate and not fd.onset.known
    assert fd.phase == "acute"


def test_onset_age_without_birth_date_falls_back_to_recorded_date() -> None:
    resource = foot_drop(onset_age=(50, "a"), recorded=days_ago(100))
    fd = features_of(patient(birth=None), resource).foot_drop
    assert fd is not None
    assert fd.onset.source == "recorded_date"


def test_unknown_onset() -> None:
    resource = condition("M21.371")  # no onset, no recordedDate
    fd = features_of(resource).foot_drop
    assert fd is not None
    assert fd.onset.source == "none"
    assert fd.phase == "unknown"
    assert fd.duration is None


def test_partial_onset_reads_as_the_last_day_it_can_mean() -> None:
    fd = features_of(foot_drop(onset="2026-05")).foot_drop
    assert fd is not None
    assert fd.onset.date == as_date("2026-05-31")
    assert fd.phase == "acute"


def test_true_onset_wins_over_an_earlier_recorded_date() -> None:
    """A migrated recordedDate must not age a dated foot drop."""
    fd = features_of(foot_drop(recorded="2020-01-01"), foot_drop(onset=days_ago(20))).foot_drop
    assert fd is not None
    assert fd.onset.date == as_date(days_ago(20))
    assert fd.onset.source == "onset_datetime"


@pytest.mark.parametrize(
    ("resources", "laterality"),
    [
        ([foot_drop("right")], "right"),
        ([foot_drop("left")], "left"),
        ([foot_drop(None)], "unspecified"),
        ([foot_drop("right"), foot_drop("left")], "bilateral"),
        ([condition("6077001", SCT, onset=days_ago(3), body_site={"text": "Left foot"})], "left"),
        (
            [
                condition(
                    "6077001",
                    SCT,
                    onset=days_ago(3),
                    body_site={"coding": [{"system": SCT, "code": "51440002"}]},
                )
            ],
            "bilateral",
        ),
        (
            [condition("6077001", SCT, onset=days_ago(3), body_site={"text": "both feet"})],
            "bilateral",
        ),
        # G57.33 (bilateral peroneal lesion) makes a foot drop bilateral.
        ([foot_drop("right"), condition(PERONEAL["bilateral"], onset=days_ago(3))], "bilateral"),
        ([foot_drop("right"), condition(PERONEAL["left"], onset=days_ago(3))], "bilateral"),
    ],
)
def test_laterality(resources: list[dict[str, Any]], laterality: str) -> None:
    fd = features_of(*resources).foot_drop
    assert fd is not None
    assert fd.laterality == laterality


def test_bilateral_onset_is_when_the_second_side_began() -> None:
    fd = features_of(foot_drop("right", onset="2025-01-01"), foot_drop("left", onset=days_ago(7)))
    assert fd.foot_drop is not None
    bilateral = fd.foot_drop.bilateral_onset
    assert bilateral is not None
    assert bilateral.date == TODAY - timedelta(days=7)
    assert fd.foot_drop.onset.date == as_date("2025-01-01")


def test_peroneal_palsy_alone_is_a_proxy() -> None:
    fd = features_of(condition(PERONEAL["right"], onset=days_ago(4))).foot_drop
    assert fd is not None
    assert fd.proxy
    assert fd.laterality == "right"


def test_foot_drop_code_is_not_a_proxy_even_with_peroneal_palsy() -> None:
    fd = features_of(foot_drop("right"), condition(PERONEAL["right"], onset="2020-01-01"))
    assert fd.foot_drop is not None
    assert not fd.foot_drop.proxy
    assert fd.foot_drop.onset.date == as_date(days_ago(10))
