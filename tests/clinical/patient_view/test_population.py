"""Population, trigger and ordering (clinical-logic §1)."""

from __future__ import annotations

from typing import Any

import pytest

from service.clinical.features.model import PatientFeatures
from service.clinical.patient_view import recommend
from tests.support.clinical import (
    NOW,
    PERONEAL,
    THRESHOLDS,
    condition,
    days_ago,
    features_of,
    foot_drop,
    patient,
    recommendations,
    topics,
)

URGENT_RETENTION = condition("R33.9", onset=days_ago(2))


@pytest.mark.parametrize(
    "resources",
    [
        pytest.param([], id="no foot drop"),
        pytest.param([condition("M62.81", onset=days_ago(3))], id="weakness only"),
        pytest.param([foot_drop(status="resolved"), URGENT_RETENTION], id="resolved"),
        pytest.param(
            [foot_drop(verification="entered-in-error"), URGENT_RETENTION], id="entered in error"
        ),
        pytest.param([foot_drop(verification="refuted"), URGENT_RETENTION], id="refuted"),
        pytest.param([patient(birth="2010-01-01"), foot_drop(), URGENT_RETENTION], id="under 18"),
        pytest.param([patient(birth="2008-06-16"), foot_drop()], id="18 tomorrow"),
    ],
)
def test_no_cards(resources: list[dict[str, Any]]) -> None:
    """'Everyone else gets {"cards": []}.'"""
    assert recommendations(*resources) == []


def test_adult_from_the_18th_birthday() -> None:
    assert topics(patient(birth="2008-06-15"), foot_drop()) != []


def test_unknown_age_gets_only_the_red_flag() -> None:
    assert topics(patient(birth=None), foot_drop()) == []
    assert topics(patient(birth=None), foot_drop(), URGENT_RETENTION) == [
        "red-flag-urgent-evaluation"
    ]


def test_peroneal_palsy_alone_feeds_only_red_flag_and_work_up() -> None:
    """'A coded common peroneal nerve palsy counts as foot drop for the red-flag and
    work-up cards only.'"""
    palsy = condition(PERONEAL["right"], onset=days_ago(5))
    assert topics(palsy) == ["localization-workup"]
    assert topics(palsy, URGENT_RETENTION) == ["red-flag-urgent-evaluation"]


def test_acute_foot_drop_gets_first_line_cards_most_urgent_first() -> None:
    recs = recommendations(foot_drop(), condition("M51.16", onset=days_ago(20)))
    assert [r.topic for r in recs] == ["orthosis", "physical-therapy", "localization-workup"]
    assert [r.indicator for r in recs] == ["warning", "warning", "info"]


def test_warning_sorts_before_info() -> None:
    recs = recommendations(foot_drop(onset="2024-01-01"), condition(PERONEAL["right"]))
    indicators = [r.indicator for r in recs]
    assert indicators == sorted(indicators, key=["critical", "warning", "info"].index)


def test_critical_card_stands_alone_and_says_so() -> None:
    """'When a critical card fires, the other patient-view cards are withheld.'"""
    recs = recommendations(foot_drop(), URGENT_RETENTION)
    assert [r.topic for r in recs] == ["red-flag-urgent-evaluation"]
    assert recs[0].indicator == "critical"
    assert "critical_withheld_others" in recs[0].flags


def test_every_card_carries_side_onset_duration_and_the_foot_drop_evidence() -> None:
    resources = [
        foot_drop("left", onset="2024-01-01", rid="fd"),
        condition(PERONEAL["left"], onset="2024-01-01"),
        condition("G35", onset="2010-01-01"),
        condition("221360009", "http://snomed.info/sct", body_site={"text": "left calf"}),
    ]
    recs = recommendations(*resources)
    assert len(recs) >= 4
    for rec in recs:
        assert {"side", "onset", "duration"} <= set(rec.facts)
        assert rec.facts["side"] == "left side"
        assert rec.evidence[0].resource_id == "fd"


def test_onset_notes_and_flags() -> None:
    approximate = recommendations(foot_drop(recorded=days_ago(30)))
    unknown = recommendations(condition("M21.371"))
    assert all(
        "onset_approximate" in r.notes and "onset_approximate" in r.flags for r in approximate
    )
    assert all("onset_unknown" in r.notes and "onset_unknown" in r.flags for r in unknown)
    assert all(r.facts["duration"] == "unknown duration" for r in unknown)


def test_data_unavailable_is_noted_on_every_card() -> None:
    recs = recommendations(foot_drop(), unavailable=frozenset({"procedures"}))
    assert recs and all("data_unavailable" in r.notes for r in recs)


def test_recommend_is_pure() -> None:
    features: PatientFeatures = features_of(foot_drop(), URGENT_RETENTION)
    assert recommend(features, NOW, THRESHOLDS) == recommend(features, NOW, THRESHOLDS)
