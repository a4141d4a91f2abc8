"""Review of §4: an order is what it is coded as; its words name only what no code says.

clinical-logic §4: "React only to selected orders ... when a selected order is … an
orthosis or FES" / "tendon transfer or ankle arthrodesis" / "peroneal decompression/
neurolysis (no verified code exists for this procedure: recognise it ... by `code.text`
naming neurolysis or decompression of the peroneal/fibular nerve)".

A PT referral or an NCS/EMG whose text merely *mentions* an AFO, a tendon transfer or a
peroneal decompression is not that order, and must not get that order's card.
"""

from __future__ import annotations

from tests.support.clinical import days_ago, foot_drop
from tests.support.drafts import dalfampridine, select, service_draft, topics

PT_CODE = "306170007"  # Referral to physiotherapy service (V)
NCS_CODE = "306276006"  # NCS/EMG referral (V)


def test_pt_referral_mentioning_the_afo_is_not_an_orthosis_order() -> None:
    pt = service_draft(PT_CODE, text="Physical therapy: gait training with the new AFO")
    assert "add-physical-therapy" not in topics(select(foot_drop(), order=pt))


def test_ncs_emg_mentioning_decompression_is_not_a_decompression_order() -> None:
    emg = service_draft(NCS_CODE, text="NCS/EMG before peroneal nerve decompression")
    assert "localize-before-decompression" not in topics(select(foot_drop(), order=emg))


def test_pt_after_tendon_transfer_is_not_palliative_surgery() -> None:
    pt = service_draft(PT_CODE, text="Physical therapy after posterior tibial tendon transfer")
    recs = select(foot_drop(onset=days_ago(90)), order=pt)
    assert "premature-palliative-surgery" not in topics(recs)


def test_uncoded_orders_are_still_read_from_their_words() -> None:
    decompression = service_draft(text="Neurolysis of the left common fibular nerve")
    assert topics(select(foot_drop(), order=decompression)) == ["localize-before-decompression"]


def test_4ap_words_count_even_on_an_order_coded_as_something_else() -> None:
    """§1: the dalfampridine checks fire wherever the order itself is the risk."""
    odd = dalfampridine(text="4-aminopyridine 10 mg compounded capsule", coded=False)
    odd["medicationCodeableConcept"]["coding"] = [
        {"system": "http://snomed.info/sct", "code": PT_CODE}
    ]
    assert "renal-function-needed" in topics(select(order=odd))
