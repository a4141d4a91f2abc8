"""Creatinine clearance for dalfampridine (clinical-logic §2 Renal function, safety-review A8).

Default patient: a woman of 62 (born 1964-03-01, request 2026-06-15).
Cockcroft-Gault: (140 - age) x weight / (72 x creatinine mg/dL), x 0.85 for women.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.support.clinical import (
    LOINC,
    condition,
    crcl,
    creatinine,
    days_ago,
    egfr,
    features_of,
    foot_drop,
    height,
    observation,
    patient,
    weight,
)

FEMALE_70KG_CR_1_1 = Decimal(78 * 70) * Decimal("0.85") / (72 * Decimal("1.1"))  # 58.598…


def renal(*resources: dict[str, Any]) -> Any:
    return features_of(foot_drop(), *resources).renal


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        # mg/dL and kg
        ([creatinine(1.1), weight(70)], FEMALE_70KG_CR_1_1),
        # µmol/L (UCUM and free-text spellings): 97.24 µmol/L = 1.1 mg/dL
        ([creatinine(97.24, "umol/L"), weight(70)], FEMALE_70KG_CR_1_1),
        ([creatinine(97.24, "µmol/L", ucum=False), weight(70)], FEMALE_70KG_CR_1_1),
        # pounds: 154.3236 lb = 70.000 kg
        ([creatinine(1.1), weight(154.3236, "[lb_av]")], FEMALE_70KG_CR_1_1),
        ([creatinine(1.1), weight(154.3236, "lbs", ucum=False)], FEMALE_70KG_CR_1_1),
        # male: no factor
        (
            [patient(gender="male"), creatinine(1.1), weight(70)],
            Decimal(78 * 70) / (72 * Decimal("1.1")),
        ),
    ],
)
def test_cockcroft_gault(resources: list[dict[str, Any]], expected: Decimal) -> None:
    result = renal(*resources)
    assert result.status == "known"
    assert result.method == "cockcroft_gault"
    assert result.value is not None
    assert abs(result.value - expected) < Decimal("0.05")
    assert result.notes == ()
    assert "Cockcroft-Gault" in result.computation
    # creatinine, weight, and the Patient (age and sex are inputs too)
    assert [e.resource_type for e in result.evidence] == ["Observation", "Observation", "Patient"]


def test_unknown_sex_uses_the_female_factor_and_says_so() -> None:
    result = renal(patient(gender="unknown"), creatinine(1.1), weight(70))
    assert abs(result.value - FEMALE_70KG_CR_1_1) < Decimal("0.05")
    assert result.notes == ("sex_unknown_female_factor",)


def test_bmi_30_or_more_also_uses_adjusted_body_weight_and_the_lower_result() -> None:
    # 100 kg, 160 cm: BMI 39.1; IBW (female) 45.5 + 2.3 x (62.99 - 60) = 52.38 kg;
    # adjusted 52.38 + 0.4 x 47.62 = 71.43 kg; CrCl 78 x 71.43 x 0.85 / 72 = 65.8
    result = renal(creatinine(1.0), weight(100), height(160))
    assert result.status == "known"
    assert abs(result.value - Decimal("65.77")) < Decimal("0.05")
    assert "adjusted_body_weight_used" in result.notes
    assert "adjusted body weight" in result.computation


def test_bmi_under_30_uses_actual_weight_only() -> None:
    result = renal(creatinine(1.1), weight(70), height(170))
    assert result.notes == ()
    assert abs(result.value - FEMALE_70KG_CR_1_1) < Decimal("0.05")


@pytest.mark.parametrize(
    "series",
    [
        [creatinine(1.0, days=5), creatinine(1.3, days=1)],  # +0.3 mg/dL
        [creatinine(0.4, days=6), creatinine(0.6, days=1)],  # x1.5
        [creatinine(88.4, "umol/L", days=3), creatinine(1.5, days=1)],  # mixed units
    ],
)
def test_a_rising_creatinine_is_unreliable(series: list[dict[str, Any]]) -> None:
    result = renal(*series, weight(70))
    assert result.status == "unreliable"
    assert "crcl_unreliable" in result.notes
    assert result.value is None


def test_a_rise_more_than_7_days_apart_is_not_instability() -> None:
    result = renal(creatinine(1.0, days=20), creatinine(1.4, days=1), weight(70))
    assert result.status == "known"


def test_recent_acute_kidney_injury_makes_creatinine_unreliable() -> None:
    result = renal(creatinine(1.1), weight(70), condition("N17.9", onset=days_ago(20)))
    assert result.status == "unreliable"


def test_creatinine_clearance_observation_comes_first() -> None:
    result = renal(crcl(72), creatinine(3.0), weight(70))
    assert result.status == "known"
    assert result.method == "crcl_observation"
    assert result.value == Decimal(72)


@pytest.mark.parametrize(
    ("value", "contraindicated", "borderline", "mild"),
    [
        (50, True, False, False),  # "CrCl <= 50" on the unrounded value
        (50.04, False, True, True),
        (60, False, True, True),
        (61, False, False, True),
        (80, False, False, True),
        (81, False, False, False),
    ],
)
def test_bands_on_the_unrounded_value(
    value: float, contraindicated: bool, borderline: bool, mild: bool
) -> None:
    result = renal(crcl(value))
    assert (result.contraindicated, result.borderline, result.mild) == (
        contraindicated,
        borderline,
        mild,
    )


def test_egfr_at_or_below_50_without_crcl_is_a_probable_contraindication() -> None:
    result = renal(egfr(45))
    assert result.status == "probable_impaired"
    assert result.method == "egfr"
    assert result.contraindicated
    assert result.notes == ("weight_missing", "egfr_in_place_of_crcl")


def test_egfr_above_50_without_crcl_leaves_crcl_unknown() -> None:
    result = renal(egfr(75))
    assert result.status == "unknown"
    assert not result.contraindicated
    assert "egfr_in_place_of_crcl" in result.notes
    assert "serum creatinine (last 12 months)" in result.missing_inputs


@pytest.mark.parametrize("code", ["N18.32", "N18.4", "Z99.2"])
def test_ckd_3b_to_5_or_dialysis_without_crcl_is_probable(code: str) -> None:
    result = renal(condition(code, onset="2024-01-01"))
    assert result.status == "probable_impaired"
    assert result.method == "ckd_stage"
    assert result.contraindicated


def test_ckd_3a_changes_nothing() -> None:
    assert renal(condition("N18.31", onset="2024-01-01")).status == "unknown"


def test_missing_weight_is_named() -> None:
    result = renal(creatinine(1.1))
    assert result.status == "unknown"
    assert "weight_missing" in result.notes
    assert result.missing_inputs == ("body weight (last 12 months)",)


def test_measurements_older_than_12_months_do_not_count() -> None:
    result = renal(creatinine(1.1, days=400), weight(70, days=400))
    assert result.status == "unknown"
    assert set(result.missing_inputs) == {
        "body weight (last 12 months)",
        "serum creatinine (last 12 months)",
    }


def test_unknown_units_are_not_guessed() -> None:
    odd = observation("2160-0", LOINC, value=1.1, unit="units", when=days_ago(2))
    assert renal(odd, weight(70)).status == "unknown"


def test_no_data_at_all_is_unknown_never_safe() -> None:
    result = renal()
    assert result.status == "unknown"
    assert not result.contraindicated
    assert result.value is None
