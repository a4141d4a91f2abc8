"""red-flag-urgent-evaluation: tiers of clinical-logic §3 and safety-review A1–A3."""

from __future__ import annotations

from typing import Any

import pytest

from service.clinical.patient_view import RED_FLAG
from tests.support.clinical import (
    CPT,
    PERONEAL,
    SCT,
    card,
    condition,
    days_ago,
    foot_drop,
    imaging_report,
    procedure,
    service_request,
    strength,
    suggestion_ids,
)

ACUTE = foot_drop(onset=days_ago(10))
CHRONIC = foot_drop(onset="2025-01-10")


def red(*resources: dict[str, Any], **kw: Any) -> Any:
    return card(RED_FLAG, *resources, **kw)


def tier(*resources: dict[str, Any]) -> str | None:
    rec = red(*resources)
    return rec.indicator if rec else None


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        # new sphincter/saddle findings: "its own date <= 14 days"
        pytest.param(
            [ACUTE, condition("R33.9", onset=days_ago(3))], "critical", id="new retention, acute"
        ),
        pytest.param(
            [CHRONIC, condition("R33.9", onset=days_ago(3))],
            "critical",
            id="new retention newer than chronic foot drop",
        ),
        pytest.param(
            [ACUTE, condition("R15.9", recorded=days_ago(1))],
            "critical",
            id="new faecal incontinence",
        ),
        pytest.param(
            [ACUTE, condition("449813001", SCT, onset=days_ago(1))],
            "critical",
            id="saddle anaesthesia",
        ),
        pytest.param(
            [ACUTE, condition("R20.2", onset=days_ago(1), text="saddle numbness")],
            "critical",
            id="R20 + saddle text",
        ),
        pytest.param(
            [ACUTE, condition("R20.2", onset=days_ago(1), text="numb fingers")],
            None,
            id="R20 without saddle text",
        ),
        # chronic findings: "Never on ... chronic sphincter findings with chronic foot drop"
        pytest.param(
            [CHRONIC, condition("R33.9", onset="2024-01-01")],
            None,
            id="chronic retention, chronic foot drop",
        ),
        pytest.param(
            [CHRONIC, condition("R33.9")], None, id="undated retention, chronic foot drop"
        ),
        pytest.param(
            [ACUTE, condition("R33.9", onset=days_ago(60))],
            "warning",
            id="older retention, acute foot drop",
        ),
        pytest.param(
            [ACUTE, condition("K59.2")], "warning", id="undated neurogenic bowel, acute foot drop"
        ),
        # never triggers
        pytest.param([ACUTE, condition("R32", onset=days_ago(2))], None, id="urinary incontinence"),
        pytest.param([ACUTE, condition("N39.41", onset=days_ago(2))], None, id="urge incontinence"),
        pytest.param([ACUTE, condition("N31.9", onset=days_ago(2))], None, id="neurogenic bladder"),
        pytest.param(
            [ACUTE, condition("165232002", SCT, onset=days_ago(2))], None, id="SNOMED incontinence"
        ),
        # cauda equina Condition: "<= 30 days and no decompression since"
        pytest.param(
            [CHRONIC, condition("G83.4", onset=days_ago(20))], "critical", id="recent CES"
        ),
        pytest.param(
            [CHRONIC, condition("G83.4", onset="2025-01-01")], None, id="old CES, chronic foot drop"
        ),
        pytest.param(
            [ACUTE, condition("G83.4", onset="2025-01-01")],
            "warning",
            id="old CES, acute foot drop",
        ),
        pytest.param(
            [
                CHRONIC,
                condition("G83.4", onset=days_ago(20)),
                procedure("89355001", performed=days_ago(15)),
            ],
            None,
            id="recent CES already decompressed",
        ),
        # progression
        pytest.param(
            [ACUTE, strength("5", 20), strength("3", 2)], "critical", id="structured MRC decline"
        ),
        pytest.param(
            [ACUTE, strength("4+", 20), strength("4", 2)], None, id="4+ to 4 is no decline"
        ),
        # bilateral: "new bilateral foot drop (< 6 weeks)"
        pytest.param([foot_drop("right"), foot_drop("left")], "critical", id="new bilateral"),
        pytest.param(
            [condition(PERONEAL["bilateral"], onset=days_ago(5))], "critical", id="new G57.33"
        ),
        pytest.param(
            [
                condition(
                    "6077001",
                    SCT,
                    onset=days_ago(5),
                    body_site={"coding": [{"system": SCT, "code": "51440002"}]},
                )
            ],
            "critical",
            id="bodySite right and left",
        ),
        pytest.param(
            [foot_drop("right", onset="2024-01-01"), foot_drop("left", onset="2024-02-01")],
            None,
            id="old bilateral",
        ),
        pytest.param(
            [foot_drop("right", onset="2024-01-01"), foot_drop("left", onset=days_ago(7))],
            "critical",
            id="second side new",
        ),
        # nothing at all
        pytest.param([ACUTE], None, id="foot drop alone"),
    ],
)
def test_tiers(resources: list[dict[str, Any]], expected: str | None) -> None:
    assert tier(*resources) == expected


def test_text_progression_alone_is_a_warning() -> None:
    """'Text alone gives the red-flag card as warning.'"""
    rec = red(foot_drop(notes=[("foot drop worsening since Monday", days_ago(1))]))
    assert rec is not None
    assert rec.indicator == "warning"
    assert "progression_text_only" in rec.flags
    assert "finding_from_text" in rec.notes


@pytest.mark.parametrize(
    "note",
    [
        "no progression of weakness",
        "weakness stable, not worsening",
        "secondary progressive multiple sclerosis",
        "worsening back pain",
    ],
)
def test_negated_or_disease_name_text_gives_no_card(note: str) -> None:
    assert red(foot_drop(notes=[(note, days_ago(1))])) is None


class TestRecordedDateAlone:
    """'An onset taken from recordedDate alone never makes a red flag critical on its own.'"""

    def test_new_bilateral_by_recorded_dates_is_only_a_warning(self) -> None:
        rec = red(foot_drop("right", recorded=days_ago(5)), foot_drop("left", recorded=days_ago(5)))
        assert rec is not None and rec.indicator == "warning"
        assert "onset_approximate" in rec.notes

    def test_old_finding_with_acute_phase_from_recorded_date_is_a_warning(self) -> None:
        rec = red(foot_drop(recorded=days_ago(3)), condition("R33.9", onset=days_ago(90)))
        assert rec is not None and rec.indicator == "warning"

    def test_a_finding_with_its_own_new_date_is_still_critical(self) -> None:
        rec = red(foot_drop(recorded=days_ago(3)), condition("R33.9", onset=days_ago(10)))
        assert rec is not None and rec.indicator == "critical"


def test_findings_fact_lists_each_finding_with_its_date() -> None:
    rec = red(ACUTE, condition("R33.9", rid="ret", onset=days_ago(3), text="Urinary retention"))
    assert rec is not None
    assert rec.facts["findings"] == f"Urinary retention ({days_ago(3)})"
    assert rec.facts["recorded_ago"] == "recorded 3 days ago"
    assert "lead_urinary_retention" in rec.flags
    assert {"side", "onset", "duration"} <= set(rec.facts)


URGENT = condition("R33.9", onset=days_ago(3))


class TestSuggestions:
    """Stat MRI and spinal surgery referral; a pending non-stat MRI is updated, not duplicated."""

    def test_spinal_route(self) -> None:
        rec = red(ACUTE, URGENT)
        assert suggestion_ids(rec) == ["mri-lumbar-stat", "spine-surgery-referral-stat"]
        assert rec is not None and "spinal_cause_possible" in rec.flags

    def test_pending_non_stat_mri_becomes_an_update_of_that_order(self) -> None:
        mri = service_request("41333006", priority="routine", rid="mri-7")
        rec = red(ACUTE, URGENT, mri)
        assert rec is not None
        update = rec.suggestions[0]
        assert (update.suggestion_id, update.target) == (
            "mri-lumbar-make-stat",
            "ServiceRequest/mri-7",
        )
        assert any(e.resource_id == "mri-7" for e in rec.evidence)

    def test_draft_non_stat_mri_is_the_update_target(self) -> None:
        draft = service_request("41333006", status="draft", rid="draft-9")
        rec = red(ACUTE, URGENT, drafts=(draft,))
        assert rec is not None
        assert rec.suggestions[0].target == "ServiceRequest/draft-9"

    def test_pending_stat_mri_is_not_repeated(self) -> None:
        mri = service_request("41333006", priority="stat")
        assert suggestion_ids(red(ACUTE, URGENT, mri)) == ["spine-surgery-referral-stat"]

    def test_mri_performed_after_the_finding_is_not_repeated(self) -> None:
        """v3 §3: none only when a lumbar MRI was performed after the finding's own date."""
        report = imaging_report("24968-0", when=days_ago(2))
        assert suggestion_ids(red(ACUTE, URGENT, report)) == ["spine-surgery-referral-stat"]

    @pytest.mark.parametrize("when", [days_ago(3), days_ago(5)])
    def test_mri_on_or_before_the_finding_day_is_repeated(self, when: str) -> None:
        report = imaging_report("24968-0", when=when)
        assert suggestion_ids(red(ACUTE, URGENT, report))[0] == "mri-lumbar-stat"

    def test_pending_non_stat_spine_referral_is_updated_to_stat(self) -> None:
        """v3 §1 No nagging: an update of that referral, not a second one."""
        referral = service_request("308482002", priority="routine", rid="ref-3")
        rec = red(ACUTE, URGENT, referral)
        assert rec is not None
        chosen = [(s.suggestion_id, s.target) for s in rec.suggestions]
        assert chosen == [
            ("mri-lumbar-stat", None),
            ("spine-surgery-referral-make-stat", "ServiceRequest/ref-3"),
        ]
        assert any(e.resource_id == "ref-3" for e in rec.evidence)

    def test_a_foot_and_ankle_orthopaedic_referral_is_no_spine_referral(self) -> None:
        referral = service_request("308481009", priority="routine", text="Foot and ankle clinic")
        assert "spine-surgery-referral-stat" in suggestion_ids(red(ACUTE, URGENT, referral))

    def test_pending_stat_spine_referral_is_not_repeated(self) -> None:
        referral = service_request("308482002", priority="stat")
        assert "spine-surgery-referral-stat" not in suggestion_ids(red(ACUTE, URGENT, referral))


class TestRouting:
    """'With a proven peripheral or central cause, route the text accordingly.'"""

    DECLINE = (strength("5", 20), strength("3", 2))

    def test_explaining_central_cause_adds_neurology_and_keeps_the_mri(self) -> None:
        """v3 §3: a proven central cause explains the foot drop; routing adds text and
        never removes the lumbar MRI."""
        sequela = condition("I69.354", onset="2015-01-01")
        rec = red(ACUTE, sequela, *self.DECLINE)
        assert rec is not None
        assert suggestion_ids(rec) == ["mri-lumbar-stat", "neurology-referral-urgent"]
        assert "central_cause" in rec.flags and "spinal_cause_possible" not in rec.flags

    def test_unlinked_central_condition_is_not_proven(self) -> None:
        """MS since 2015 with a foot drop of 10 days: a possible cause, not an explanation."""
        rec = red(ACUTE, condition("G35", onset="2015-01-01"), *self.DECLINE)
        assert rec is not None
        assert suggestion_ids(rec) == [
            "mri-lumbar-stat",
            "spine-surgery-referral-stat",
            "neurology-referral-urgent",
        ]
        assert "central_cause" not in rec.flags

    def test_proven_peripheral_needs_the_lesion_after_ncs_and_an_mri_after_progression(
        self,
    ) -> None:
        palsy = condition(PERONEAL["right"], onset=days_ago(3))
        emg = procedure("95907", CPT, performed=days_ago(4))
        mri = imaging_report("24968-0", when=days_ago(1))
        rec = red(ACUTE, palsy, emg, mri, *self.DECLINE)
        assert rec is not None
        assert suggestion_ids(rec) == ["neurology-referral-urgent"]
        assert "peripheral_cause" in rec.flags

    def test_a_palsy_coded_before_the_ncs_is_not_proven(self) -> None:
        palsy = condition(PERONEAL["right"], onset=days_ago(10))
        emg = procedure("95907", CPT, performed=days_ago(4))
        mri = imaging_report("24968-0", when=days_ago(1))
        rec = red(ACUTE, palsy, emg, mri, *self.DECLINE)
        assert rec is not None and "peripheral_cause" not in rec.flags
        assert "spine-surgery-referral-stat" in suggestion_ids(rec)

    def test_a_proven_peripheral_without_mri_after_progression_keeps_the_mri(self) -> None:
        palsy = condition(PERONEAL["right"], onset=days_ago(3))
        emg = procedure("95907", CPT, performed=days_ago(4))
        rec = red(ACUTE, palsy, emg, *self.DECLINE)
        assert rec is not None and "peripheral_cause" not in rec.flags
        assert suggestion_ids(rec)[0] == "mri-lumbar-stat"

    def test_sphincter_trigger_always_leads_with_the_spinal_pathway(self) -> None:
        """v3 §3: no central or peripheral lesion explains new retention."""
        sequela = condition("I69.354", onset="2015-01-01")
        rec = red(ACUTE, sequela, URGENT)
        assert rec is not None
        assert suggestion_ids(rec) == ["mri-lumbar-stat", "spine-surgery-referral-stat"]
        assert "central_cause" not in rec.flags

    def test_unproven_peroneal_palsy_keeps_the_spinal_route(self) -> None:
        """'Never assume a peroneal lesion at the fibular head.'"""
        palsy = condition(PERONEAL["right"], onset=days_ago(10))
        rec = red(ACUTE, palsy, *self.DECLINE)
        assert rec is not None
        assert suggestion_ids(rec) == ["mri-lumbar-stat", "spine-surgery-referral-stat"]
        assert "peripheral_cause" not in rec.flags

    def test_no_cause_offers_both_routes(self) -> None:
        assert suggestion_ids(red(ACUTE, *self.DECLINE)) == [
            "mri-lumbar-stat",
            "spine-surgery-referral-stat",
            "neurology-referral-urgent",
        ]

    def test_disc_cause_with_progression_is_spinal(self) -> None:
        rec = red(ACUTE, condition("M51.16", onset=days_ago(30)), *self.DECLINE)
        assert suggestion_ids(rec) == ["mri-lumbar-stat", "spine-surgery-referral-stat"]

    def test_evidence_includes_the_strength_series(self) -> None:
        rec = red(ACUTE, *self.DECLINE)
        assert rec is not None
        assert [e.resource_type for e in rec.evidence] == [
            "Condition",
            "Observation",
            "Observation",
        ]


class TestTextOnlyFindings:
    """v3 §2: an uncoded problem-list entry counts with the same tiers as a coded one."""

    @pytest.mark.parametrize(
        ("text", "age_days", "expected"),
        [
            ("acute urinary retention", 2, "critical"),
            ("cauda equina syndrome", 25, "critical"),
            ("urinary retention", 20, "warning"),  # older, acute foot drop
            ("urinary retention", None, "warning"),  # undated, acute foot drop
            ("h/o urinary retention", 2, "warning"),  # a history cue: an older finding
            ("?cauda equina", 2, "critical"),  # suspicion never negates
        ],
    )
    def test_tiers_with_acute_foot_drop(
        self, text: str, age_days: int | None, expected: str
    ) -> None:
        recorded = days_ago(age_days) if age_days is not None else None
        assert tier(ACUTE, condition(None, text=text, recorded=recorded)) == expected

    def test_older_entry_with_chronic_foot_drop_gives_nothing(self) -> None:
        entry = condition(None, text="urinary retention", recorded=days_ago(60))
        assert tier(CHRONIC, entry) is None

    def test_the_basis_says_free_text(self) -> None:
        rec = red(ACUTE, condition(None, text="acute urinary retention", recorded=days_ago(2)))
        assert rec is not None and "finding_from_text" in rec.notes
        assert any(e.value and "recorded as free text" in e.value for e in rec.evidence)

    def test_a_finding_named_only_in_a_note_is_a_warning_at_most(self) -> None:
        fd = foot_drop(onset=days_ago(10), notes=[("new urinary retention", days_ago(1))])
        rec = red(fd)
        assert rec is not None and rec.indicator == "warning"
        assert "red_flag_in_note" in rec.flags
        critical = red(fd, URGENT)
        assert critical is not None and "red_flag_in_note" not in critical.flags


class TestWarningTier:
    """v3 §3: one suggestion, an urgent lumbar MRI; no spine referral."""

    NOTE = foot_drop(notes=[("foot drop worsening since Monday", days_ago(1))])

    def test_one_urgent_mri(self) -> None:
        assert suggestion_ids(red(self.NOTE)) == ["mri-lumbar-urgent"]

    def test_older_sphincter_finding_gets_the_same_single_suggestion(self) -> None:
        older = condition("R33.9", onset=days_ago(60))
        assert suggestion_ids(red(ACUTE, older)) == ["mri-lumbar-urgent"]

    @pytest.mark.parametrize("priority", ["urgent", "asap", "stat"])
    def test_a_pending_urgent_mri_satisfies_it(self, priority: str) -> None:
        mri = service_request("41333006", priority=priority)
        assert suggestion_ids(red(self.NOTE, mri)) == []

    def test_a_routine_pending_mri_is_updated_to_urgent(self) -> None:
        mri = service_request("41333006", priority="routine", rid="mri-r")
        rec = red(self.NOTE, mri)
        assert rec is not None
        assert [(s.suggestion_id, s.target) for s in rec.suggestions] == [
            ("mri-lumbar-make-urgent", "ServiceRequest/mri-r")
        ]

    def test_a_routine_spine_referral_is_not_updated_in_the_warning_tier(self) -> None:
        referral = service_request("308482002", priority="routine")
        assert suggestion_ids(red(self.NOTE, referral)) == ["mri-lumbar-urgent"]


class TestWording:
    """v3 §1: plain facts for the summary; 'bilateral' where it applies."""

    def test_new_bilateral_sets_the_bilateral_flag(self) -> None:
        rec = red(foot_drop("right"), foot_drop("left", onset=days_ago(5)))
        assert rec is not None and "bilateral_new" in rec.flags

    def test_retention_with_new_bilateral_leads_with_retention_and_says_bilateral(self) -> None:
        rec = red(foot_drop("right"), foot_drop("left", onset=days_ago(5)), URGENT)
        assert rec is not None
        assert {"bilateral_new", "lead_urinary_retention"} <= rec.flags

    @pytest.mark.parametrize(
        ("days", "words"),
        [(0, "recorded today"), (1, "recorded yesterday"), (3, "recorded 3 days ago")],
    )
    def test_recorded_ago(self, days: int, words: str) -> None:
        rec = red(ACUTE, condition("R33.9", onset=days_ago(days)))
        assert rec is not None and rec.facts["recorded_ago"] == words

    def test_cauda_equina_leads_over_retention(self) -> None:
        rec = red(ACUTE, URGENT, condition("G83.4", onset=days_ago(5)))
        assert rec is not None and "lead_cauda_equina" in rec.flags
        assert "lead_urinary_retention" not in rec.flags
