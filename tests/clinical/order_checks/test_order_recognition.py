"""Recognising what is ordered (clinical-logic v3 §4): verified codes, then the order's words.

Order names are read without finding-negation ("w/o contrast" is part of the
orderable), "EMG" only as a whole word not followed by "guided"/"guidance", and a
lumbar MRI draft for a patient with a critical red flag is never missed.
"""

from __future__ import annotations

import pytest

from tests.support.clinical import CPT, HCPCS, ICD, condition, days_ago, foot_drop
from tests.support.drafts import afo, select, service_draft, topics

CAUDA_EQUINA = condition("G83.4", ICD, onset=days_ago(2))  # Cauda equina syndrome
STAT = "stat-imaging"
CPT_LUMBAR_MRI = "72148"


@pytest.mark.parametrize("code", ["72148", "72149", "72158"])
def test_cpt_lumbar_mri_routine_with_a_critical_red_flag_gets_stat_imaging(code: str) -> None:
    draft = service_draft(code, CPT, priority="routine")
    assert topics(select(foot_drop(), CAUDA_EQUINA, order=draft)) == [STAT]


@pytest.mark.parametrize(
    "name",
    [
        "MRI lumbar spine",
        "MR L-spine",
        "lumbar MRI",
        "MRI lumbar spine without contrast",
        "MRI L-spine w/o contrast",
        "Non-contrast MRI lumbar spine",
        "MRI lumbar spine, no contrast",
    ],
)
def test_lumbar_mri_named_in_words_is_recognised_contrast_words_included(name: str) -> None:
    draft = service_draft(text=name, priority="routine")
    assert topics(select(foot_drop(), CAUDA_EQUINA, order=draft)) == [STAT]


def test_a_stat_or_non_lumbar_mri_named_in_words_gets_no_stat_card() -> None:
    stat = service_draft(text="MRI lumbar spine w/o contrast", priority="stat")
    brain = service_draft(text="MRI brain without contrast", priority="routine")
    assert select(foot_drop(), CAUDA_EQUINA, order=stat) == []
    assert STAT not in topics(select(foot_drop(), CAUDA_EQUINA, order=brain))


@pytest.mark.parametrize("name", ["AFO", "ankle foot orthosis", "Ankle-foot orthosis, left"])
def test_an_orthosis_named_in_words_asks_for_physical_therapy(name: str) -> None:
    draft = {**afo(), "codeCodeableConcept": {"text": name}}
    assert topics(select(foot_drop(), order=draft)) == ["add-physical-therapy"]


def test_an_hcpcs_afo_is_recognised_and_an_ankle_orthosis_is_not() -> None:
    coded = {**afo(), "codeCodeableConcept": {"coding": [{"system": HCPCS, "code": "L1971"}]}}
    ankle = {**afo(), "codeCodeableConcept": {"coding": [{"system": HCPCS, "code": "L1902"}]}}
    assert topics(select(foot_drop(), order=coded)) == ["add-physical-therapy"]
    assert select(foot_drop(), order=ankle) == []


def test_a_pt_referral_named_in_words_satisfies_add_physical_therapy() -> None:
    pt = service_draft(text="Physical therapy referral")
    assert select(foot_drop(), order=afo(), others=(pt,)) == []


@pytest.mark.parametrize(
    ("name", "recognised"),
    [
        ("Nerve conduction studies, right leg", True),
        ("EMG right lower limb", True),
        ("NCS/EMG", True),
        ("EMG-guided botulinum toxin injection", False),
        ("EMG guidance for injection", False),
        ("EMGuide device check", False),
    ],
)
def test_ncs_emg_named_in_words_allows_peroneal_decompression(name: str, recognised: bool) -> None:
    decompression = service_draft(text="Decompression of the right common peroneal nerve")
    emg = service_draft(text=name)
    cards = topics(select(foot_drop(), order=decompression, others=(emg,)))
    assert ("localize-before-decompression" not in cards) is recognised


def test_words_do_not_reclassify_an_order_a_code_already_names() -> None:
    """A PT evaluation (CPT 97161) mentioning the AFO is not an orthosis order."""
    pt = service_draft("97161", CPT, text="PT evaluation, gait training with the AFO")
    assert "add-physical-therapy" not in topics(select(foot_drop(), order=pt))


def test_cancellation_comes_only_from_the_status() -> None:
    """'no contrast' in the name never cancels; a revoked or entered-in-error draft is
    neither checked nor counted as ordered."""
    words = service_draft(text="MRI lumbar spine, no contrast", priority="routine")
    assert topics(select(foot_drop(), CAUDA_EQUINA, order=words)) == [STAT]
    for status in ("revoked", "entered-in-error"):
        revoked = {**service_draft(CPT_LUMBAR_MRI, CPT, priority="routine"), "status": status}
        assert select(foot_drop(), CAUDA_EQUINA, order=revoked) == []
        revoked_pt = {**service_draft(text="Physical therapy referral"), "status": status}
        assert topics(select(foot_drop(), order=afo(), others=(revoked_pt,))) == [
            "add-physical-therapy"
        ]
