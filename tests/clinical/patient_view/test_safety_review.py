"""Defects found in the clinical safety review of the patient-view rules (clinical-logic v2 §1–§3).

Each test quotes the sentence of the specification it holds the service to.
"""

from __future__ import annotations

from typing import Any

from service.clinical.patient_view import RED_FLAG
from tests.support.clinical import (
    FOOT_DROP,
    SCT,
    card,
    condition,
    days_ago,
    foot_drop,
    imaging_report,
    service_request,
    suggestion_ids,
)


def red(*resources: dict[str, Any], **kw: Any) -> Any:
    return card(RED_FLAG, *resources, **kw)


class TestNewBilateralWithOneSideUndated:
    """§3 red flag: "new bilateral foot drop (< 6 weeks)"; §1: "new red flags ... must never
    be missed".

    When one side began 10 days ago (a true onset) and the other side carries no date, the
    foot drop became bilateral no earlier than 10 days ago: it is new.
    """

    def test_second_side_undated_still_raises_the_red_flag(self) -> None:
        rec = red(
            foot_drop("right", onset=days_ago(10)),
            condition(FOOT_DROP["left"], onset=None),
        )
        assert rec is not None
        assert rec.indicator == "critical"

    def test_dated_side_by_recorded_date_only_is_a_warning(self) -> None:
        """ "An onset taken from recordedDate alone never makes a red flag critical on its own." """
        rec = red(
            foot_drop("right", recorded=days_ago(10)),
            condition(FOOT_DROP["left"], onset=None),
        )
        assert rec is not None
        assert rec.indicator == "warning"

    def test_old_dated_side_with_undated_side_is_not_new(self) -> None:
        assert (
            red(foot_drop("right", onset="2024-01-01"), condition(FOOT_DROP["left"], onset=None))
            is None
        )

    def test_both_sides_undated_gives_no_red_flag(self) -> None:
        assert (
            red(condition(FOOT_DROP["right"], onset=None), condition(FOOT_DROP["left"], onset=None))
            is None
        )


RETENTION = condition("R33.9", onset=days_ago(3))


class TestPendingMriThatCannotBeUpdated:
    """§1 No nagging: "a pending *non-stat* lumbar MRI ... never silences the red-flag card;
    the card proposes updating that order to `stat` instead." §3: "MRI lumbar spine, priority
    `stat` (or an `update` of a pending non-stat one ...)".

    Only an order (ServiceRequest) has a priority to update. A scheduled ImagingStudy or a
    registered DiagnosticReport cannot be made stat, and an update aimed at one is dropped
    when the card is rendered: the stat MRI must then be proposed as a new order.
    """

    def test_registered_report_alone_gives_a_new_stat_mri(self) -> None:
        pending = imaging_report("24968-0", status="registered")
        rec = red(foot_drop(), RETENTION, pending)
        assert rec is not None and rec.indicator == "critical"
        assert suggestion_ids(rec)[0] == "mri-lumbar-stat"

    def test_scheduled_imaging_study_alone_gives_a_new_stat_mri(self) -> None:
        study = {
            "resourceType": "ImagingStudy",
            "id": "img-1",
            "status": "registered",
            "subject": {"reference": "Patient/pat-1"},
            "procedureCode": [{"coding": [{"system": SCT, "code": "41333006"}]}],
        }
        assert suggestion_ids(red(foot_drop(), RETENTION, study))[0] == "mri-lumbar-stat"

    def test_the_pending_order_is_the_update_target_not_its_report(self) -> None:
        pending = imaging_report("24968-0", status="registered")
        order = service_request("41333006", priority="routine", rid="mri-5")
        rec = red(foot_drop(), RETENTION, pending, order)
        assert rec is not None
        first = rec.suggestions[0]
        assert (first.suggestion_id, first.target) == (
            "mri-lumbar-make-stat",
            "ServiceRequest/mri-5",
        )


class TestFirstLineTierAtSixMonths:
    """§3 orthosis: "warning under 6 months from onset or unknown; info later"; physical
    therapy: "as orthosis". At exactly 6 months the foot drop is no longer under 6 months."""

    SIX_MONTHS = "2025-12-15"  # the request day is 2026-06-15

    def test_exactly_six_months_is_info(self) -> None:
        for topic in ("orthosis", "physical-therapy"):
            rec = card(topic, foot_drop(onset=self.SIX_MONTHS))
            assert rec is not None and rec.indicator == "info", topic

    def test_one_day_under_six_months_is_a_warning(self) -> None:
        for topic in ("orthosis", "physical-therapy"):
            rec = card(topic, foot_drop(onset="2025-12-16"))
            assert rec is not None and rec.indicator == "warning", topic


class TestProgressionText:
    """§2 (b): "progressive / progressing / worsening / getting worse in a foot-drop, weakness
    or radiculopathy Condition's note ... dated ≤ 14 days, with negation handled ('no', 'not',
    'denies', 'without', 'stable', 'improving', 'non-progressive') ... Text alone gives the
    red-flag card as `warning`."

    "improving" is a negation cue; "not improving" / "no improvement" is not a statement that
    the weakness improves, and must not hide a progression written in the same clause.
    """

    @staticmethod
    def note_tier(note: str) -> str | None:
        rec = red(foot_drop(notes=[(note, days_ago(1))]))
        return rec.indicator if rec else None

    def test_progressively_weaker_is_progression(self) -> None:
        assert self.note_tier("foot drop progressively weaker") == "warning"

    def test_progressing_and_not_improving(self) -> None:
        assert self.note_tier("weakness progressing and not improving with PT") == "warning"

    def test_no_improvement_and_worsening(self) -> None:
        assert self.note_tier("no improvement and worsening weakness") == "warning"

    def test_not_improving_or_worsening_is_no_progression(self) -> None:
        assert self.note_tier("foot drop not improving or worsening") is None

    def test_progressively_improving_is_still_negated(self) -> None:
        assert self.note_tier("foot drop progressively improving") is None


class TestOrthosisNotWorn:
    """§3 orthosis: fires for "foot drop, no orthosis or FES in use"; §2 orthosis_in_use from
    '"AFO", "brace" ... in notes'. A note saying the AFO is not worn is no orthosis in use."""

    def test_afo_not_worn_is_not_in_use(self) -> None:
        note = foot_drop(notes=[("AFO not worn, skin irritation", days_ago(3))])
        rec = card("orthosis", note)
        assert rec is not None and rec.indicator == "warning"

    def test_afo_not_being_used_is_not_in_use(self) -> None:
        assert card("orthosis", foot_drop(notes=[("AFO not being used", days_ago(3))]))

    def test_walkaide_not_used_is_not_in_use(self) -> None:
        stroke = condition("I69.351", onset="2020-01-01")
        note = foot_drop(notes=[("WalkAide not used since March", days_ago(3))])
        assert card("orthosis", note, stroke)

    def test_afo_worn_daily_is_in_use(self) -> None:
        assert card("orthosis", foot_drop(notes=[("wears AFO daily", days_ago(3))])) is None


class TestNewSphincterFindingAlreadyMarkedResolved:
    """§3 red flag: "new urinary retention, faecal incontinence / neurogenic bowel or saddle
    anaesthesia (its own date ≤ 14 days) while the foot drop is acute/subacute"; §1: "new red
    flags ... must never be missed".

    Acute retention relieved by a catheter is often closed on the problem list within days
    (clinicalStatus resolved / inactive). It still happened in the last 14 days.
    """

    def test_resolved_retention_of_last_week_is_critical(self) -> None:
        rec = red(foot_drop(), condition("R33.9", status="resolved", onset=days_ago(5)))
        assert rec is not None and rec.indicator == "critical"

    def test_inactive_saddle_anaesthesia_of_last_week_is_critical(self) -> None:
        saddle = condition("449813001", SCT, status="inactive", onset=days_ago(5))
        rec = red(foot_drop(), saddle)
        assert rec is not None and rec.indicator == "critical"

    def test_old_resolved_retention_gives_no_card(self) -> None:
        """Only *new* findings: an old resolved one is neither critical nor a warning."""
        assert red(foot_drop(), condition("R33.9", status="resolved", onset=days_ago(60))) is None

    def test_undated_resolved_retention_gives_no_card(self) -> None:
        assert red(foot_drop(), condition("R33.9", status="resolved")) is None
