"""Care in place: orders, procedures, devices and medications (clinical-logic §2)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.clinical import (
    CPT,
    HCPCS,
    SCT,
    allergy,
    condition,
    creatinine,
    days_ago,
    device_request,
    device_use,
    features_of,
    foot_drop,
    imaging_report,
    medication_request,
    medication_statement,
    procedure,
    service_request,
    weight,
)


@pytest.mark.parametrize(
    ("resource", "in_use"),
    [
        (device_request("L1930", HCPCS), True),
        (device_request("183161001", SCT, status="completed"), True),
        (device_request("183161001", SCT, status="revoked"), False),
        (service_request("308455005"), True),  # orthotist referral pending
        (device_use("Left AFO"), True),  # uncoded, read from its name
        (device_use("Left AFO", status="stopped"), False),
        (foot_drop("left", notes=[("Wears a left AFO daily", days_ago(30))]), True),
        (foot_drop("left", notes=[("Consider AFO", days_ago(30))]), False),
        (foot_drop("left", notes=[("Uses a knee brace", days_ago(30))]), False),
        (foot_drop("left", notes=[("AFO not tolerated", days_ago(30))]), False),
    ],
)
def test_orthosis_in_use(resource: dict[str, Any], in_use: bool) -> None:
    f = features_of(foot_drop("left"), resource)
    assert bool(f.orthosis_in_use) is in_use


def test_fes_device_named_in_a_note_is_in_use() -> None:
    f = features_of(foot_drop(notes=[("Uses WalkAide for walking", days_ago(5))]))
    assert f.fes_in_use and not f.orthosis_in_use
    assert all(e.from_text for e in f.fes_in_use)


def test_pt_counts_only_since_onset() -> None:
    """ "PT counts only if since foot-drop onset" (safety-review A10)."""
    before = service_request("308447003", status="completed", authored=days_ago(60))
    after = service_request("308447003", status="completed", authored=days_ago(5))
    pending_old = service_request("308447003", status="active", authored=days_ago(60))
    assert not features_of(foot_drop(onset=days_ago(20)), before).pt_since_onset
    assert features_of(foot_drop(onset=days_ago(20)), after).pt_since_onset
    assert features_of(foot_drop(onset=days_ago(20)), pending_old).pt_since_onset


def test_studies_done_or_ordered_keep_status_and_priority() -> None:
    mri = service_request("41333006", priority="routine", rid="mri-1")
    emg = procedure("95907", CPT, performed=days_ago(2))
    report = imaging_report("24968-0", when=days_ago(1))
    f = features_of(foot_drop(), mri, emg, report)
    pending = [e for e in f.lumbar_mri if e.state == "ordered"]
    assert [(e.reference, e.priority) for e in pending] == [("ServiceRequest/mri-1", "routine")]
    assert [e.state for e in f.lumbar_mri if e.evidence.resource_type == "DiagnosticReport"] == [
        "done"
    ]
    assert [e.state for e in f.ncs_emg] == ["done"]


def test_draft_orders_count_as_ordered() -> None:
    draft = service_request("41333006", status="draft", rid="draft-mri")
    f = features_of(foot_drop(), drafts=(draft,))
    assert [(e.state, e.draft, e.reference) for e in f.lumbar_mri] == [
        ("ordered", True, "ServiceRequest/draft-mri")
    ]


def test_cancelled_or_entered_in_error_never_count() -> None:
    f = features_of(
        foot_drop(),
        service_request("41333006", status="revoked"),
        procedure("95907", CPT, status="not-done"),
        imaging_report("24968-0", status="cancelled"),
    )
    assert not f.lumbar_mri and not f.ncs_emg


@pytest.mark.parametrize(
    ("resource", "done"),
    [
        (
            procedure(None, text="Left posterior tibial tendon transfer", performed="2020-01-01"),
            True,
        ),
        (procedure("3026000", performed="2019-05-01"), True),  # ankle arthrodesis
        (procedure(None, text="Knee arthroscopy"), False),
    ],
)
def test_palliative_surgery_done(resource: dict[str, Any], done: bool) -> None:
    assert bool(features_of(foot_drop(), resource).palliative_surgery) is done


def test_peroneal_decompression_from_procedure_text() -> None:
    proc = procedure(None, text="Neurolysis of the left common peroneal nerve")
    f = features_of(foot_drop(), proc)
    assert f.peroneal_decompression and f.peroneal_decompression[0].from_text


@pytest.mark.parametrize(("performed", "recent"), [(days_ago(60), True), (days_ago(250), False)])
def test_botulinum_in_six_months(performed: str, recent: bool) -> None:
    f = features_of(foot_drop(), procedure("64642", CPT, performed=performed))
    assert bool(f.botulinum_recent) is recent


@pytest.mark.parametrize(
    ("resource", "active", "past", "other"),
    [
        (medication_request("897021"), True, False, False),
        (medication_request(text="Ampyra 10 mg ER tablet"), True, False, False),
        (medication_request("897021", status="stopped"), False, True, False),
        (medication_statement("dalfampridine 10 MG", status="completed"), False, True, False),
        (medication_statement("compounded 4-aminopyridine 5 mg"), False, False, True),
        (medication_statement("fampridine"), False, False, True),
        (medication_statement("amifampridine 10 mg"), False, False, False),  # Firdapse
    ],
)
def test_dalfampridine_courses(
    resource: dict[str, Any], active: bool, past: bool, other: bool
) -> None:
    f = features_of(foot_drop(), resource)
    assert (bool(f.dalfampridine_active), bool(f.dalfampridine_past_course), bool(f.other_4ap)) == (
        active,
        past,
        other,
    )


@pytest.mark.parametrize(
    ("resource", "found"),
    [
        (allergy(text="Dalfampridine"), True),
        (allergy(text="4-aminopyridine"), True),
        (allergy(code="897021"), True),
        (allergy(text="Amifampridine"), False),
        (allergy(text="Penicillin"), False),
    ],
)
def test_dalfampridine_allergy(resource: dict[str, Any], found: bool) -> None:
    assert bool(features_of(foot_drop(), resource).dalfampridine_allergy) is found


def test_unavailable_keys_are_carried() -> None:
    f = features_of(foot_drop(), unavailable=frozenset({"procedures"}))
    assert f.unavailable == frozenset({"procedures"})


def test_evidence_names_resource_display_and_date() -> None:
    f = features_of(condition("M21.372", rid="fd-1", onset="2026-06-01", text="Left foot drop"))
    assert f.foot_drop is not None
    evidence = f.foot_drop.findings[0].evidence
    assert (evidence.resource_type, evidence.resource_id, evidence.display, evidence.date) == (
        "Condition",
        "fd-1",
        "Left foot drop",
        "2026-06-01",
    )


def test_lab_evidence_carries_the_value() -> None:
    f = features_of(foot_drop(), creatinine(1.1), weight(70))
    assert [e.value for e in f.renal.evidence] == ["1.1 mg/dL", "70 kg", "age 62, gender female"]


def test_a_coded_pt_referral_mentioning_the_afo_is_not_an_orthosis_in_use() -> None:
    """Words name what no code expresses: the PT referral is PT, not an orthosis."""
    referral = service_request("308447003", text="Gait training with the new AFO")
    features = features_of(foot_drop(), referral)
    assert features.pt_since_onset
    assert not features.orthosis_in_use
