"""The order-side topics clinical-logic v3 §4 adds: stat-referral, seizure-history-verify
and record-incomplete."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from service.clinical.order_checks import check_orders
from tests.support.clinical import (
    ICD,
    NOW,
    SCT,
    THRESHOLDS,
    condition,
    crcl,
    days_ago,
    foot_drop,
    patient_data,
)
from tests.support.drafts import (
    card,
    check,
    dalfampridine,
    ref,
    reviews,
    select,
    service_draft,
    topics,
)

Json = dict[str, Any]
CAUDA_EQUINA = condition("G83.4", ICD, onset=days_ago(2))  # Cauda equina syndrome
NEUROSURGEON = "308482002"
ORTHOPAEDIC = "308481009"
STAT_REFERRAL = "stat-referral"
VERIFY = "seizure-history-verify"
INCOMPLETE = "record-incomplete"
GOOD_RENAL = crcl(85)


# ── stat-referral ────────────────────────────────────────────────────────────────


def _orthopaedic(text: str | None = None, reason: Json | None = None, **kw: Any) -> Json:
    draft = service_draft(ORTHOPAEDIC, SCT, text=text, priority="routine", **kw)
    if reason is not None:
        draft["reasonCode"] = [reason]
    return draft


@pytest.mark.parametrize(
    "draft",
    [
        service_draft(NEUROSURGEON, SCT, priority="routine"),
        service_draft(NEUROSURGEON, SCT),  # no priority is not stat
        _orthopaedic("Orthopaedic spine surgery referral"),
        _orthopaedic("Orthopaedics: low back"),
        _orthopaedic(reason={"text": "L5 radiculopathy"}),
        _orthopaedic(
            reason={
                "coding": [{"system": SCT, "code": "192970008", "display": "Cauda equina syndrome"}]
            }
        ),
        _orthopaedic(reason={"text": "disc herniation"}),
    ],
)
def test_a_non_stat_spine_referral_with_a_critical_red_flag_is_updated_to_stat(
    draft: Json,
) -> None:
    rec = card(select(foot_drop(), CAUDA_EQUINA, order=draft), STAT_REFERRAL)
    assert rec.indicator == "critical"
    assert [(s.suggestion_id, s.target) for s in rec.suggestions] == [
        ("referral-make-stat", ref(draft))
    ]


@pytest.mark.parametrize(
    "draft",
    [
        service_draft(NEUROSURGEON, SCT, priority="stat"),
        _orthopaedic("Orthopaedics: knee"),
        _orthopaedic(),
        service_draft(text="Referral to spine surgeon", priority="routine"),  # not coded
    ],
)
def test_no_stat_referral_for_a_stat_or_non_spine_referral(draft: Json) -> None:
    assert STAT_REFERRAL not in topics(select(foot_drop(), CAUDA_EQUINA, order=draft))


def test_no_stat_referral_without_a_critical_red_flag() -> None:
    draft = service_draft(NEUROSURGEON, SCT, priority="routine")
    assert STAT_REFERRAL not in topics(select(foot_drop(), order=draft))
    older = condition("R33.9", ICD, onset=days_ago(40))  # an old retention: not critical
    assert STAT_REFERRAL not in topics(select(foot_drop(onset=days_ago(200)), older, order=draft))


def test_at_order_sign_every_non_stat_spine_referral_is_named() -> None:
    neuro = service_draft(NEUROSURGEON, SCT, priority="routine")
    ortho = _orthopaedic("Orthopaedic spine referral")
    recs = check(foot_drop(), CAUDA_EQUINA, drafts=(neuro, ortho))
    assert {r.about_order for r in recs if r.topic == STAT_REFERRAL} == {ref(neuro), ref(ortho)}


# ── seizure-history-verify ───────────────────────────────────────────────────────


@pytest.mark.parametrize(
    "verify",
    [condition("F44.5", ICD), condition("191714002", SCT), condition("438113009", SCT)],
)
def test_a_verify_seizure_record_gives_a_warning_not_a_contraindication(verify: Json) -> None:
    recs = select(verify, GOOD_RENAL, order=dalfampridine())
    assert topics(recs) == [VERIFY]
    rec = recs[0]
    assert rec.indicator == "warning" and rec.suggestions == ()
    assert "seizure_verify" in rec.notes


def test_with_a_real_contraindication_the_verify_record_is_only_a_note() -> None:
    recs = select(condition("F44.5", ICD), condition("84757009", SCT), order=dalfampridine())
    assert topics(recs) == ["dalfampridine-contraindicated"]
    assert "seizure_verify" in recs[0].notes


# ── record-incomplete ────────────────────────────────────────────────────────────


def _unreadable_subject(resource: Json) -> Json:
    return {**resource, "subject": {"identifier": {"value": "MRN-1"}}}


def test_an_unreadable_condition_means_a_contraindication_cannot_be_excluded() -> None:
    epilepsy = _unreadable_subject(condition("G40.909", ICD))
    recs = select(epilepsy, GOOD_RENAL, order=dalfampridine())
    rec = card(recs, INCOMPLETE)
    assert rec.indicator == "warning" and rec.suggestions == ()
    assert rec.facts["unreadable"] == "a condition (its subject)"
    assert "dalfampridine-contraindicated" not in topics(recs)


def test_an_unreadable_renal_result_is_named() -> None:
    bad = {**GOOD_RENAL, "effectiveDateTime": "2026-13-01"}
    recs = select(bad, order=dalfampridine(), valid_r4=False)
    assert (
        "a laboratory result or measurement (its effectiveDateTime)"
        in (card(recs, INCOMPLETE).facts["unreadable"])
    )


def test_an_unavailable_prefetch_key_is_named() -> None:
    data = patient_data(GOOD_RENAL, drafts=(dalfampridine(),))
    data = replace(data, unavailable=frozenset({"conditions"}))
    recs = check_orders(reviews(data, None), NOW, THRESHOLDS)
    assert (
        "the “conditions” data, which could not be obtained"
        in (card(recs, INCOMPLETE).facts["unreadable"])
    )


def test_a_complete_record_or_a_non_dalfampridine_draft_gets_no_record_incomplete() -> None:
    assert select(GOOD_RENAL, order=dalfampridine()) == []
    epilepsy = _unreadable_subject(condition("G40.909", ICD))
    afo_like = service_draft(text="AFO")
    assert INCOMPLETE not in topics(select(epilepsy, foot_drop(), order=afo_like))


def test_with_a_contraindication_found_the_record_incomplete_card_is_not_added() -> None:
    unreadable = _unreadable_subject(condition("G40.909", ICD))
    recs = select(unreadable, condition("84757009", SCT), GOOD_RENAL, order=dalfampridine())
    assert topics(recs) == ["dalfampridine-contraindicated"]
