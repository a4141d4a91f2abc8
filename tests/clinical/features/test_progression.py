"""Possible progression: strength series and note text (clinical-logic §2, safety-review A2)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.clinical import condition, days_ago, features_of, foot_drop, strength


@pytest.mark.parametrize(
    ("series", "declined"),
    [
        ([strength("5", 20), strength("3", 2)], True),
        ([strength("4", 10), strength("3", 1)], True),  # 4 -> 3 is a full grade
        ([strength("4+", 10), strength("4", 1)], False),  # 4+ -> 4 is not
        ([strength("4", 10), strength("4-", 1)], False),
        ([strength("4+/5", 10), strength("3+/5", 1)], True),
        ([strength(4.5, 10), strength(3.67, 1)], False),  # 4+ and 4- as flowsheet numbers
        ([strength(5, 10), strength(3, 1)], True),
        # the latest must be at most 7 days old
        ([strength("5", 20), strength("3", 9)], False),
        # the latest must be the lowest of the 30 days
        ([strength("2", 20), strength("5", 10), strength("3", 1)], False),
        # the best must be within 30 days
        ([strength("5", 40), strength("3", 1)], False),
        # a single value is no series
        ([strength("2", 1)], False),
        # sides are compared with themselves only
        ([strength("5", 10, "right"), strength("3", 1, "left")], False),
        ([strength("5", 10, "left"), strength("3", 1, "left")], True),
    ],
)
def test_structured_decline(series: list[dict[str, Any]], declined: bool) -> None:
    f = features_of(foot_drop(), *series)
    assert bool(f.progression.structured) is declined


@pytest.mark.parametrize(
    ("note", "found"),
    [
        ("Foot drop worsening over the last 3 days", True),
        ("Progressive weakness of ankle dorsiflexion", True),
        ("Getting worse, now tripping", True),
        ("No progression of weakness", False),
        ("Weakness not worsening", False),
        ("Denies worsening", False),
        ("Non-progressive foot drop", False),
        ("Stable weakness, worsening back pain", False),
        ("Worsening back pain", False),
        ("Improving, no further worsening", False),
        ("Known secondary progressive multiple sclerosis", False),
        ("Background of primary progressive MS", False),
        ("Progressive supranuclear palsy", False),
        # v3: negation has a scope; state words describe the weakness itself or the present
        ("Progressive weakness despite stable MRI findings", True),
        ("Worse than at the last visit, when it was stable", True),
        ("No pain and worsening weakness", True),
        ("Previously worsening, now improving", False),
        ("Foot drop progressed last month, weakness stable", False),
        ("Return if weakness worsens", False),
    ],
)
def test_progression_text_with_negation(note: str, found: bool) -> None:
    f = features_of(foot_drop(notes=[(note, days_ago(2))]))
    assert bool(f.progression.text) is found
    assert all(x.from_text for x in f.progression.text)


def test_progression_text_older_than_14_days_does_not_count() -> None:
    f = features_of(foot_drop(notes=[("worsening foot drop", days_ago(20))]))
    assert not f.progression.text


def test_progression_text_in_code_text_is_dated_by_the_recorded_date() -> None:
    recent = condition("M21.371", text="Progressive right foot drop", recorded=days_ago(3))
    old = condition("M21.371", text="Progressive right foot drop", recorded=days_ago(60))
    assert features_of(recent).progression.text
    assert not features_of(old).progression.text


def test_progression_text_counts_on_weakness_and_radiculopathy_only() -> None:
    weakness = condition("M62.81", notes=[("worsening weakness", days_ago(1))])
    knee = condition("M17.11", notes=[("worsening weakness", days_ago(1))])
    assert features_of(foot_drop(), weakness).progression.text
    assert not features_of(foot_drop(), knee).progression.text
