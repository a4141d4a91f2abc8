"""Foot-drop order checks (clinical-logic §4; safety-review A6, A14, A15)."""

from __future__ import annotations

from tests.support.clinical import (
    CPT,
    ICD,
    SCT,
    condition,
    days_ago,
    device_use,
    foot_drop,
    imaging_report,
    patient,
    procedure,
    service_request,
)
from tests.support.drafts import (
    afo,
    ankle_arthrodesis,
    card,
    check,
    lumbar_fusion,
    mri_lumbar,
    ncs_emg,
    peroneal_decompression,
    pt_referral,
    ref,
    select,
    tendon_transfer,
    topics,
)

CAUDA_EQUINA = condition("192970008", SCT, onset=days_ago(2))
DISC = condition("M51.16", ICD, onset=days_ago(60))
PT_DONE = procedure("91251008", performed=days_ago(5))
NO_FOOT_DROP = condition("M54.5", ICD)
CHILD = patient(birth="2015-01-01")


# ── stat-imaging ─────────────────────────────────────────────────────────────────


def test_routine_lumbar_mri_with_critical_red_flag_is_updated_to_stat() -> None:
    draft = mri_lumbar(priority="routine")
    rec = card(select(foot_drop(), CAUDA_EQUINA, order=draft), "stat-imaging")
    assert rec.indicator == "critical"
    assert rec.about_order == ref(draft)
    assert [(s.suggestion_id, s.target, s.recommended) for s in rec.suggestions] == [
        ("mri-lumbar-make-stat", ref(draft), True)
    ]
    assert any(e.resource_type == "Condition" for e in rec.evidence)


def test_stat_imaging_targets_the_selected_draft_not_another_mri_draft() -> None:
    other, chosen = mri_lumbar(rid="mri-other"), mri_lumbar(rid="mri-chosen", priority=None)
    recs = select(foot_drop(), CAUDA_EQUINA, order=chosen, others=(other,))
    (suggestion,) = card(recs, "stat-imaging").suggestions
    assert suggestion.target == "ServiceRequest/mri-chosen"


def test_no_stat_imaging_when_already_stat_or_no_critical_red_flag() -> None:
    assert select(foot_drop(), CAUDA_EQUINA, order=mri_lumbar(priority="stat")) == []
    assert "stat-imaging" not in topics(select(foot_drop(), order=mri_lumbar()))


def test_text_progression_alone_is_no_stat_imaging_and_silences_the_duplicate() -> None:
    progressing = foot_drop(notes=[("foot drop worsening, weaker today", days_ago(1))])
    earlier = imaging_report("24968-0", when=days_ago(5))
    recs = select(progressing, earlier, order=mri_lumbar())
    assert recs == []


# ── add-physical-therapy ─────────────────────────────────────────────────────────


def test_orthosis_without_pt_suggests_pt() -> None:
    draft = afo()
    rec = card(select(foot_drop(), order=draft), "add-physical-therapy")
    assert rec.indicator == "warning"
    assert [s.suggestion_id for s in rec.suggestions] == ["pt-referral"]
    assert rec.about_order == ref(draft)
    assert rec.facts["order"]


def test_pt_drafted_ordered_or_done_since_onset_silences_it() -> None:
    assert select(foot_drop(), order=afo(), others=(pt_referral(),)) == []
    assert "add-physical-therapy" not in topics(select(foot_drop(), PT_DONE, order=afo()))
    pending = service_request("308447003", authored=days_ago(200))
    assert "add-physical-therapy" not in topics(select(foot_drop(), pending, order=afo()))


def test_pt_before_the_onset_does_not_count() -> None:
    old_pt = procedure("91251008", performed=days_ago(400))
    assert "add-physical-therapy" in topics(select(foot_drop(), old_pt, order=afo()))


def test_order_sign_with_orthosis_and_pt_drafts_gives_no_pt_card() -> None:
    assert check(foot_drop(), drafts=(afo(), pt_referral())) == []


def test_no_pt_card_without_foot_drop_for_a_child_or_non_ambulatory() -> None:
    assert select(NO_FOOT_DROP, order=afo()) == []
    assert select(CHILD, foot_drop(), order=afo()) == []
    assert select(foot_drop(), condition("Z99.3", ICD), order=afo()) == []


# ── localize-before-decompression ────────────────────────────────────────────────


def test_peroneal_decompression_without_ncs_emg_suggests_it() -> None:
    draft = peroneal_decompression()
    rec = card(select(foot_drop(), order=draft), "localize-before-decompression")
    assert rec.indicator == "warning"
    assert [s.suggestion_id for s in rec.suggestions] == ["ncs-emg"]
    assert rec.about_order == ref(draft)


def test_coded_peroneal_palsy_stands_in_for_foot_drop() -> None:
    palsy = condition("G57.31", ICD, onset=days_ago(30))
    assert topics(select(palsy, order=peroneal_decompression())) == [
        "localize-before-decompression"
    ]


def test_ncs_emg_done_or_drafted_silences_it() -> None:
    emg = procedure("95907", CPT, performed=days_ago(3))
    assert select(foot_drop(), emg, order=peroneal_decompression()) == []
    assert select(foot_drop(), order=peroneal_decompression(), others=(ncs_emg(),)) == []
    assert select(NO_FOOT_DROP, order=peroneal_decompression()) == []


# ── premature-palliative-surgery ─────────────────────────────────────────────────


def test_tendon_transfer_three_months_after_onset_is_premature() -> None:
    draft = tendon_transfer()
    rec = card(select(foot_drop(onset=days_ago(90)), order=draft), "premature-palliative-surgery")
    assert rec.indicator == "info"
    assert rec.facts["duration"] == "2 months"
    assert [s.suggestion_id for s in rec.suggestions] == ["orthotist-referral", "pt-referral"]
    assert not any(s.target for s in rec.suggestions)  # never a delete
    assert rec.about_order == ref(draft)


def test_orthosis_and_pt_already_in_place_are_not_offered_again() -> None:
    recs = select(
        foot_drop(onset=days_ago(90)),
        device_use("Ankle foot orthosis"),
        PT_DONE,
        order=ankle_arthrodesis(),
    )
    assert card(recs, "premature-palliative-surgery").suggestions == ()


def test_no_premature_card_after_12_months_or_without_a_true_onset() -> None:
    assert select(foot_drop(onset=days_ago(400)), order=tendon_transfer()) == []
    recorded_only = foot_drop(recorded=days_ago(60))
    assert select(recorded_only, order=tendon_transfer()) == []
    unknown_onset = foot_drop(onset=None, recorded=None)
    assert select(unknown_onset, order=tendon_transfer()) == []


# ── fusion-not-indicated ─────────────────────────────────────────────────────────


def test_fusion_with_disc_herniation_only_is_info_without_actions() -> None:
    draft = lumbar_fusion()
    rec = card(select(foot_drop(), DISC, order=draft), "fusion-not-indicated")
    assert rec.indicator == "info"
    assert rec.suggestions == ()
    assert rec.about_order == ref(draft)


def test_no_fusion_card_with_another_lumbar_diagnosis_or_prior_discectomy() -> None:
    spondylolisthesis = condition("M43.16", ICD)
    discectomy = procedure("3418002", performed=days_ago(900))
    assert select(foot_drop(), DISC, spondylolisthesis, order=lumbar_fusion()) == []
    assert select(foot_drop(), DISC, discectomy, order=lumbar_fusion()) == []
    assert select(foot_drop(), order=lumbar_fusion()) == []
    assert select(NO_FOOT_DROP, DISC, order=lumbar_fusion()) == []


# ── duplicate-order ──────────────────────────────────────────────────────────────


def test_pt_already_done_since_onset_is_a_possible_duplicate() -> None:
    rec = card(select(foot_drop(), PT_DONE, order=pt_referral()), "duplicate-order")
    assert rec.indicator == "info"
    assert PT_DONE["id"] in rec.facts["existing_order"]


def test_the_selected_draft_is_never_its_own_duplicate() -> None:
    for draft in (pt_referral(), afo(), ncs_emg(), mri_lumbar()):
        assert "duplicate-order" not in topics(select(foot_drop(), order=draft)), draft


def test_another_draft_of_the_same_order_is_a_duplicate() -> None:
    first, second = pt_referral(rid="pt-a"), pt_referral(rid="pt-b")
    rec = card(select(foot_drop(), order=first, others=(second,)), "duplicate-order")
    assert "ServiceRequest/pt-b" in rec.facts["existing_order"]
    assert "ServiceRequest/pt-a" not in rec.facts["existing_order"]


def test_orthosis_duplicate_allows_replacement() -> None:
    rec = card(select(foot_drop(), device_use("AFO"), order=afo()), "duplicate-order")
    assert "orthosis_replacement" in rec.flags
    assert "orthosis_from_text" in rec.notes


def test_lumbar_mri_duplicate_only_without_red_flag() -> None:
    earlier = imaging_report("24968-0", when=days_ago(5))
    assert topics(select(foot_drop(), earlier, order=mri_lumbar())) == ["duplicate-order"]
    with_red_flag = select(foot_drop(), CAUDA_EQUINA, earlier, order=mri_lumbar(priority="stat"))
    assert with_red_flag == []


def test_care_before_the_onset_is_not_a_duplicate() -> None:
    old_pt = procedure("91251008", performed=days_ago(400))
    assert select(foot_drop(), old_pt, order=pt_referral()) == []


def test_the_selected_order_is_listed_once_and_first_in_the_evidence() -> None:
    draft = mri_lumbar()
    rec = card(select(foot_drop(), CAUDA_EQUINA, order=draft), "stat-imaging")
    refs = [f"{e.resource_type}/{e.resource_id}" for e in rec.evidence]
    assert refs[0] == ref(draft)
    assert refs.count(ref(draft)) == 1
