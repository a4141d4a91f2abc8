"""Defects found in the clinical safety review of feature extraction (clinical-logic v2 §2).

Each test quotes the sentence of the specification it holds the service to.
"""

from __future__ import annotations

import pytest

from service.rules import RED_FLAG
from tests.clinical_factories import (
    card,
    condition,
    creatinine,
    days_ago,
    features_of,
    foot_drop,
    weight,
)


class TestImpossibleRenalInputs:
    """§2 Renal function: "Cockcroft-Gault from the latest serum creatinine ..., actual body
    weight ..." — §1: "never treat missing data as safe"; new red flags must never be missed.

    A creatinine of 0 (a placeholder or a unit slip) divided by zero and failed the whole
    request, so a red flag in the same record was never shown. A non-positive creatinine or
    weight is not a usable measurement: creatinine clearance is then unknown.
    """

    @pytest.mark.parametrize(
        "resources",
        [
            (creatinine(0), weight(70)),
            (creatinine(-1.0), weight(70)),
            (creatinine(1.0), weight(0)),
            (creatinine(1.0), weight(-70)),
        ],
        ids=["creatinine 0", "creatinine negative", "weight 0", "weight negative"],
    )
    def test_non_positive_input_is_not_used(self, resources: tuple[dict[str, object], ...]) -> None:
        renal = features_of(foot_drop(), condition("G35"), *resources).renal
        assert renal.status == "unknown"
        assert renal.value is None

    def test_red_flag_still_shown_with_a_zero_creatinine(self) -> None:
        rec = card(
            RED_FLAG,
            foot_drop(),
            condition("R33.9", onset=days_ago(3)),
            condition("G35"),
            creatinine(0),
            weight(70),
        )
        assert rec is not None and rec.indicator == "critical"
