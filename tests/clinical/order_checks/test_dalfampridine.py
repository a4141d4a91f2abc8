"""Dalfampridine order checks (clinical-logic §4; safety-review A7, A8), foot drop or not."""

from __future__ import annotations

from tests.support.clinical import (
    ICD,
    SCT,
    allergy,
    condition,
    crcl,
    creatinine,
    egfr,
    foot_drop,
    medication_request,
    medication_statement,
    patient_data,
    weight,
)
from tests.support.drafts import card, dalfampridine, ref, reviews, select, topics

CONTRA = "dalfampridine-contraindicated"
DOSE = "dalfampridine-dose"
RENAL = "renal-function-needed"
GOOD_RENAL = crcl(85)
EIGHT = "08:00:00"


def test_labelled_order_with_known_good_crcl_gets_no_card() -> None:
    assert select(GOOD_RENAL, order=dalfampridine()) == []


def test_checks_fire_without_foot_drop_and_with_it() -> None:
    epilepsy = condition("84757009", SCT)
    assert topics(select(epilepsy, GOOD_RENAL, order=dalfampridine())) == [CONTRA]
    assert topics(select(epilepsy, GOOD_RENAL, foot_drop(), order=dalfampridine())) == [CONTRA]


def test_seizure_history_is_critical_and_proposes_deleting_the_draft() -> None:
    draft = dalfampridine()
    rec = card(select(condition("84757009", SCT, rid="epi-1"), GOOD_RENAL, order=draft), CONTRA)
    assert rec.indicator == "critical"
    assert rec.about_order == ref(draft)
    assert [(s.suggestion_id, s.target) for s in rec.suggestions] == [
        ("remove-dalfampridine", ref(draft))
    ]
    assert "seizure history" in rec.facts["contraindication"]
    assert "Condition/epi-1" in rec.facts["contraindication"]
    assert "probable_contraindication" not in rec.flags


def test_resolved_seizure_disorder_still_contraindicates() -> None:
    resolved = condition("G40.909", ICD, status="resolved")
    assert CONTRA in topics(select(resolved, GOOD_RENAL, order=dalfampridine()))


def test_allergy_to_dalfampridine_or_4ap_contraindicates() -> None:
    for entry in (allergy(text="dalfampridine"), allergy(text="4-aminopyridine")):
        rec = card(select(entry, GOOD_RENAL, order=dalfampridine()), CONTRA)
        assert "allergy" in rec.facts["contraindication"]


def test_another_active_4ap_product_contraindicates() -> None:
    compounded = medication_statement("4-aminopyridine 10 mg compounded capsule")
    rec = card(select(compounded, GOOD_RENAL, order=dalfampridine()), CONTRA)
    assert "another 4-aminopyridine product" in rec.facts["contraindication"]


def test_stopped_4ap_product_and_same_product_renewal_do_not_contraindicate() -> None:
    stopped = medication_statement("4-aminopyridine 10 mg compounded capsule", status="stopped")
    active_dalfampridine = medication_request("897021", "dalfampridine 10 MG ER")
    recs = select(stopped, active_dalfampridine, GOOD_RENAL, order=dalfampridine())
    assert CONTRA not in topics(recs)


def test_a_4ap_draft_is_checked_and_conflicts_with_active_dalfampridine() -> None:
    active_dalfampridine = medication_request("897021", "dalfampridine 10 MG ER")
    compounded = dalfampridine(text="4-aminopyridine 10 mg immediate-release capsule", coded=False)
    recs = select(active_dalfampridine, GOOD_RENAL, order=compounded)
    contraindicated = card(recs, CONTRA)
    assert "another 4-aminopyridine product" in contraindicated.facts["contraindication"]
    assert "immediate-release" in contraindicated.facts["dose_problem"]
    assert topics(recs) == [CONTRA]


def test_the_draft_is_never_its_own_other_4ap_product() -> None:
    compounded = dalfampridine(text="4-aminopyridine 10 mg extended-release", coded=False)
    assert select(GOOD_RENAL, order=compounded) == []


def test_amifampridine_is_never_dalfampridine() -> None:
    draft = dalfampridine(text="amifampridine 10 mg tablet", coded=False)
    assert select(condition("84757009", SCT), order=draft) == []


def test_crcl_at_or_below_50_contraindicates() -> None:
    for value in (45, 50):
        rec = card(select(crcl(value), order=dalfampridine()), CONTRA)
        assert "creatinine clearance of 50 mL/min or less" in rec.facts["contraindication"]
        assert "probable_contraindication" not in rec.flags


def test_egfr_at_or_below_50_is_a_probable_contraindication_with_missing_inputs() -> None:
    rec = card(select(egfr(45), order=dalfampridine()), CONTRA)
    assert rec.indicator == "critical"
    assert "probable_contraindication" in rec.flags
    assert "probable" in rec.facts["contraindication"]
    assert "creatinine clearance" in rec.facts["missing_inputs"]
    assert "egfr_in_place_of_crcl" in rec.notes


def test_ckd_stage_3b_is_a_probable_contraindication() -> None:
    rec = card(select(condition("N18.32", ICD), order=dalfampridine()), CONTRA)
    assert "probable_contraindication" in rec.flags
    assert rec.facts["missing_inputs"]


def test_unknown_renal_function_asks_for_creatinine_and_weight() -> None:
    rec = card(select(order=dalfampridine()), RENAL)
    assert rec.indicator == "warning"
    assert [s.suggestion_id for s in rec.suggestions] == ["serum-creatinine", "body-weight"]
    assert rec.about_order is not None


def test_egfr_above_50_is_not_crcl_so_renal_function_is_still_needed() -> None:
    rec = card(select(egfr(75), order=dalfampridine()), RENAL)
    assert "egfr_in_place_of_crcl" in rec.notes


def test_creatinine_without_weight_suggests_the_weight_too() -> None:
    rec = card(select(creatinine(0.9), order=dalfampridine()), RENAL)
    assert "body-weight" in [s.suggestion_id for s in rec.suggestions]


def test_cockcroft_gault_above_60_needs_no_renal_card() -> None:
    assert select(creatinine(0.8), weight(70), order=dalfampridine()) == []


def test_unstable_creatinine_is_unreliable_and_asks_again() -> None:
    rising = (creatinine(0.8, days=5), creatinine(1.4, days=1), weight(70))
    rec = card(select(*rising, order=dalfampridine()), RENAL)
    assert "crcl_unreliable" in rec.notes


def test_borderline_crcl_is_shown_with_its_value() -> None:
    rec = card(select(crcl(55), order=dalfampridine()), RENAL)
    assert "crcl_borderline" in rec.flags
    assert rec.facts["crcl"].startswith("55.0 mL/min")
    assert rec.suggestions == ()


def test_no_renal_card_when_contraindicated() -> None:
    recs = select(condition("84757009", SCT), order=dalfampridine())
    assert topics(recs) == [CONTRA]


def test_conversion_seizures_alone_mean_verify_not_contraindicated() -> None:
    recs = select(condition("F44.5", ICD), order=dalfampridine())
    assert CONTRA not in topics(recs)
    assert "seizure_verify" in card(recs, RENAL).notes


# ── dose ─────────────────────────────────────────────────────────────────────────


def test_15_mg_per_dose_is_a_dose_warning_updating_the_draft() -> None:
    draft = dalfampridine(dose=15)
    rec = card(select(GOOD_RENAL, order=draft), DOSE)
    assert rec.indicator == "warning"
    assert (
        "15 mg every 12 hours exceeds the label maximum of 10 mg every 12 hours"
        in (rec.facts["dose_problem"])
    )
    assert "30 mg a day" in rec.facts["dose_problem"]
    assert [(s.suggestion_id, s.target) for s in rec.suggestions] == [
        ("dalfampridine-correct-dose", ref(draft))
    ]
    assert rec.about_order == ref(draft)


def test_10_mg_three_times_a_day_is_too_much_and_not_every_12_hours() -> None:
    draft = dalfampridine(frequency=3, period=1, period_unit="d")
    problem = card(select(GOOD_RENAL, order=draft), DOSE).facts["dose_problem"]
    assert "30 mg a day" in problem
    assert "not every 12 hours" in problem


def test_tid_timing_code_is_read_when_there_is_no_repeat() -> None:
    draft = dalfampridine(frequency=None, period=None, timing_code="TID")
    assert "not every 12 hours" in card(select(GOOD_RENAL, order=draft), DOSE).facts["dose_problem"]


def test_bid_timing_code_and_two_times_12_hours_apart_are_fine() -> None:
    bid = dalfampridine(frequency=None, period=None, timing_code="BID")
    assert select(GOOD_RENAL, order=bid) == []
    times = dalfampridine(frequency=2, period=1, period_unit="d", time_of_day=[EIGHT, "20:00:00"])
    assert select(GOOD_RENAL, order=times) == []


def test_two_doses_four_hours_apart_are_not_every_12_hours() -> None:
    draft = dalfampridine(frequency=2, period=1, period_unit="d", time_of_day=[EIGHT, "12:00:00"])
    problem = card(select(GOOD_RENAL, order=draft), DOSE).facts["dose_problem"]
    assert "not 12 hours apart" in problem


def test_immediate_release_tablet_is_a_dose_warning() -> None:
    draft = dalfampridine(text="dalfampridine 10 mg immediate-release tablet", coded=False)
    problem = card(select(GOOD_RENAL, order=draft), DOSE).facts["dose_problem"]
    assert "immediate-release" in problem


def test_unknown_form_and_missing_dose_are_unknown_and_give_no_false_dose_card() -> None:
    """v3 §4: a dose that cannot be read gets no dose card, never a false one."""
    draft = dalfampridine(text="dalfampridine", coded=False, dosage=False)
    (order,) = reviews(patient_data(GOOD_RENAL, drafts=(draft,)), None)
    assert order.order.dose is not None
    assert "no dosage instructions" in order.order.dose.unknown
    assert "the form is not stated as extended-release" in order.order.dose.unknown
    assert DOSE not in topics(select(GOOD_RENAL, order=draft))


def test_free_text_sig_only_is_unknown_dose_and_no_card() -> None:
    draft = dalfampridine(dose=None, frequency=None, period=None, sig="10 mg twice daily")
    assert DOSE not in topics(select(GOOD_RENAL, order=draft))


def test_unknowns_are_named_beside_a_real_departure() -> None:
    draft = dalfampridine(dose=20, unit="mg", frequency=None, period=None, sig="as directed")
    draft["medicationCodeableConcept"] = {"text": "dalfampridine 10 mg immediate-release"}
    problem = card(select(GOOD_RENAL, order=draft), DOSE).facts["dose_problem"]
    assert "immediate-release" in problem and "frequency is not stated" in problem


def test_one_tablet_of_the_10_mg_product_is_10_mg() -> None:
    assert select(GOOD_RENAL, order=dalfampridine(dose=1, unit="tablet")) == []


def test_one_message_per_draft_the_contraindication_carries_the_dose_and_the_tests() -> None:
    """v3 §4: no separate dose or renal card; the dose error and the tests to measure are
    on the contraindication card, beside the delete, selection any."""
    draft = dalfampridine(dose=20)
    recs = select(egfr(42), order=draft)
    assert topics(recs) == [CONTRA]
    rec = recs[0]
    assert rec.facts["dose_problem"].startswith(
        "20 mg every 12 hours exceeds the label maximum of 10 mg every 12 hours"
    )
    assert {"dose_outside_label", "probable_contraindication"} <= rec.flags
    assert rec.facts["reason"] == "eGFR 42 mL/min/1.73 m², no CrCl on record"
    assert [s.suggestion_id for s in rec.suggestions] == [
        "remove-dalfampridine",
        "serum-creatinine",
        "body-weight",
        "measured-crcl",
    ]


def test_a_definite_contraindication_offers_only_the_delete() -> None:
    recs = select(condition("84757009", SCT), crcl(85), order=dalfampridine(dose=20))
    rec = card(recs, CONTRA)
    assert topics(recs) == [CONTRA]
    assert rec.facts["reason"] == "seizure history recorded"
    assert [s.suggestion_id for s in rec.suggestions] == ["remove-dalfampridine"]
