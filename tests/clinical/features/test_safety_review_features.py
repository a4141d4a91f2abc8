"""Defects found in the clinical safety review of feature extraction (clinical-logic v2 §2).

Each test quotes the sentence of the specification it holds the service to.
"""

from __future__ import annotations

import pytest

from service.clinical.patient_view import RED_FLAG
from tests.support.clinical import (
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


class TestImpossibleOnsetAge:
    """§1 Time: onset from "onsetAge with the birth date". An onsetAge far beyond a lifetime
    (a data error) overflowed the date arithmetic and failed the request, hiding a red flag
    recorded beside it. It is now ignored like a missing onset (recordedDate, else unknown)."""

    @pytest.mark.parametrize("age", [(99999, "mo"), (1e7, "wk"), (1e9, "d")])
    def test_red_flag_survives_an_impossible_onset_age(self, age: tuple[float, str]) -> None:
        rec = card(RED_FLAG, foot_drop(onset_age=age), condition("R33.9", onset=days_ago(3)))
        assert rec is not None and rec.indicator == "critical"

    def test_impossible_onset_age_falls_back_to_recorded_date(self) -> None:
        fd = features_of(foot_drop(onset_age=(99999, "mo"), recorded=days_ago(5))).foot_drop
        assert fd is not None
        assert fd.onset.source == "recorded_date"
