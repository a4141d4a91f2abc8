"""Defects found in the clinical safety review of the patient-view rules (clinical-logic v2 §1–§3).

Each test quotes the sentence of the specification it holds the service to.
"""

from __future__ import annotations

from typing import Any

from service.rules import RED_FLAG
from tests.clinical_factories import (
    FOOT_DROP,
    card,
    condition,
    days_ago,
    foot_drop,
)


def red(*resources: dict[str, Any], **kw: Any) -> Any:
    return card(RED_FLAG, *resources, **kw)


class TestNewBilateralWithOneSideUndated:
    """§3 red flag: "new bilateral foot drop (< 6 weeks)"; §1: "new red flags ... must never
    be missed".

    When one side began 10 days ago (a true onset) and the other side carries no date, the
    foot drop became bilateral no earlier than 10 days ago: it is new.
    """

    def test_second_side_undated_still_raises_the_red_flag(self) -> None:
        rec = red(
            foot_drop("right", onset=days_ago(10)),
            condition(FOOT_DROP["left"], onset=None),
        )
        assert rec is not None
        assert rec.indicator == "critical"

    def test_dated_side_by_recorded_date_only_is_a_warning(self) -> None:
        """ "An onset taken from recordedDate alone never makes a red flag critical on its own." """
        rec = red(
            foot_drop("right", recorded=days_ago(10)),
            condition(FOOT_DROP["left"], onset=None),
        )
        assert rec is not None
        assert rec.indicator == "warning"

    def test_old_dated_side_with_undated_side_is_not_new(self) -> None:
        assert (
            red(foot_drop("right", onset="2024-01-01"), condition(FOOT_DROP["left"], onset=None))
            is None
        )

    def test_both_sides_undated_gives_no_red_flag(self) -> None:
        assert (
            red(condition(FOOT_DROP["right"], onset=None), condition(FOOT_DROP["left"], onset=None))
            is None
        )
