"""Which Condition entries count, and as which feature (clinical-logic §1 Trigger, §2)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.clinical import (
    SCT,
    condition,
    days_ago,
    features_of,
    foot_drop,
    observation,
)


@pytest.mark.parametrize(
    ("kwargs", "counts"),
    [
        ({"status": "active"}, True),
        ({"status": "recurrence"}, True),
        ({"status": "relapse"}, True),
        ({"status": None}, True),  # missing clinicalStatus is read as active
        ({"status": "resolved"}, False),
        ({"status": "inactive"}, False),
        ({"status": "remission"}, False),
        ({"verification": "entered-in-error"}, False),
        ({"verification": "refuted"}, False),
        ({"verification": "unconfirmed"}, True),
    ],
)
def test_foot_drop_trigger_honours_status(kwargs: dict[str, Any], counts: bool) -> None:
    assert (features_of(foot_drop(**kwargs)).foot_drop is not None) is counts


@pytest.mark.parametrize(
    ("kwargs", "counts"),
    [
        ({"status": "resolved"}, True),  # "a resolved seizure disorder counts"
        ({"status": "inactive"}, True),
        ({"verification": "refuted"}, False),
        ({"verification": "entered-in-error"}, False),
    ],
)
def test_seizure_history_in_any_clinical_status(kwargs: dict[str, Any], counts: bool) -> None:
    f = features_of(foot_drop(), condition("G40.909", onset="2001-01-01", **kwargs))
    assert bool(f.seizure_history) is counts


def test_conversion_disorder_with_seizures_means_verify_not_history() -> None:
    f = features_of(foot_drop(), condition("F44.5", onset="2015-01-01"))
    assert not f.seizure_history
    assert [x.feature for x in f.seizure_verify] == ["seizure_verify"]


@pytest.mark.parametrize(
    ("text", "counts"),
    [("History of epileptic seizures", True), ("History of migraine", False), (None, False)],
)
def test_generic_history_code_needs_seizure_words(text: str | None, counts: bool) -> None:
    f = features_of(foot_drop(), condition("Z86.69", text=text, status="resolved"))
    assert bool(f.seizure_history) is counts
    assert all(x.from_text for x in f.seizure_history)


@pytest.mark.parametrize(
    ("text", "counts"),
    [
        ("Saddle numbness", True),
        ("perineal paraesthesia", True),
        ("numb left hand", False),
        ("numb left foot; saddle anaesthesia denied", False),
        ("numb shin, perineal sensation intact", False),
    ],
)
def test_unsited_skin_sensation_is_saddle_only_with_saddle_words(text: str, counts: bool) -> None:
    f = features_of(foot_drop(), condition("R20.2", onset=days_ago(2), text=text))
    assert bool(f.saddle_anesthesia) is counts


def test_incontinence_and_neurogenic_bladder_are_never_red_flags() -> None:
    f = features_of(
        foot_drop(),
        condition("R32", onset=days_ago(2)),
        condition("N31.9", onset=days_ago(2)),
        condition("165232002", SCT, onset=days_ago(2)),
    )
    assert not (f.urinary_retention or f.bowel_dysfunction or f.saddle_anesthesia)
    assert not f.cauda_equina


def test_drug_induced_retention_is_not_a_red_flag_finding() -> None:
    assert not features_of(foot_drop(), condition("R33.0", onset=days_ago(2))).urinary_retention


def test_red_flag_observation_counts_unless_absent() -> None:
    present = observation("267064002", SCT, when=days_ago(1))
    absent = observation("267064002", SCT, when=days_ago(1), value_boolean=False)
    said_no = observation("72042002", SCT, when=days_ago(1), value_string="Absent")
    f = features_of(foot_drop(), present, absent, said_no)
    assert [x.evidence.resource_id for x in f.urinary_retention] == [present["id"]]
    assert not f.bowel_dysfunction


def test_stroke_without_residual_deficit_is_not_a_central_cause() -> None:
    f = features_of(foot_drop(), condition("Z86.73", onset="2015-01-01"))
    assert not f.central_cause


@pytest.mark.parametrize("code", ["I69.351", "I63.9", "G35", "G35.A", "G95.9", "G80.1", "24700007"])
def test_central_causes(code: str) -> None:
    system = SCT if code.isdigit() else "http://hl7.org/fhir/sid/icd-10-cm"
    f = features_of(foot_drop(), condition(code, system, onset="2015-01-01"))
    assert f.central_cause


def test_muscle_spasm_is_never_spasticity() -> None:
    f = features_of(foot_drop(), condition("M62.838"), condition("R25.2"))
    assert not f.spasticity


@pytest.mark.parametrize(
    ("resource", "lower_limb"),
    [
        (condition("221360009", SCT, body_site={"text": "Left calf"}), True),
        (condition("312444006", SCT), True),  # spastic paraparesis
        (condition("221360009", SCT), False),
        (condition("221360009", SCT, body_site={"text": "Right arm"}), False),
    ],
)
def test_lower_limb_spasticity(resource: dict[str, Any], lower_limb: bool) -> None:
    f = features_of(foot_drop(), resource)
    assert f.spasticity
    assert bool(f.lower_limb_spasticity) is lower_limb


def test_ms_in_remission_is_progressive_disease() -> None:
    assert features_of(foot_drop(), condition("G35", status="remission")).progressive_disease


def test_resolved_motor_neuron_disease_is_not_progressive_disease() -> None:
    assert not features_of(foot_drop(), condition("G12.21", status="resolved")).progressive_disease


@pytest.mark.parametrize(
    ("recorded_or_onset", "recent"),
    [
        ({"onset": days_ago(100)}, True),
        ({"recorded": days_ago(30)}, True),
        ({"onset": "2024-01-01"}, False),
    ],
)
def test_recent_disc_herniation(recorded_or_onset: dict[str, str], recent: bool) -> None:
    f = features_of(foot_drop(), condition("M51.16", **recorded_or_onset))
    assert f.disc_herniation
    assert bool(f.recent_disc_herniation) is recent
    assert f.l5_radiculopathy  # M51.16 is disc disorder with radiculopathy


def test_knee_dislocation_counts_as_nerve_trauma() -> None:
    f = features_of(foot_drop(), condition("S83.106A", onset=days_ago(20)))
    assert [x.feature for x in f.nerve_trauma] == ["knee_dislocation"]


def test_leg_crossing_from_text_with_negation() -> None:
    yes = condition("G57.31", notes=[("Habitually crosses her legs at work.", days_ago(3))])
    no = condition("G57.31", notes=[("Does not cross legs.", days_ago(3))])
    assert features_of(foot_drop(), yes).leg_crossing
    assert not features_of(foot_drop(), no).leg_crossing


@pytest.mark.parametrize(
    ("status", "counts"),
    [("active", True), ("remission", True), ("inactive", True), ("resolved", False)],
)
def test_multiple_sclerosis_in_remission_is_still_multiple_sclerosis(
    status: str, counts: bool
) -> None:
    """Relapsing-remitting MS recorded 'remission' is still a central cause of foot drop."""
    features = features_of(foot_drop(), condition("G35.A", status=status))
    assert bool(features.multiple_sclerosis) is counts
    assert bool(features.central_cause) is counts
