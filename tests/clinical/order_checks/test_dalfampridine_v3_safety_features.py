"""The v3 safety features behind dalfampridine-contraindicated (clinical-logic v3 §2, §4).

Seizure history as real charts record it, dialysis or ESRD, every renal estimate, the
adjusted-weight Cockcroft-Gault with a standard height code, and the label jurisdiction:
each must reach the order check as a contraindication.
"""

from __future__ import annotations

from typing import Any

import pytest

from service.clinical.thresholds import ClinicalThresholds
from tests.support.clinical import (
    CPT,
    ICD,
    SCT,
    condition,
    crcl,
    creatinine,
    days_ago,
    medication_statement,
    observation,
    procedure,
    weight,
)
from tests.support.drafts import card, dalfampridine, select, topics

CONTRA = "dalfampridine-contraindicated"
RENAL = "renal-function-needed"
EU = ClinicalThresholds(label_jurisdiction="EU")
FEBRILE_ONLY = "seizure_febrile_neonatal_only"


def test_history_of_single_seizure_as_synthea_records_it_contraindicates() -> None:
    history = condition("703151001", SCT, onset="2011-04-02", status="active")
    rec = card(select(history, crcl(95), order=dalfampridine()), CONTRA)
    assert rec.indicator == "critical"
    assert "seizure history" in rec.facts["contraindication"]
    assert FEBRILE_ONLY not in rec.flags


@pytest.mark.parametrize(
    ("code", "system"), [("R56.00", ICD), ("41497008", SCT), ("P90", ICD), ("87476004", SCT)]
)
def test_febrile_or_neonatal_seizure_contraindicates_and_flags_the_override(
    code: str, system: str
) -> None:
    rec = card(
        select(
            condition(code, system, onset="1969-05-01", status="resolved"),
            crcl(95),
            order=dalfampridine(),
        ),
        CONTRA,
    )
    assert FEBRILE_ONLY in rec.flags
    assert "1969-05-01" in rec.facts["contraindication"]  # the code's record and its date


def test_febrile_seizure_and_epilepsy_do_not_flag_the_override() -> None:
    recs = select(
        condition("R56.00", onset="1969-05-01"),
        condition("84757009", SCT),
        crcl(95),
        order=dalfampridine(),
    )
    assert FEBRILE_ONLY not in card(recs, CONTRA).flags


def test_febrile_seizure_with_another_contraindication_does_not_flag_the_override() -> None:
    recs = select(condition("R56.00", onset="1969-05-01"), crcl(40), order=dalfampridine())
    assert FEBRILE_ONLY not in card(recs, CONTRA).flags


def test_a_seizure_named_only_in_text_contraindicates() -> None:
    rec = card(
        select(
            condition(None, text="seizure disorder, none since 2010"),
            crcl(95),
            order=dalfampridine(),
        ),
        CONTRA,
    )
    assert "finding_from_text" in rec.notes


@pytest.mark.parametrize(
    "dialysis",
    [
        condition("N18.6", onset="2019-01-01"),
        procedure("90935", CPT, performed=days_ago(7)),
        observation("8344-4", value=70, unit="kg", when=days_ago(3)),
    ],
)
def test_dialysis_is_a_definite_contraindication_not_probable(dialysis: dict[str, Any]) -> None:
    rec = card(select(dialysis, creatinine(0.7), weight(80), order=dalfampridine()), CONTRA)
    assert "probable_contraindication" not in rec.flags
    assert rec.facts["contraindication"].startswith("dialysis or end-stage renal disease: ")
    assert dialysis["id"] in {e.resource_id for e in rec.evidence}


def test_measured_crcl_44_then_a_routine_creatinine_is_still_contraindicated() -> None:
    recs = select(crcl(44, days=40), creatinine(0.8, days=2), weight(70), order=dalfampridine())
    rec = card(recs, CONTRA)
    assert "44.0 mL/min" in rec.facts["contraindication"]
    assert RENAL not in topics(recs)


def test_obese_woman_with_height_8302_2_and_adjusted_crcl_47_is_contraindicated() -> None:
    height = observation("8302-2", value=160, unit="cm", when=days_ago(200))
    rec = card(select(creatinine(1.48), weight(110), height, order=dalfampridine()), CONTRA)
    assert "adjusted body weight" in rec.facts["contraindication"]
    assert "46.9 mL/min" in rec.facts["contraindication"]


def test_eu_label_crcl_70_contraindicates_us_label_does_not() -> None:
    assert CONTRA not in topics(select(crcl(70), order=dalfampridine()))
    rec = card(select(crcl(70), order=dalfampridine(), thresholds=EU), CONTRA)
    assert "below 80 mL/min (EU label)" in rec.facts["contraindication"]


def test_eu_label_a_concurrent_oct2_inhibitor_contraindicates() -> None:
    cimetidine = medication_statement("Cimetidine 400 mg tablet")
    assert topics(select(cimetidine, crcl(95), order=dalfampridine())) == []
    rec = card(select(cimetidine, crcl(95), order=dalfampridine(), thresholds=EU), CONTRA)
    assert "OCT2 inhibitor" in rec.facts["contraindication"]
    assert cimetidine["id"] in {e.resource_id for e in rec.evidence}
