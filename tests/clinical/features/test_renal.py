"""Creatinine clearance for dalfampridine (clinical-logic §2 Renal function, safety-review A8).

Default patient: a woman of 62 (born 1964-03-01, request 2026-06-15).
Cockcroft-Gault: (140 - age) x weight / (72 x creatinine mg/dL), x 0.85 for women.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from service.clinical.thresholds import ClinicalThresholds
from tests.support.clinical import (
    CPT,
    HCPCS,
    ICD,
    LOINC,
    SCT,
    condition,
    crcl,
    creatinine,
    days_ago,
    egfr,
    features_of,
    foot_drop,
    height,
    medication_request,
    medication_statement,
    observation,
    patient,
    procedure,
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


def test_a_measured_crcl_is_used_alone_when_no_estimate_is_possible() -> None:
    result = renal(crcl(72))
    assert result.status == "known"
    assert result.method == "crcl_measured"
    assert result.value == Decimal(72)
    assert result.notes == ()  # no weight needed: the clearance is known
    assert result.missing_inputs == ()


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


@pytest.mark.parametrize("code", ["N18.32", "N18.4"])
def test_ckd_3b_to_4_without_crcl_is_probable(code: str) -> None:
    result = renal(condition(code, onset="2024-01-01"))
    assert result.status == "probable_impaired"
    assert result.method == "ckd_stage"
    assert result.contraindicated
    assert result.contraindication.startswith("probable creatinine clearance of 50 mL/min or less")


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


# ── v3 (2): every estimate counts ───────────────────────────────────────────────────


def stored_cockcroft_gault(value: float, days: float = 5) -> dict[str, Any]:
    return observation("35591-7", value=value, unit="mL/min", when=days_ago(days))


def test_every_estimate_counts_and_any_at_50_or_less_contraindicates() -> None:
    # C-G from creatinine 3.0: 78 x 70 x 0.85 / (72 x 3.0) = 21.5; the measured 72 is not used alone
    result = renal(crcl(72), creatinine(3.0), weight(70))
    assert result.status == "known"
    assert result.contraindicated
    assert abs(result.value - Decimal("21.49")) < Decimal("0.05")
    assert [e.method for e in result.estimates] == ["crcl_measured", "cockcroft_gault"]
    assert "measured creatinine clearance 72.0 mL/min" in result.computation
    assert "Cockcroft-Gault" in result.computation


def test_a_routine_creatinine_after_a_measured_crcl_of_44_never_turns_it_into_82() -> None:
    """v3 §2 (2): a measured CrCl is replaced only by a newer measured CrCl."""
    # creatinine 0.80 two days ago: 78 x 70 x 0.85 / (72 x 0.8) = 80.6
    result = renal(crcl(44, days=40), creatinine(0.8, days=2), weight(70))
    assert result.contraindicated
    assert result.value == Decimal(44)
    assert result.method == "crcl_measured"
    values = sorted(round(e.value) for e in result.estimates)
    assert values == [44, 81]
    # each value with its date, and every record behind them
    assert days_ago(40)[:10] in result.computation and days_ago(2)[:10] in result.computation
    assert result.computation.startswith("lowest of: ")
    assert result.contraindication.startswith(
        "creatinine clearance of 50 mL/min or less: 44.0 mL/min"
    )
    assert "creatinine clearance of 50 mL/min or less" in result.contraindication


def test_a_newer_measured_crcl_replaces_an_older_one() -> None:
    result = renal(crcl(44, days=100), crcl(70, days=5))
    assert result.value == Decimal(70)
    assert not result.contraindicated
    assert len(result.estimates) == 1


def test_a_measured_crcl_older_than_12_months_does_not_count() -> None:
    assert renal(crcl(44, days=400)).status == "unknown"


def test_an_unstable_creatinine_around_a_measured_crcl_makes_it_unreliable() -> None:
    result = renal(crcl(90, days=4), creatinine(1.0, days=5), creatinine(1.4, days=2))
    assert result.status == "unreliable"
    assert "crcl_unreliable" in result.notes
    assert not result.estimates


def test_a_rising_creatinine_never_discards_a_contraindicating_measured_crcl() -> None:
    """A rise means worse function, never better: the measured 44 still contraindicates."""
    result = renal(crcl(44, days=4), creatinine(1.0, days=5), creatinine(1.4, days=2))
    assert result.contraindicated
    assert [e.method for e in result.estimates] == ["crcl_measured"]


def test_a_stable_creatinine_leaves_a_measured_crcl_reliable() -> None:
    result = renal(crcl(90, days=30), creatinine(1.0, days=20), creatinine(1.05, days=2))
    assert result.status == "known"
    assert [e.method for e in result.estimates] == ["crcl_measured"]


def test_a_stored_cockcroft_gault_result_is_an_estimate_not_a_measurement() -> None:
    stored = renal(stored_cockcroft_gault(45))
    assert stored.method == "crcl_estimate"
    assert stored.contraindicated
    # a newer stored estimate of 90 does not replace a measured 44: both count
    both = renal(crcl(44, days=60), stored_cockcroft_gault(90, days=3))
    assert both.contraindicated
    assert [e.method for e in both.estimates] == ["crcl_measured", "crcl_estimate"]


def test_a_stored_estimate_and_a_computed_one_both_count() -> None:
    # computed: creatinine 1.1, 70 kg -> 58.6; stored 49 a month ago -> contraindicated
    result = renal(stored_cockcroft_gault(49, days=30), creatinine(1.1), weight(70))
    assert result.contraindicated
    assert result.value == Decimal(49)


# ── adjusted body weight with the standard height codes ─────────────────────────────

#: The review case: a woman of 62, 110 kg, 160 cm (BMI 43.0), creatinine 1.48 mg/dL.
#: Actual weight: 78 x 110 x 0.85 / (72 x 1.48) = 68.4 mL/min (no contraindication).
#: IBW 45.5 + 2.3 x (62.99 - 60) = 52.38 kg; adjusted 52.38 + 0.4 x 57.62 = 75.43 kg;
#: 78 x 75.43 x 0.85 / (72 x 1.48) = 46.9 mL/min: contraindicated.
OBESE_WOMAN_ADJUSTED = Decimal("46.93")


@pytest.mark.parametrize("code", ["8302-2", "8306-3", "3137-7", "8308-9", "8307-1"])
def test_obese_woman_with_a_standard_height_code_gets_the_adjusted_weight_crcl(
    code: str,
) -> None:
    body_height = observation(code, value=160, unit="cm", when=days_ago(700))
    result = renal(creatinine(1.48), weight(110), body_height)
    assert result.status == "known"
    assert abs(result.value - OBESE_WOMAN_ADJUSTED) < Decimal("0.05")
    assert result.contraindicated
    assert "adjusted_body_weight_used" in result.notes
    assert body_height["id"] in {e.resource_id for e in result.evidence}


def test_without_a_height_the_obese_woman_is_not_contraindicated() -> None:
    result = renal(creatinine(1.48), weight(110))
    assert abs(result.value - Decimal("68.4")) < Decimal("0.05")
    assert not result.contraindicated


def test_height_in_inches_and_creatinine_coded_38483_4() -> None:
    """Synthea codes creatinine as 38483-4 (codes-v3.md §9.5)."""
    scr = observation("38483-4", value=1.48, unit="mg/dL", when=days_ago(2))
    inches = observation("8302-2", value=62.99, unit="[in_i]", when=days_ago(30))
    result = renal(scr, weight(110), inches)
    assert abs(result.value - OBESE_WOMAN_ADJUSTED) < Decimal("0.1")


def test_a_recorded_bmi_of_30_or_more_also_counts() -> None:
    # 80 kg, 170 cm: computed BMI 27.7, but a BMI of 31 was recorded (another scale)
    bmi = observation("39156-5", value=31, unit="kg/m2", when=days_ago(10))
    result = renal(creatinine(1.0), weight(80), height(170), bmi)
    assert "adjusted_body_weight_used" in result.notes
    assert bmi["id"] in {e.resource_id for e in result.evidence}


def test_a_self_reported_weight_is_used_and_said() -> None:
    stated = observation("3142-7", value=70, unit="kg", when=days_ago(10))
    result = renal(creatinine(1.1), stated)
    assert result.status == "known"
    assert "weight_self_reported" in result.notes


# ── v3 (1): dialysis or end-stage renal disease ─────────────────────────────────────


@pytest.mark.parametrize(
    ("code", "system"),
    [
        ("N18.6", ICD),  # End stage renal disease
        ("N18.5", ICD),  # Chronic kidney disease, stage 5
        ("Z99.2", ICD),  # Dependence on renal dialysis
        ("Z91.151", ICD),  # Noncompliance with renal dialysis due to financial hardship
        ("46177005", SCT),  # End-stage renal disease
        ("236434000", SCT),
        ("236435004", SCT),
        ("433146000", SCT),  # CKD stage 5
    ],
)
def test_esrd_at_any_date_is_a_definite_contraindication(code: str, system: str) -> None:
    """Whatever a creatinine says: creatinine-based clearance is invalid on dialysis."""
    f = features_of(
        foot_drop(),
        condition(code, system, onset="2015-01-01", status="inactive"),
        creatinine(0.7),
        weight(80),
    )
    assert f.renal.status == "known"
    assert f.renal.method == "dialysis_or_esrd"
    assert f.renal.contraindicated
    assert f.renal.value is None
    assert f.renal.contraindication.startswith("dialysis or end-stage renal disease: ")
    assert [x.feature for x in f.dialysis_or_esrd] == ["dialysis_or_esrd"]
    assert not f.renal.mild and not f.renal.borderline


def test_resolved_esrd_does_not_count() -> None:
    f = features_of(foot_drop(), condition("N18.6", onset="2015-01-01", status="resolved"))
    assert not f.dialysis_or_esrd
    assert f.renal.status == "unknown"


@pytest.mark.parametrize(
    ("resource", "on_dialysis"),
    [
        (procedure("90935", CPT, performed=days_ago(20)), True),  # Hemodialysis procedure
        (procedure("302497006", performed=days_ago(89)), True),  # Hemodialysis (SNOMED)
        (procedure("G0257", HCPCS, performed=days_ago(5)), True),
        (procedure("302497006", performed=days_ago(120)), False),  # older than 90 days
        (condition("Z49.31", onset=days_ago(30)), True),  # adequacy testing for hemodialysis
        (condition("Z49.31", onset=days_ago(200)), False),
        (condition("T82.41XA", onset=days_ago(10)), True),  # dialysis catheter complication
        (observation("8344-4", value=71, unit="kg", when=days_ago(14)), True),  # post dialysis
        (observation("8347-7", value=73, unit="kg", when=days_ago(14)), True),  # pre dialysis
        (observation("8347-7", value=73, unit="kg", when=days_ago(100)), False),
        (observation("8341-0", value=70, unit="kg", when=days_ago(14)), False),  # dry weight
    ],
)
def test_dialysis_care_counts_only_within_90_days(
    resource: dict[str, Any], on_dialysis: bool
) -> None:
    f = features_of(foot_drop(), resource)
    assert bool(f.dialysis_or_esrd) is on_dialysis
    assert (f.renal.method == "dialysis_or_esrd") is on_dialysis


def test_a_dry_weight_is_still_a_weight() -> None:
    dry = observation("8341-0", value=70, unit="kg", when=days_ago(14))
    assert renal(creatinine(1.1), dry).method == "cockcroft_gault"


TRANSPLANT_AFTER_ESRD = [
    condition("N18.6", onset="2018-01-01", status="active"),
    procedure("302497006", performed="2018-06-01"),
    condition("Z94.0", onset="2020-03-01"),
]


def test_a_kidney_transplant_later_than_every_dialysis_entry_sets_it_aside() -> None:
    """Creatinine-based clearance then applies (codes-v3.md §7: Z94.0)."""
    f = features_of(foot_drop(), *TRANSPLANT_AFTER_ESRD, creatinine(1.1), weight(70))
    assert not f.dialysis_or_esrd
    assert f.renal.method == "cockcroft_gault"
    assert not f.renal.contraindicated


@pytest.mark.parametrize(
    "later",
    [
        procedure("302497006", performed=days_ago(200)),  # dialysis after the transplant
        condition("Z99.2", onset="2023-01-01"),  # dependence on dialysis after it
        condition("T86.12", onset="2022-05-01"),  # kidney transplant failure
        condition("T86.11"),  # kidney transplant rejection, undated: cannot be ruled out
        condition("N18.6"),  # an undated ESRD entry: the transplant is not shown later
    ],
)
def test_a_transplant_does_not_set_aside_later_dialysis_or_failure(later: dict[str, Any]) -> None:
    f = features_of(foot_drop(), *TRANSPLANT_AFTER_ESRD, later, creatinine(1.1), weight(70))
    assert f.dialysis_or_esrd
    assert f.renal.method == "dialysis_or_esrd"
    assert f.renal.contraindicated


def test_a_transplant_before_the_esrd_entry_sets_nothing_aside() -> None:
    f = features_of(
        foot_drop(), condition("Z94.0", onset="2010-01-01"), condition("N18.6", onset="2019-01-01")
    )
    assert f.renal.method == "dialysis_or_esrd"


def test_esrd_with_renal_transplant_is_a_transplant_not_esrd() -> None:
    f = features_of(foot_drop(), condition("236436003", SCT, onset="2020-01-01"))
    assert not f.dialysis_or_esrd
    assert f.renal.status == "unknown"


# ── v3 (3): label jurisdiction ──────────────────────────────────────────────────────

EU = ClinicalThresholds(label_jurisdiction="EU")


@pytest.mark.parametrize(
    ("value", "us", "eu"),
    [
        (50, True, True),
        (70, False, True),
        (79.9, False, True),
        (80, False, False),
        (95, False, False),
    ],
)
def test_eu_label_contraindicates_crcl_below_80(value: float, us: bool, eu: bool) -> None:
    assert renal(crcl(value)).contraindicated is us
    result = features_of(foot_drop(), crcl(value), thresholds=EU).renal
    assert result.contraindicated is eu
    assert not result.mild and not result.borderline  # no US caution band under the EU label
    if eu:
        assert result.contraindication.startswith("creatinine clearance below 80 mL/min (EU label)")


def test_eu_label_egfr_or_ckd_3_under_80_is_a_probable_contraindication() -> None:
    assert features_of(foot_drop(), egfr(70), thresholds=EU).renal.status == "probable_impaired"
    assert renal(egfr(70)).status == "unknown"
    ckd_3a = condition("N18.31", onset="2024-01-01")
    assert features_of(foot_drop(), ckd_3a, thresholds=EU).renal.status == "probable_impaired"


@pytest.mark.parametrize(
    ("resource", "current"),
    [
        (medication_statement("Cimetidine 400 mg tablet"), True),
        (medication_request(text="Tagamet 200 mg"), True),
        (medication_statement("cimetidine 400 mg", status="stopped"), False),
        (medication_statement("Famotidine 20 mg"), False),
    ],
)
def test_a_current_oct2_inhibitor_is_read_from_its_name(
    resource: dict[str, Any], current: bool
) -> None:
    assert bool(features_of(foot_drop(), resource).oct2_inhibitor) is current
