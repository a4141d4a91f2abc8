"""Review of §4: draft orders that carry no `id` (order-sign has no selections to name them).

clinical-logic §4: "React only to selected orders (order-sign: to all drafts), and treat
the other drafts as already ordered." conformance C-10: "`resourceId` CONDITIONAL:
relative reference `Type/id`, SHOULD be used for delete"; H-3: "`update` with the
**complete** resource and the **same id** as in `draftOrders`".

Without an id, every draft of a type has the same reference `Type/`: each must still be
checked, none may be its own duplicate, and no update or delete can name it.
"""

from __future__ import annotations

from typing import Any

from tests.support.clinical import SCT, condition, crcl, foot_drop
from tests.support.drafts import (
    card,
    check,
    dalfampridine,
    mri_lumbar,
    ncs_emg,
    peroneal_decompression,
    pt_referral,
    topics,
)

Json = dict[str, Any]
EPILEPSY = condition("84757009", SCT)


def _without_id(draft: Json) -> Json:
    return {key: value for key, value in draft.items() if key != "id"}


def _other_medication() -> Json:
    return _without_id(dalfampridine(text="ibuprofen 400 mg tablet", coded=False))


def test_a_draft_without_id_is_not_its_own_duplicate() -> None:
    for draft in (pt_referral(), mri_lumbar(), ncs_emg()):
        assert "duplicate-order" not in topics(check(foot_drop(), drafts=(_without_id(draft),)))


def test_every_draft_without_id_is_checked() -> None:
    drafts = (_other_medication(), _without_id(dalfampridine()))
    assert "dalfampridine-contraindicated" in topics(check(EPILEPSY, crcl(85), drafts=drafts))
    drafts = (_without_id(ncs_emg()), _without_id(peroneal_decompression()))
    # the drafted NCS/EMG is "already ordered": no localisation card, but both were read
    assert check(foot_drop(), drafts=drafts) == []
    drafts = (_without_id(pt_referral()), _without_id(peroneal_decompression()))
    assert topics(check(foot_drop(), drafts=drafts)) == ["localize-before-decompression"]


def test_no_update_or_delete_of_a_draft_without_id() -> None:
    contra = card(
        check(EPILEPSY, drafts=(_without_id(dalfampridine(dose=15)),)),
        "dalfampridine-contraindicated",
    )
    assert contra.indicator == "critical"
    assert contra.suggestions == ()
    dose = card(
        check(crcl(85), drafts=(_without_id(dalfampridine(dose=15)),)), "dalfampridine-dose"
    )
    assert dose.suggestions == ()
    red_flag = condition("192970008", SCT, onset="2026-06-13")
    stat = card(check(foot_drop(), red_flag, drafts=(_without_id(mri_lumbar()),)), "stat-imaging")
    assert stat.suggestions == ()
