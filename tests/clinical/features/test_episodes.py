"""Episodes per side and calendar durations (clinical-logic v3 §1 Time), one test per
sentence of the Time paragraph."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from service.clinical.features.records import months_between
from service.clinical.shared import duration_text
from tests.support.clinical import (
    CPT,
    HCPCS,
    PERONEAL,
    SCT,
    TODAY,
    as_date,
    card,
    condition,
    days_ago,
    device_use,
    features_of,
    foot_drop,
    procedure,
)

Json = dict[str, Any]


def abated(resource: Json, when: str = "2025-03-01") -> Json:
    return {**resource, "abatementDateTime": when}


def test_recurrence_starts_a_new_episode_from_its_onset() -> None:
    """'a recurrence or relapse always starts a new episode, from its onset'"""
    fd = features_of(
        foot_drop("right", onset="2024-01-01"),
        foot_drop("right", onset=days_ago(12), status="recurrence"),
    ).foot_drop
    assert fd is not None
    assert fd.onset.date == as_date(days_ago(12)) and fd.onset.known
    assert fd.phase == "acute"


def test_relapse_without_onset_starts_from_its_recorded_date_as_approximate() -> None:
    """'… or, without one, from its recordedDate as an approximate onset'"""
    fd = features_of(
        foot_drop("left", onset="2024-01-01"),
        foot_drop("left", recorded=days_ago(4), status="relapse"),
    ).foot_drop
    assert fd is not None
    assert fd.onset.date == as_date(days_ago(4))
    assert fd.onset.approximate
    assert fd.phase == "acute"


def test_a_later_active_entry_without_recurrence_does_not_restart_the_clock() -> None:
    """'starts a new episode only when … recurrence or relapse, or the earlier … has abated'"""
    fd = features_of(
        foot_drop("right", onset="2024-01-01"), foot_drop("right", onset=days_ago(20))
    ).foot_drop
    assert fd is not None
    assert fd.onset.date == as_date("2024-01-01")
    assert fd.phase == "long_standing"


@pytest.mark.parametrize(
    "earlier",
    [
        abated(foot_drop("right", onset="2024-01-01")),
        foot_drop("right", onset="2024-01-01", status="resolved"),
        foot_drop("right", onset="2024-01-01", status="inactive"),
    ],
    ids=["abatement-date", "resolved", "inactive"],
)
def test_after_the_earlier_entry_abated_a_new_one_starts_an_episode(earlier: Json) -> None:
    fd = features_of(earlier, foot_drop("right", onset=days_ago(20))).foot_drop
    assert fd is not None
    assert fd.onset.date == as_date(days_ago(20))
    assert fd.phase == "acute"


def test_an_onset_on_its_recorded_day_never_restarts_the_clock() -> None:
    """'any other same-side entry whose onset falls on the same calendar day as its
    recordedDate counts as approximate and never restarts the clock' — even after the
    earlier entry abated (a problem-list re-entry, not a new foot drop)."""
    fd = features_of(
        abated(foot_drop("right", onset="2024-01-01")),
        foot_drop("right", onset=days_ago(3), recorded=days_ago(3)),
    ).foot_drop
    assert fd is not None
    assert fd.onset.date == as_date("2024-01-01")
    assert fd.phase == "long_standing"


def test_a_later_same_day_entry_does_not_replace_the_true_onset() -> None:
    fd = features_of(
        foot_drop("right", onset="2025-09-01"),
        foot_drop("right", onset=days_ago(3), recorded=days_ago(3)),
    ).foot_drop
    assert fd is not None
    assert fd.onset.date == as_date("2025-09-01") and fd.onset.known


def test_a_single_entry_dated_on_its_recorded_day_keeps_its_known_onset() -> None:
    """The same-day rule is for later entries: a foot drop entered the day it began is a
    true onset (a red flag may rest on it)."""
    fd = features_of(foot_drop("right", onset=days_ago(3), recorded=days_ago(3))).foot_drop
    assert fd is not None
    assert fd.onset.known


def test_a_side_whose_last_episode_abated_has_no_active_foot_drop() -> None:
    assert features_of(foot_drop("right", status="resolved")).foot_drop is None
    fd = features_of(
        foot_drop("right", onset="2024-01-01"),
        foot_drop("left", onset="2024-01-01", status="resolved"),
    ).foot_drop
    assert fd is not None
    assert fd.laterality == "right"


def test_episodes_are_per_side() -> None:
    """A recurrence on the left does not restart the right side's episode."""
    fd = features_of(
        foot_drop("right", onset="2024-01-01"),
        foot_drop("left", onset="2023-01-01"),
        foot_drop("left", onset=days_ago(10), status="recurrence"),
    ).foot_drop
    assert fd is not None
    right, left = fd.episode("right"), fd.episode("left")
    assert right is not None and right.onset.date == as_date("2024-01-01")
    assert left is not None and left.onset.date == as_date(days_ago(10))
    assert left.phase == "acute" and right.phase == "long_standing"


def test_new_foot_drop_opposite_an_existing_one_is_a_new_bilateral_foot_drop() -> None:
    """'A new foot drop (explicit onset < 6 weeks) opposite an existing one is a new
    bilateral foot drop' — also when the new side is a recurrence."""
    fd = features_of(
        foot_drop("right", onset="2024-01-01"),
        abated(foot_drop("left", onset="2023-01-01"), "2023-06-01"),
        foot_drop("left", onset=days_ago(5), status="recurrence"),
    ).foot_drop
    assert fd is not None
    assert fd.laterality == "bilateral"
    assert fd.bilateral_onset is not None
    assert fd.bilateral_onset.date == as_date(days_ago(5)) and fd.bilateral_onset.known


def test_a_recurrence_on_one_side_of_a_bilateral_foot_drop_is_a_new_bilateral_one() -> None:
    fd = features_of(
        condition(PERONEAL["bilateral"], onset="2020-01-01"),  # a side entry
        foot_drop("left", onset="2020-01-01"),
        foot_drop("right", onset="2020-01-01"),
        foot_drop("right", onset=days_ago(6), status="recurrence"),
    ).foot_drop
    assert fd is not None and fd.bilateral_onset is not None
    assert fd.bilateral_onset.date == as_date(days_ago(6))


def test_an_unsided_entry_belongs_to_every_side() -> None:
    fd = features_of(foot_drop("right", onset="2025-01-01"), foot_drop(None, onset="2024-01-01"))
    assert fd.foot_drop is not None
    assert fd.foot_drop.laterality == "right"
    assert [e.side for e in fd.foot_drop.episodes] == ["right"]
    assert fd.foot_drop.onset.date == as_date("2024-01-01")


def test_an_unsided_foot_drop_takes_the_side_of_a_peroneal_palsy() -> None:
    fd = features_of(foot_drop(None), condition(PERONEAL["left"], onset=days_ago(3))).foot_drop
    assert fd is not None
    assert [e.side for e in fd.episodes] == ["left"]


# ── care per side ─────────────────────────────────────────────────────────────────


def afo_device(words: str) -> Json:
    return {
        "resourceType": "Device",
        "id": f"dev-{abs(hash(words))}",
        "status": "active",
        "patient": {"reference": "Patient/pat-1"},
        "type": {"coding": [{"system": SCT, "code": "183160000"}], "text": words},
    }


@pytest.mark.parametrize(
    ("words", "side"),
    [
        ("Rigid ankle-foot orthosis, left", "left"),
        ("Right AFO", "right"),
        ("Bilateral ankle-foot orthoses", "bilateral"),
        ("Rigid ankle-foot orthosis", None),
    ],
)
def test_an_orthosis_takes_its_side_from_its_words(words: str, side: str | None) -> None:
    f = features_of(foot_drop("right"), afo_device(words))
    assert [e.side for e in f.orthosis_in_use] == [side]


def test_an_orthosis_body_site_gives_its_side() -> None:
    statement = device_use("Ankle-foot orthosis")
    statement["bodySite"] = {"coding": [{"system": SCT, "code": "7771000"}]}  # left
    f = features_of(foot_drop("right"), statement)
    assert [e.side for e in f.orthosis_in_use] == ["left"]
    assert not f.orthosis_in_use[0].covers("right")


# ── sources (v3 §2) ───────────────────────────────────────────────────────────────


def care_plan(category: str, start: str, status: str = "completed") -> Json:
    return {
        "resourceType": "CarePlan",
        "id": f"cp-{start}",
        "status": status,
        "intent": "plan",
        "subject": {"reference": "Patient/pat-1"},
        "category": [{"coding": [{"system": SCT, "code": category}]}],
        "period": {"start": start},
    }


@pytest.mark.parametrize(
    ("plan", "counts"),
    [
        (care_plan("91251008", days_ago(5)), True),  # Synthea's PT CarePlan
        (care_plan("91251008", days_ago(5), status="active"), True),
        (care_plan("91251008", "2020-01-01"), False),  # before the onset
        (care_plan("91251008", days_ago(5), status="revoked"), False),
        (care_plan("385691007", days_ago(5)), False),  # fracture care
    ],
)
def test_physical_therapy_from_a_care_plan(plan: Json, counts: bool) -> None:
    assert bool(features_of(foot_drop(onset=days_ago(30)), plan).pt_since_onset) is counts


def test_physical_therapy_from_a_care_plan_activity() -> None:
    plan = care_plan("999999", days_ago(5))
    plan["activity"] = [{"detail": {"status": "completed", "code": {"coding": [
        {"system": SCT, "code": "91251008"}]}}}]  # fmt: skip
    assert features_of(foot_drop(onset=days_ago(30)), plan).pt_since_onset


@pytest.mark.parametrize(
    ("code", "system", "counts"),
    [("97161", CPT, True), ("410158009", SCT, True), ("11429006", SCT, False)],
    ids=["pt-evaluation", "pt-assessment", "consultation-is-not-pt"],
)
def test_physical_therapy_from_an_encounter(code: str, system: str, counts: bool) -> None:
    visit = {
        "resourceType": "Encounter",
        "id": f"enc-{code}",
        "status": "finished",
        "class": {"code": "AMB"},
        "subject": {"reference": "Patient/pat-1"},
        "type": [{"coding": [{"system": system, "code": code}]}],
        "period": {"start": days_ago(5)},
    }
    assert bool(features_of(foot_drop(onset=days_ago(30)), visit).pt_since_onset) is counts


def administration(code: str, system: str, site: str | None) -> Json:
    resource: Json = {
        "resourceType": "MedicationAdministration",
        "id": f"ma-{code}-{abs(hash(site))}",
        "status": "completed",
        "subject": {"reference": "Patient/pat-1"},
        "medicationCodeableConcept": {"coding": [{"system": system, "code": code}]},
        "effectiveDateTime": days_ago(30),
    }
    if site:
        resource["dosage"] = {"site": {"text": site}, "dose": {"value": 100, "unit": "U"}}
    return resource


def named_administration(text: str, site: str | None) -> Json:
    resource = administration("J0585", HCPCS, site)
    resource["medicationCodeableConcept"] = {"text": text}
    return resource


@pytest.mark.parametrize(
    ("resource", "recent"),
    [
        (administration("J0585", HCPCS, "Left gastrocnemius"), True),
        (administration("J0585", HCPCS, "Right calf"), True),
        (administration("J0585", HCPCS, None), False),  # a drug code alone
        (administration("J0585", HCPCS, "Forehead"), False),
        (named_administration("Botox 100 units", "Left calf"), True),
        (named_administration("Botox 100 units", None), False),
    ],
)
def test_botulinum_administration_counts_only_at_a_lower_limb_site(
    resource: Json, recent: bool
) -> None:
    assert bool(features_of(foot_drop(), resource).botulinum_recent) is recent


@pytest.mark.parametrize(
    ("code", "system", "recent"),
    [
        ("64642", CPT, True),
        ("404909007", SCT, True),
        ("64615", CPT, False),  # migraine chemodenervation
        ("64616", CPT, False),  # neck
        ("52287", CPT, False),  # bladder
        ("J0585", HCPCS, False),  # drug code alone
        ("428191000124101", SCT, False),  # Documentation of current medications
    ],
)
def test_botulinum_recent_is_limb_chemodenervation_only(
    code: str, system: str, recent: bool
) -> None:
    proc = procedure(code, system, performed=days_ago(30))
    assert bool(features_of(foot_drop(), proc).botulinum_recent) is recent


# ── calendar durations ────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("start", "end", "months"),
    [
        ("2025-01-31", "2025-02-28", 1),  # a month ending on a shorter month's last day
        ("2025-01-31", "2025-02-27", 0),
        ("2024-01-31", "2024-02-29", 1),
        ("2025-03-15", "2025-06-14", 2),
        ("2025-03-15", "2025-06-15", 3),
        ("2025-06-15", "2026-06-15", 12),
        ("2024-02-29", "2025-02-28", 12),
    ],
)
def test_months_between_counts_as_a_calendar(start: str, end: str, months: int) -> None:
    assert months_between(as_date(start), as_date(end)) == months


@pytest.mark.parametrize(
    ("start", "text"),
    [
        (TODAY, "0 days"),
        (date(2026, 6, 14), "1 day"),
        (date(2026, 6, 2), "13 days"),
        (date(2026, 5, 1), "6 weeks"),
        (date(2026, 3, 15), "3 months"),  # 92 days: "13 weeks" / "3 months" by day counts
        (date(2025, 6, 15), "12 months"),  # 365 days were "11 months" (365 / 30.44)
        (date(2024, 7, 1), "23 months"),
        (date(2024, 6, 15), "2 years"),
    ],
)
def test_duration_text_in_calendar_units(start: date, text: str) -> None:
    assert duration_text(start, TODAY) == text


def test_duration_fact_is_calendar_months() -> None:
    rec = card(
        "palliative-surgery",
        foot_drop("right", onset="2025-06-15"),
        condition(PERONEAL["right"], onset="2025-06-15"),
    )
    assert rec is not None
    assert rec.facts["duration"] == "12 months"
