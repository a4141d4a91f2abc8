"""ms-dalfampridine (clinical-logic §3; safety-review A7, A8)."""

from __future__ import annotations

from typing import Any

import pytest

from service.clinical.thresholds import ClinicalThresholds
from tests.support.clinical import (
    CPT,
    SCT,
    allergy,
    card,
    condition,
    crcl,
    creatinine,
    days_ago,
    egfr,
    foot_drop,
    height,
    medication_request,
    medication_statement,
    observation,
    patient,
    procedure,
    suggestion_ids,
    weight,
)

T = "ms-dalfampridine"
MS = condition("G35.A", onset="2012-01-01")
FD = foot_drop(onset=days_ago(200))


def ms_card(*resources: dict[str, Any]) -> Any:
    return card(T, FD, MS, *resources)


def test_known_crcl_above_80_suggests_dalfampridine() -> None:
    rec = ms_card(crcl(95))
    assert rec is not None and rec.indicator == "info"
    assert suggestion_ids(rec) == ["dalfampridine-er-10mg"]
    assert rec.flags >= {"crcl_known"} and "crcl_51_80" not in rec.flags
    assert rec.facts["crcl"].startswith("95.0 mL/min")


def test_crcl_51_to_80_adds_the_label_caution() -> None:
    rec = ms_card(patient(gender="male"), creatinine(1.2), weight(80))  # 78x80/86.4 = 72.2
    assert rec is not None
    assert {"crcl_known", "crcl_51_80"} <= rec.flags
    assert suggestion_ids(rec) == ["dalfampridine-er-10mg"]
    assert "Cockcroft-Gault" in rec.facts["crcl"]


def test_borderline_crcl_asks_for_a_measured_value_before_the_drug() -> None:
    rec = ms_card(creatinine(1.1), weight(70))  # 58.6 mL/min, female
    assert rec is not None
    assert {"crcl_known", "crcl_borderline", "crcl_51_80"} <= rec.flags
    assert suggestion_ids(rec) == []


@pytest.mark.parametrize(
    "renal",
    [
        [crcl(50)],
        [crcl(35)],
        [egfr(45)],
        [condition("N18.32", onset="2024-01-01")],
        [condition("Z99.2")],
    ],
)
def test_no_card_when_crcl_is_50_or_less_or_probably_so(renal: list[dict[str, Any]]) -> None:
    """'When contraindicated: no card (the order-select check carries the safety message).'"""
    assert ms_card(*renal) is None


def test_unknown_crcl_suggests_creatinine_and_weight_and_names_what_is_missing() -> None:
    rec = ms_card()
    assert rec is not None
    assert "crcl_unknown" in rec.flags
    assert suggestion_ids(rec) == ["serum-creatinine", "body-weight"]
    assert rec.facts["missing_inputs"] == (
        "body weight (last 12 months), serum creatinine (last 12 months)"
    )
    assert "weight_missing" in rec.notes


def test_egfr_above_50_is_still_crcl_unknown() -> None:
    rec = ms_card(egfr(80), weight(70))
    assert rec is not None
    assert "crcl_unknown" in rec.flags
    assert suggestion_ids(rec) == ["serum-creatinine"]
    assert "egfr_in_place_of_crcl" in rec.notes


def test_unreliable_creatinine_asks_for_a_new_one() -> None:
    rec = ms_card(creatinine(0.8, days=5), creatinine(1.3, days=1), weight(70))
    assert rec is not None
    assert "crcl_unknown" in rec.flags and "crcl_unreliable" in rec.notes
    assert suggestion_ids(rec) == ["serum-creatinine"]


def test_unknown_sex_and_adjusted_weight_notes_reach_the_card() -> None:
    rec = ms_card(patient(gender="other"), creatinine(0.7), weight(110), height(165))
    assert rec is not None
    assert {"sex_unknown_female_factor", "adjusted_body_weight_used"} <= set(rec.notes)


@pytest.mark.parametrize(
    "extra",
    [
        condition("G40.909", status="resolved", onset="1990-01-01"),  # any seizure history
        condition("R56.9", status="inactive"),
        allergy(text="dalfampridine"),
        medication_request("897021"),  # already on it
        medication_request("897021", status="stopped"),  # past course
        medication_statement("compounded 4-aminopyridine"),  # other 4-AP
    ],
)
def test_no_card_with_a_contraindication_or_a_course(extra: dict[str, Any]) -> None:
    assert ms_card(crcl(95), extra) is None


def test_amifampridine_is_not_4_aminopyridine() -> None:
    assert ms_card(crcl(95), medication_statement("amifampridine 10 mg")) is not None


@pytest.mark.parametrize(
    "verify",
    [
        condition("F44.5"),  # Conversion disorder with seizures or convulsions
        condition("191714002", SCT),  # Dissociative convulsions
        condition("438113009", SCT),  # Convulsive syncope
        condition(None, text="seizure precautions"),  # a hypothetical, read from text
        condition(None, text="psychogenic non-epileptic seizures"),
    ],
)
def test_a_verify_seizure_record_asks_for_verification_and_suggests_no_drug(
    verify: dict[str, Any],
) -> None:
    """v3 §4: ms-dalfampridine makes no MedicationRequest suggestion and asks for
    verification first."""
    rec = ms_card(crcl(95), verify)
    assert rec is not None
    assert "seizure_verify" in rec.notes and "seizure_verify" in rec.flags
    assert suggestion_ids(rec) == []
    assert verify["id"] in {e.resource_id for e in rec.evidence}


def test_a_verify_record_with_unknown_crcl_still_asks_for_creatinine() -> None:
    rec = ms_card(weight(70), condition("F44.5"))
    assert rec is not None
    assert {"seizure_verify", "crcl_unknown"} <= rec.flags
    assert suggestion_ids(rec) == ["serum-creatinine"]


@pytest.mark.parametrize(
    "seizure",
    [
        condition("703151001", SCT, onset="2009-01-01"),  # History of single seizure (Synthea)
        condition("230456007", SCT, status="resolved"),  # Status epilepticus
        condition("R56.00", status="resolved", onset="1968-01-01"),  # febrile convulsions
        condition("P90", status="resolved"),  # Convulsions of newborn
        condition(None, text="no seizures since 2010"),  # a history, read from text
    ],
)
def test_no_card_with_a_v3_seizure_history(seizure: dict[str, Any]) -> None:
    assert ms_card(crcl(95), seizure) is None


@pytest.mark.parametrize(
    "dialysis",
    [
        condition("N18.6", onset="2020-01-01"),  # End stage renal disease
        condition("Z99.2", onset="2020-01-01"),  # Dependence on renal dialysis
        procedure("90935", CPT, performed=days_ago(10)),  # Hemodialysis
        observation("8347-7", value=72, unit="kg", when=days_ago(3)),  # weight pre dialysis
    ],
)
def test_no_card_on_dialysis_whatever_the_creatinine_says(dialysis: dict[str, Any]) -> None:
    assert ms_card(creatinine(0.6), weight(80), dialysis) is None


def test_no_card_for_the_obese_woman_with_an_adjusted_weight_crcl_of_47() -> None:
    body_height = observation("8302-2", value=160, unit="cm", when=days_ago(300))
    assert ms_card(creatinine(1.48), weight(110), body_height) is None
    assert ms_card(creatinine(1.48), weight(110)) is not None  # 68 mL/min without a height


EU = ClinicalThresholds(label_jurisdiction="EU")


def test_eu_label_no_card_with_crcl_70_or_an_oct2_inhibitor() -> None:
    assert card(T, FD, MS, crcl(70), thresholds=EU) is None
    assert (
        card(T, FD, MS, crcl(95), medication_statement("cimetidine 400 mg"), thresholds=EU) is None
    )
    rec = card(T, FD, MS, crcl(95), thresholds=EU)
    assert rec is not None and "label_eu" in rec.flags
    assert suggestion_ids(rec) == ["dalfampridine-er-10mg"]
    assert "crcl_51_80" not in rec.flags


def test_us_label_an_oct2_inhibitor_is_a_caution_not_a_contraindication() -> None:
    rec = ms_card(crcl(95), medication_statement("Cimetidine 400 mg"))
    assert rec is not None
    assert "oct2_inhibitor" in rec.flags
    assert suggestion_ids(rec) == ["dalfampridine-er-10mg"]


def test_not_without_multiple_sclerosis_or_foot_drop() -> None:
    assert card(T, FD, crcl(95)) is None
    assert card(T, MS, crcl(95)) is None


def test_evidence_shows_ms_and_the_renal_data() -> None:
    rec = ms_card(creatinine(0.7, days=3), weight(70))
    assert rec is not None
    assert [e.resource_type for e in rec.evidence] == [
        "Condition",
        "Condition",
        "Observation",
        "Observation",
        "Patient",
    ]
