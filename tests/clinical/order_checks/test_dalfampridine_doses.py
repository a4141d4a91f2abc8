"""Doses in tablets and twice daily (clinical-logic v3 §4): the labelled order, one 10 mg
ER tablet every 12 hours, never gets a dose card whatever spelling the EHR uses; an
unreadable or absurd dose never gives a false card nor a server error."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.clinical import UCUM, crcl
from tests.support.drafts import card, dalfampridine, select, topics

Json = dict[str, Any]
DOSE = "dalfampridine-dose"
GOOD_RENAL = crcl(85)
FORM = "http://terminology.hl7.org/CodeSystem/v3-orderableDrugForm"


def _with_quantity(draft: Json, quantity: Json) -> Json:
    draft["dosageInstruction"][0]["doseAndRate"] = [{"doseQuantity": quantity}]
    return draft


@pytest.mark.parametrize(
    "quantity",
    [
        {"value": 1, "unit": "{pill}"},
        {"value": 1, "unit": "pill"},
        {"value": 1, "system": UCUM, "code": "{tbl}"},
        {"value": 1, "system": UCUM, "code": "{tablet}"},
        {"value": 1, "system": UCUM, "code": "{tab}"},
        {"value": 1, "unit": "tablet", "system": UCUM, "code": "1"},
        {"value": 1, "unit": "tablet", "system": FORM, "code": "TAB"},
        {"value": 1, "unit": "Tablet"},
        {"value": 10, "unit": "mg", "system": UCUM, "code": "mg"},
    ],
)
def test_one_10_mg_er_tablet_every_12_hours_gets_no_dose_card(quantity: Json) -> None:
    draft = _with_quantity(dalfampridine(), quantity)
    assert select(GOOD_RENAL, order=draft) == []


def test_the_strength_comes_from_the_rxnorm_code_without_any_text() -> None:
    """RxNorm 897021 is the 10 mg ER tablet: its value-set display gives the strength."""
    draft = dalfampridine(text=None, dose=1, unit="{pill}")
    assert select(GOOD_RENAL, order=draft) == []
    two = dalfampridine(text=None, dose=2, unit="{pill}")
    problem = card(select(GOOD_RENAL, order=two), DOSE).facts["dose_problem"]
    assert "20 mg every 12 hours exceeds the label maximum of 10 mg every 12 hours" in problem


@pytest.mark.parametrize(
    "schedule",
    [
        {"timing_code": "BID"},
        {"frequency": 2, "period": 1, "period_unit": "d"},
        {"frequency": 1, "period": 12, "period_unit": "h"},
        {"sig": "1 tablet BID"},
        {"sig": "one tablet q12h"},
        {"sig": "Take one tablet twice daily"},
        {"sig": "1 tab every 12 hours, swallow whole"},
    ],
)
def test_twice_daily_in_every_spelling_is_every_12_hours(schedule: dict[str, Any]) -> None:
    base: dict[str, Any] = {"frequency": None, "period": None, "dose": 1, "unit": "{pill}"}
    draft = dalfampridine(**{**base, **schedule})
    assert select(GOOD_RENAL, order=draft) == []


def test_bid_in_the_timing_codes_text_counts_too() -> None:
    draft = dalfampridine(frequency=None, period=None)
    draft["dosageInstruction"][0]["timing"] = {"code": {"text": "BID"}}
    assert select(GOOD_RENAL, order=draft) == []


def test_a_quantity_without_any_unit_is_unreadable_and_gets_no_dose_card() -> None:
    assert DOSE not in topics(select(GOOD_RENAL, order=dalfampridine(dose=1, unit="")))
    assert DOSE not in topics(select(GOOD_RENAL, order=dalfampridine(dose=20, unit="")))


def test_tablets_of_an_unknown_strength_are_unreadable_not_wrong() -> None:
    draft = dalfampridine(text="dalfampridine ER tablet", coded=False, dose=1, unit="{pill}")
    assert DOSE not in topics(select(GOOD_RENAL, order=draft))


def test_three_times_daily_in_tablets_is_still_a_dose_card() -> None:
    draft = dalfampridine(frequency=None, period=None, timing_code="TID", dose=1, unit="{tbl}")
    problem = card(select(GOOD_RENAL, order=draft), DOSE).facts["dose_problem"]
    assert "not every 12 hours" in problem and "30 mg a day" in problem


def _huge(kind: str) -> Json:
    if kind == "dose 1e30 mg":
        return dalfampridine(dose=1e30)
    if kind == "period 1e-30 h":
        return dalfampridine(period=1e-30)
    if kind == "timing code of 5,000 digits":
        return dalfampridine(frequency=None, period=None, timing_code="Q" + "9" * 5000 + "H")
    draft = dalfampridine()
    draft["dosageInstruction"][0]["timing"]["repeat"]["frequency"] = 2**31
    return draft


@pytest.mark.parametrize(
    "kind",
    ["dose 1e30 mg", "period 1e-30 h", "timing code of 5,000 digits", "frequency 2^31"],
)
def test_absurd_numbers_are_unreadable_never_a_crash_nor_a_false_card(kind: str) -> None:
    assert select(GOOD_RENAL, order=_huge(kind), valid_r4=False) == []
