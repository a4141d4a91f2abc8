"""Cards per side and per episode (clinical-logic v3 §1 Time): orthosis and palliative
surgery are evaluated per side, each side's indicator follows its own episode, a
recurrence restarts the first-line clock, and the cards state the side in words."""

from __future__ import annotations

from tests.support.clinical import (
    PERONEAL,
    card,
    condition,
    days_ago,
    device_use,
    foot_drop,
    procedure,
    topics,
)
from tests.support.drafts import select, service_draft
from tests.support.drafts import topics as order_topics


def test_left_orthosis_with_a_right_foot_drop_gives_the_orthosis_card_for_the_right() -> None:
    rec = card("orthosis", foot_drop("right"), device_use("Left ankle-foot orthosis"))
    assert rec is not None
    assert rec.facts["foot_drop"] == "Right foot drop"
    assert "orthosis_other_side" in rec.flags


def test_an_orthosis_without_a_side_covers_every_side() -> None:
    assert "orthosis" not in topics(foot_drop("right"), device_use("Ankle-foot orthosis"))
    both = [foot_drop("right"), foot_drop("left")]
    assert "orthosis" not in topics(*both, device_use("Ankle-foot orthosis"))


def test_bilateral_foot_drop_with_a_left_orthosis_needs_one_for_the_right() -> None:
    both = [foot_drop("right", onset="2026-01-10"), foot_drop("left", onset="2026-01-10")]
    rec = card("orthosis", *both, device_use("AFO left leg, worn daily"))
    assert rec is not None
    assert rec.facts["foot_drop"] == "Right foot drop"
    assert "orthosis" not in topics(*both, device_use("Bilateral ankle-foot orthoses"))


def test_each_sides_indicator_follows_its_own_episode() -> None:
    old_right = foot_drop("right", onset="2024-01-01")
    new_left = foot_drop("left", onset=days_ago(60))  # not < 6 weeks: no bilateral red flag
    # the newer left side needs the orthosis: warning
    rec = card("orthosis", old_right, new_left, device_use("Right AFO"))
    assert rec is not None and rec.indicator == "warning"
    assert rec.facts["foot_drop"] == "Left foot drop"
    # only the long-standing right side needs it: info
    rec = card("orthosis", old_right, new_left, device_use("Left AFO"))
    assert rec is not None and rec.indicator == "info"
    assert rec.facts["foot_drop"] == "Right foot drop"


def test_a_recurrence_restarts_the_first_line_clock() -> None:
    old = foot_drop("right", onset="2024-01-01")
    pt_then = procedure("97110", "http://www.ama-assn.org/go/cpt", performed="2024-03-01")
    assert card("orthosis", old).indicator == "info"  # type: ignore[union-attr]
    assert "physical-therapy" not in topics(old, pt_then)
    recurrence = foot_drop("right", onset=days_ago(10), status="recurrence")
    assert card("orthosis", old, recurrence).indicator == "warning"  # type: ignore[union-attr]
    pt = card("physical-therapy", old, recurrence, pt_then)
    assert pt is not None and pt.indicator == "warning"


def test_a_new_foot_drop_on_the_other_side_needs_physical_therapy_again() -> None:
    """Care "since onset" counts from the newest side's episode."""
    old_right = foot_drop("right", onset="2024-01-01")
    pt_then = procedure("97110", "http://www.ama-assn.org/go/cpt", performed="2024-03-01")
    pt = card("physical-therapy", old_right, foot_drop("left", onset=days_ago(60)), pt_then)
    assert pt is not None and pt.indicator == "warning"
    pt_now = procedure("97110", "http://www.ama-assn.org/go/cpt", performed=days_ago(30))
    assert "physical-therapy" not in topics(
        old_right, foot_drop("left", onset=days_ago(60)), pt_now
    )


def test_a_problem_list_re_entry_does_not_restart_the_clock() -> None:
    old = foot_drop("right", onset="2024-01-01", status="resolved")
    again = foot_drop("right", onset=days_ago(2), recorded=days_ago(2))
    assert card("orthosis", old, again).indicator == "info"  # type: ignore[union-attr]


def test_a_recurrence_opposite_an_existing_foot_drop_is_a_new_bilateral_red_flag() -> None:
    found = topics(
        foot_drop("right", onset="2024-01-01"),
        foot_drop("left", onset="2023-01-01", status="resolved"),
        foot_drop("left", onset=days_ago(5), status="recurrence"),
    )
    assert found == ["red-flag-urgent-evaluation"]
    rec = card(
        "red-flag-urgent-evaluation",
        foot_drop("right", onset="2024-01-01"),
        foot_drop("left", onset=days_ago(5), status="recurrence"),
    )
    assert rec is not None and rec.indicator == "critical"


def test_palliative_surgery_is_per_side() -> None:
    record = [
        foot_drop("right", onset="2024-01-01"),
        condition(PERONEAL["right"], onset="2024-01-01"),
    ]
    left_done = procedure(None, text="Left tibialis posterior transfer", performed="2025-01-01")
    right_done = procedure(None, text="Right tibialis posterior transfer", performed="2025-01-01")
    rec = card("palliative-surgery", *record, left_done)
    assert rec is not None
    assert rec.facts["foot_drop"] == "Right foot drop"
    assert rec.facts["duration"] == "2 years"
    assert "palliative-surgery" not in topics(*record, right_done)


def test_palliative_surgery_needs_that_sides_episode_long_standing() -> None:
    """A recurrence 2 months ago: the right side is not long-standing any more."""
    record = [
        foot_drop("right", onset="2024-01-01"),
        foot_drop("right", onset=days_ago(60), status="recurrence"),
        condition(PERONEAL["right"], onset="2024-01-01"),
    ]
    assert "palliative-surgery" not in topics(*record)


def test_nerve_injury_card_states_when_the_injury_is_dated() -> None:
    rec = card(
        "nerve-injury-referral",
        foot_drop("left", onset=days_ago(20)),
        condition("S84.11XA", onset=days_ago(21)),
    )
    assert rec is not None
    assert rec.facts["injury_when"] == "3 weeks ago"
    assert rec.facts["foot_drop"] == "Left foot drop"


def test_unsided_foot_drop_reads_as_foot_drop() -> None:
    rec = card("orthosis", foot_drop(None))
    assert rec is not None and rec.facts["foot_drop"] == "Foot drop"


def test_premature_palliative_surgery_is_per_side() -> None:
    """A right tendon transfer: the right foot drop's episode decides, not the left's."""
    old_right = foot_drop("right", onset="2024-01-01")
    new_left = foot_drop("left", onset=days_ago(90))
    right = service_draft(text="Posterior tibial tendon transfer, right")
    left = service_draft(text="Posterior tibial tendon transfer, left")
    unsided = service_draft(text="Posterior tibial tendon transfer")
    premature = "premature-palliative-surgery"
    assert premature not in order_topics(select(old_right, new_left, order=right))
    assert premature in order_topics(select(old_right, new_left, order=left))
    assert premature in order_topics(select(old_right, new_left, order=unsided))
