"""Review of §4: another dalfampridine draft in the same session is another active 4-AP.

clinical-logic §4: "treat the other drafts as already ordered"; dalfampridine-contraindicated
fires for "dalfampridine, with … another active 4-aminopyridine product". safety-review A7:
"Duplicate 4-AP … `critical` (label: do not take with other forms of 4-AP)".

An active prescription in the record may be renewed by the new order (the service's
choice), but two drafts of it in one session are two concurrent orders: 40 mg a day.
"""

from __future__ import annotations

from tests.support.clinical import crcl, medication_request
from tests.support.drafts import card, check, dalfampridine, select, topics

CONTRA = "dalfampridine-contraindicated"
GOOD_RENAL = crcl(85)


def test_another_dalfampridine_draft_is_already_ordered() -> None:
    chosen, other = dalfampridine(rid="dal-a"), dalfampridine(rid="dal-b")
    rec = card(select(GOOD_RENAL, order=chosen, others=(other,)), CONTRA)
    assert "MedicationRequest/dal-b" in rec.facts["contraindication"]
    assert "MedicationRequest/dal-a" not in rec.facts["contraindication"]


def test_order_sign_with_two_dalfampridine_drafts_flags_both() -> None:
    recs = check(GOOD_RENAL, drafts=(dalfampridine(rid="dal-a"), dalfampridine(rid="dal-b")))
    assert topics(recs) == [CONTRA, CONTRA]
    assert {r.about_order for r in recs} == {"MedicationRequest/dal-a", "MedicationRequest/dal-b"}


def test_an_active_prescription_in_the_record_is_still_a_renewal() -> None:
    active = medication_request("897021", "dalfampridine 10 MG ER")
    assert CONTRA not in topics(select(GOOD_RENAL, active, order=dalfampridine()))
