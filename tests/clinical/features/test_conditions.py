"""Which Condition entries count, and as which feature (clinical-logic §1 Trigger, §2)."""

from __future__ import annotations

from typing import Any

import pytest

from service.clinical import shared
from tests.support.clinical import (
    ICD,
    SCT,
    condition,
    days_ago,
    features_of,
    foot_drop,
    index,
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


# ── seizure history (clinical-logic v3 §2 seizure_history) ─────────────────────────


@pytest.mark.parametrize(
    ("code", "system"),
    [
        ("703151001", SCT),  # History of single seizure: what Synthea records
        ("230456007", SCT),  # Status epilepticus
        ("128613002", SCT),  # Seizure disorder (the published eCQM set)
        ("G40.841", ICD),  # KCNQ2-related epilepsy: not in the 2024 eCQM set, in G40
        ("G40.909", ICD),
    ],
)
@pytest.mark.parametrize("status", ["active", "resolved", "inactive"])
def test_seizure_history_codes_count_in_any_status(code: str, system: str, status: str) -> None:
    f = features_of(foot_drop(), condition(code, system, onset="2010-01-01", status=status))
    assert [x.feature for x in f.seizure_history] == ["seizure_history"]
    assert not f.seizure_history[0].from_text
    assert not f.seizure_verify
    assert not f.seizure_febrile_neonatal_provoked


@pytest.mark.parametrize(
    ("code", "system"),
    [
        ("41497008", SCT),  # Febrile convulsion
        ("230432008", SCT),  # Familial febrile convulsions
        ("R56.00", ICD),  # Simple febrile convulsions
        ("R56.01", ICD),  # Complex febrile convulsions
        ("87476004", SCT),  # Convulsions in the newborn
        ("P90", ICD),  # Convulsions of newborn
        ("308742005", SCT),  # Alcohol withdrawal-induced convulsion
    ],
)
def test_febrile_neonatal_and_provoked_seizures_are_seizure_history(code: str, system: str) -> None:
    """The label contraindicates any history of seizure; the card may offer the
    "febrile/neonatal seizure only" override reason."""
    f = features_of(foot_drop(), condition(code, system, onset="1970-01-01", status="resolved"))
    assert len(f.seizure_history) == 1
    assert f.seizure_febrile_neonatal_provoked[0].reference == f.seizure_history[0].reference
    assert shared.febrile_neonatal_seizures_only(f)


def test_febrile_seizure_with_epilepsy_is_not_febrile_only() -> None:
    f = features_of(
        foot_drop(),
        condition("R56.00", onset="1970-01-01"),
        condition("G40.909", onset="2001-01-01"),
    )
    assert len(f.seizure_history) == 2
    assert not shared.febrile_neonatal_seizures_only(f)
    assert not shared.febrile_neonatal_seizures_only(features_of(foot_drop()))


@pytest.mark.parametrize(
    ("code", "system"),
    [
        ("F44.5", ICD),  # Conversion disorder with seizures or convulsions
        ("191714002", SCT),  # Dissociative convulsions: in the eCQM set, removed before loading
        ("438113009", SCT),  # Convulsive syncope: in the eCQM set, removed before loading
    ],
)
def test_non_epileptic_events_mean_verify_not_history(code: str, system: str) -> None:
    f = features_of(foot_drop(), condition(code, system, onset="2015-01-01", status="resolved"))
    assert not f.seizure_history
    assert [x.feature for x in f.seizure_verify] == ["seizure_verify"]


def test_the_synthea_code_is_recognised_but_never_emitted() -> None:
    index_ = index()
    assert {m.feature for m in index_.match(SCT, "703151001")} == {"seizure_history"}
    assert not any(m.emittable for m in index_.match(SCT, "703151001"))
    assert (SCT, "703151001") not in {
        (c.system, c.code) for c in index_.orderable("seizure_history")
    }


#: A Condition with no recognised coding (a local code, or text only): its words decide.
UNRECOGNISED = {"code": "LOCAL-123", "system": "urn:oid:1.2.3.4.5"}


@pytest.mark.parametrize(
    ("text", "reading"),
    [
        ("Seizure disorder", "history"),
        ("History of epilepsy", "history"),
        ("Status epilepticus 2019", "history"),
        ("childhood febrile convulsions", "history"),
        ("alcohol withdrawal seizure", "history"),
        # time-bounded and control phrases affirm a history
        ("no seizures since 2010", "history"),
        ("seizure-free for 5 years", "history"),
        ("no further seizures", "history"),
        ("no recent seizures", "history"),
        ("epilepsy, resolved", "history"),
        ("epilepsy well controlled on levetiracetam", "history"),
        ("epilepsy in remission", "history"),
        # non-epileptic events and hypotheticals: verify
        ("psychogenic non-epileptic seizures", "verify"),
        ("dissociative convulsions", "verify"),
        ("functional seizures", "verify"),
        ("seizure precautions", "verify"),
        ("risk of seizures", "verify"),
        ("r/o seizure", "verify"),
        ("EEG to evaluate for seizures", "verify"),
        # plain denials and family history: nothing
        ("no history of seizures", None),
        ("denies seizures", None),
        ("never had a seizure", None),
        ("family history of epilepsy", None),
        ("mother has epilepsy", None),
        ("Migraine without aura", None),
    ],
)
@pytest.mark.parametrize("coded", [True, False], ids=["local-code", "text-only"])
def test_seizure_words_of_a_condition_with_no_recognised_code(
    text: str, reading: str | None, coded: bool
) -> None:
    entry = (
        condition(UNRECOGNISED["code"], UNRECOGNISED["system"], text=text, status="resolved")
        if coded
        else condition(None, text=text, status="resolved")
    )
    f = features_of(foot_drop(), entry)
    assert [x.from_text for x in f.seizure_history] == ([True] if reading == "history" else [])
    assert [x.from_text for x in f.seizure_verify] == ([True] if reading == "verify" else [])
    for x in (*f.seizure_history, *f.seizure_verify):
        assert text in (x.evidence.value or "")  # the basis quotes the words read


def test_seizure_words_are_read_from_the_display_too() -> None:
    entry = condition(None, status="active")
    entry["code"] = {"coding": [{"system": "urn:oid:1.2.3", "code": "9", "display": "Epilepsy"}]}
    assert [x.from_text for x in features_of(foot_drop(), entry).seizure_history] == [True]


def test_seizure_words_of_a_recognised_condition_are_not_read() -> None:
    """A coded entry is what its code says: a foot drop whose text mentions seizure
    precautions is a foot drop, and its words are not a seizure record."""
    f = features_of(foot_drop(text="Foot drop after a seizure"))
    assert not f.seizure_history and not f.seizure_verify


def test_generic_history_code_with_hypothetical_words_means_verify() -> None:
    f = features_of(foot_drop(), condition("Z86.69", text="seizure precautions", status="resolved"))
    assert not f.seizure_history
    assert [x.from_text for x in f.seizure_verify] == [True]
