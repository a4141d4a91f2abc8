"""Each non-urgent card of clinical-logic §3: when it must fire and when it must not."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.clinical import (
    CPT,
    HCPCS,
    PERONEAL,
    SCT,
    card,
    condition,
    days_ago,
    device_request,
    foot_drop,
    imaging_report,
    procedure,
    service_request,
    suggestion_ids,
    weeks_ago,
)

ACUTE = foot_drop(onset=days_ago(10))
STROKE = condition("I69.351", onset="2024-01-01")
MS = condition("G35", onset="2012-01-01")
PALSY = condition(PERONEAL["right"], onset=days_ago(10))


def fires(topic: str, *resources: dict[str, Any], **kw: Any) -> bool:
    return card(topic, *resources, **kw) is not None


class TestOrthosis:
    T = "orthosis"

    def test_acute_foot_drop_gets_a_warning_with_the_orthotist_recommended(self) -> None:
        rec = card(self.T, ACUTE)
        assert rec is not None and rec.indicator == "warning"
        assert [(s.suggestion_id, s.recommended) for s in rec.suggestions] == [
            ("orthotist-referral", True),
            ("afo-prefabricated", False),
        ]
        assert "fes_needs_intact_nerve" in rec.flags

    @pytest.mark.parametrize(
        ("onset", "indicator"),
        [(days_ago(150), "warning"), (days_ago(200), "info"), ("2020-01-01", "info")],
    )
    def test_warning_only_in_the_first_6_months(self, onset: str, indicator: str) -> None:
        rec = card(self.T, foot_drop(onset=onset))
        assert rec is not None and rec.indicator == indicator

    def test_unknown_onset_is_a_warning(self) -> None:
        rec = card(self.T, condition("M21.371"))
        assert rec is not None and rec.indicator == "warning"

    @pytest.mark.parametrize(
        "extra",
        [
            device_request("L1930", HCPCS),
            service_request("308455005"),
            foot_drop(notes=[("Wears AFO daily", days_ago(40))]),
            foot_drop(notes=[("Uses WalkAide", days_ago(40))]),
            condition("Z99.3"),  # wheelchair dependence
            condition("Z74.01"),  # bed confinement
        ],
    )
    def test_not_when_already_has_one_or_not_ambulatory(self, extra: dict[str, Any]) -> None:
        assert not fires(self.T, ACUTE, extra)

    def test_a_planned_afo_does_not_silence_it(self) -> None:
        assert fires(self.T, foot_drop(notes=[("Consider AFO", days_ago(2))]))

    def test_fes_only_for_a_central_cause_without_a_peripheral_lesion(self) -> None:
        """'FES / peroneal nerve stimulation only when the cause is central ... and no
        peripheral lesion is coded — it needs an intact peroneal nerve.'"""
        central = card(self.T, ACUTE, STROKE)
        assert central is not None
        assert suggestion_ids(central)[-1] == "fes"
        assert "fes_offered" in central.flags and "fes_needs_intact_nerve" not in central.flags
        for lesion in (PALSY, condition("M54.16"), condition("G62.9")):
            mixed = card(self.T, ACUTE, STROKE, lesion)
            assert mixed is not None
            assert "fes" not in suggestion_ids(mixed)
            assert "fes_needs_intact_nerve" in mixed.flags

    def test_fes_caution_with_a_pacemaker(self) -> None:
        rec = card(self.T, foot_drop(onset="2024-01-01"), MS, condition("Z95.0"))
        assert rec is not None and {"fes_offered", "fes_cardiac_caution"} <= rec.flags

    def test_insensate_feet_caution(self) -> None:
        rec = card(self.T, ACUTE, condition("E11.42"))
        assert rec is not None and "insensate_feet" in rec.flags

    def test_not_for_a_peroneal_palsy_without_a_foot_drop_code(self) -> None:
        assert not fires(self.T, PALSY)


class TestPhysicalTherapy:
    T = "physical-therapy"

    def test_fires_without_pt_since_onset(self) -> None:
        rec = card(self.T, ACUTE)
        assert rec is not None and suggestion_ids(rec) == ["pt-referral"]
        assert rec.indicator == "warning"

    def test_pt_before_onset_does_not_count(self) -> None:
        old = service_request("308447003", status="completed", authored=days_ago(90))
        assert fires(self.T, ACUTE, old)

    @pytest.mark.parametrize(
        "extra",
        [
            service_request("308447003"),
            procedure("91251008", performed=days_ago(2)),
            condition("Z99.3"),
        ],
    )
    def test_not_with_pt_since_onset_or_non_ambulatory(self, extra: dict[str, Any]) -> None:
        assert not fires(self.T, ACUTE, extra)

    def test_drafted_pt_counts_as_ordered(self) -> None:
        draft = service_request("308447003", status="draft")
        assert not fires(self.T, ACUTE, drafts=(draft,))

    def test_orthosis_from_text_is_noted(self) -> None:
        rec = card(self.T, foot_drop(notes=[("wears a left AFO", days_ago(3))]))
        assert rec is not None and "orthosis_from_text" in rec.notes


class TestLocalizationWorkup:
    T = "localization-workup"

    def test_acute_with_no_cause_is_a_warning_with_emg_and_lumbar_mri(self) -> None:
        rec = card(self.T, ACUTE)
        assert rec is not None and rec.indicator == "warning"
        assert suggestion_ids(rec) == ["ncs-emg", "mri-lumbar"]

    def test_uninvestigated_peroneal_lesion_is_a_warning_with_emg_and_nerve_imaging(self) -> None:
        rec = card(self.T, ACUTE, PALSY)
        assert rec is not None and rec.indicator == "warning"
        assert suggestion_ids(rec) == ["ncs-emg", "nerve-imaging"]

    def test_disc_cause_is_info_with_lumbar_mri(self) -> None:
        rec = card(self.T, ACUTE, condition("M51.16", onset=days_ago(20)))
        assert rec is not None and rec.indicator == "info"
        assert suggestion_ids(rec) == ["ncs-emg", "mri-lumbar"]

    def test_plexopathy_gets_plexus_mri(self) -> None:
        assert "mri-plexus" in suggestion_ids(card(self.T, ACUTE, condition("G54.1")))

    def test_sciatic_lesion_gets_nerve_imaging(self) -> None:
        assert "nerve-imaging" in suggestion_ids(card(self.T, ACUTE, condition("G57.01")))

    def test_chronic_without_cause_is_info(self) -> None:
        rec = card(self.T, foot_drop(onset="2025-01-01"))
        assert rec is not None and rec.indicator == "info"

    @pytest.mark.parametrize("central", [STROKE, MS, condition("G80.1"), condition("G95.9")])
    def test_not_when_an_established_central_cause_explains_it(
        self, central: dict[str, Any]
    ) -> None:
        """A sequela with a deficit at any onset; a chronic disease with a foot drop of
        6 months or more (v3 §2)."""
        assert not fires(self.T, foot_drop(onset="2025-01-01"), central)
        assert (central is not STROKE) == fires(self.T, ACUTE, central)

    def test_stroke_without_residual_deficit_explains_nothing(self) -> None:
        assert fires(self.T, ACUTE, condition("Z86.73", onset="2020-01-01"))

    def test_not_when_the_work_up_is_done_or_ordered(self) -> None:
        emg = procedure("95907", CPT, performed=days_ago(3))
        mri = service_request("41333006")
        assert not fires(self.T, ACUTE, emg, mri)

    def test_only_the_missing_item_is_suggested(self) -> None:
        report = imaging_report("24968-0", when=days_ago(2))
        assert suggestion_ids(card(self.T, ACUTE, report)) == ["ncs-emg"]

    def test_suspected_central_cause_names_brain_and_cord_imaging_not_lumbar_mri(self) -> None:
        rec = card(self.T, ACUTE, condition("221360009", SCT))
        assert rec is not None and "central_suspected" in rec.flags
        assert suggestion_ids(rec) == ["ncs-emg"]

    def test_work_up_fires_for_a_peroneal_palsy_proxy(self) -> None:
        assert fires(self.T, PALSY)


class TestCentralCauseTemporalLink:
    """v3 §2: a central cause explains the foot drop only when linked in time."""

    OLD_STROKE = condition("I63.9", onset="1988-04-02")

    def test_unlinked_stroke_fires_the_work_up_and_names_it(self) -> None:
        rec = card("localization-workup", ACUTE, self.OLD_STROKE)
        assert rec is not None and rec.indicator == "warning"
        assert "central_possible" in rec.flags
        assert "1988-04-02" in rec.facts["possible_cause"]
        assert suggestion_ids(rec) == ["ncs-emg", "mri-lumbar"]

    def test_unlinked_stroke_gives_no_fes(self) -> None:
        assert "fes" not in suggestion_ids(card("orthosis", ACUTE, self.OLD_STROKE))

    def test_a_stroke_two_weeks_before_explains_it(self) -> None:
        stroke = condition("I63.9", onset=days_ago(24))
        assert not fires("localization-workup", ACUTE, stroke)
        assert "fes" in suggestion_ids(card("orthosis", ACUTE, stroke))

    def test_ms_with_a_recent_foot_drop_is_info_and_names_ms_first(self) -> None:
        rec = card("localization-workup", foot_drop(onset=weeks_ago(8)), MS)
        assert rec is not None and rec.indicator == "info"
        assert "central_chronic_first" in rec.flags
        assert suggestion_ids(rec)[0] == "neurology-referral"

    def test_a_pending_neurology_referral_is_not_repeated(self) -> None:
        referral = service_request("308474002")  # referral to neurology service (value set)
        rec = card("localization-workup", foot_drop(onset=weeks_ago(8)), MS, referral)
        assert rec is not None and "neurology-referral" not in suggestion_ids(rec)

    def test_disc_surgery_is_excluded_only_by_an_explaining_cause(self) -> None:
        disc = condition("M51.16", onset=weeks_ago(8))
        fd = foot_drop(onset=weeks_ago(8))
        assert fires("disc-surgery-referral", fd, disc, self.OLD_STROKE)
        assert not fires("disc-surgery-referral", fd, disc, STROKE)


class TestPeronealDecompression:
    T = "peroneal-decompression"

    def test_fires_and_asks_about_leg_crossing(self) -> None:
        rec = card(self.T, ACUTE, PALSY)
        assert rec is not None and rec.indicator == "info"
        assert suggestion_ids(rec) == ["nerve-surgery-referral"]
        assert "leg_crossing_not_recorded" in rec.flags

    def test_leg_crossing_recorded_leads_with_behaviour(self) -> None:
        palsy = condition(PERONEAL["right"], notes=[("habitually crosses legs", days_ago(5))])
        rec = card(self.T, ACUTE, palsy)
        assert rec is not None and "leg_crossing_recorded" in rec.flags
        assert "finding_from_text" in rec.notes

    def test_fires_with_unknown_onset(self) -> None:
        assert fires(self.T, condition("M21.371"), PALSY)

    @pytest.mark.parametrize(
        "extra",
        [
            condition("S84.11XA", onset=days_ago(20)),  # traumatic
            condition("S83.106A", onset=days_ago(20)),  # knee dislocation
            condition("S82.831A", onset=days_ago(20)),  # fibular fracture
            procedure(None, text="Decompression of the right common peroneal nerve"),
        ],
    )
    def test_not_when_traumatic_or_already_decompressed(self, extra: dict[str, Any]) -> None:
        assert not fires(self.T, ACUTE, PALSY, extra)

    def test_not_after_12_months(self) -> None:
        assert not fires(self.T, foot_drop(onset="2025-05-01"), PALSY)

    def test_not_without_a_peroneal_lesion(self) -> None:
        assert not fires(self.T, ACUTE)


class TestNerveInjuryReferral:
    T = "nerve-injury-referral"

    @pytest.mark.parametrize("code", ["S84.11XA", "S74.01XA", "S83.106A"])
    def test_recent_injury_is_a_warning(self, code: str) -> None:
        rec = card(self.T, ACUTE, condition(code, onset=days_ago(20)))
        assert rec is not None and rec.indicator == "warning"
        assert suggestion_ids(rec) == ["nerve-surgery-referral"]

    def test_not_after_12_months(self) -> None:
        assert not fires(self.T, ACUTE, condition("S84.11XS", onset="2024-01-01"))

    def test_undated_injury_is_dated_by_the_foot_drop(self) -> None:
        assert fires(self.T, ACUTE, condition("S84.11XA"))
        assert not fires(self.T, foot_drop(onset="2024-01-01"), condition("S84.11XA"))


class TestDiscSurgeryReferral:
    T = "disc-surgery-referral"
    DISC = condition("M51.16", onset=days_ago(60))

    @pytest.mark.parametrize(
        ("onset", "expected"),
        [(weeks_ago(3), False), (weeks_ago(4), True), (days_ago(300), True), ("2025-01-01", False)],
    )
    def test_foot_drop_4_weeks_to_12_months(self, onset: str, expected: bool) -> None:
        assert fires(self.T, foot_drop(onset=onset), self.DISC) is expected

    def test_suggests_a_spine_surgery_referral(self) -> None:
        rec = card(self.T, foot_drop(onset=weeks_ago(8)), self.DISC)
        assert rec is not None and rec.indicator == "info"
        assert suggestion_ids(rec) == ["spine-surgery-referral"]

    @pytest.mark.parametrize(
        "extra",
        [
            procedure("89355001", performed=days_ago(10)),  # discectomy
            service_request("308482002"),  # referral pending
            STROKE,  # another proven cause
            foot_drop(notes=[("worsening weakness", days_ago(1))]),  # red flag (warning)
        ],
    )
    def test_not_when_done_referred_explained_or_red_flag(self, extra: dict[str, Any]) -> None:
        assert not fires(self.T, foot_drop(onset=weeks_ago(8)), self.DISC, extra)

    def test_peroneal_lesion_proven_on_emg_excludes_it(self) -> None:
        emg = procedure("95907", CPT, performed=days_ago(20))
        palsy = condition(PERONEAL["right"], onset=weeks_ago(8))
        assert not fires(self.T, foot_drop(onset=weeks_ago(8)), self.DISC, palsy, emg)

    def test_old_disc_herniation_does_not_count(self) -> None:
        old = condition("M51.16", onset="2023-01-01")
        assert not fires(self.T, foot_drop(onset=weeks_ago(8)), old)


class TestPalliativeSurgery:
    T = "palliative-surgery"
    OLD = foot_drop(onset="2024-03-01")

    def test_long_standing_peripheral_foot_drop(self) -> None:
        rec = card(self.T, self.OLD, condition(PERONEAL["right"], onset="2024-03-01"))
        assert rec is not None and rec.indicator == "info"
        assert suggestion_ids(rec) == ["foot-ankle-surgery-referral"]

    @pytest.mark.parametrize(
        "extra",
        [
            MS,
            condition("G35", status="remission"),
            condition("G12.21"),
            STROKE,
            condition("221360009", SCT),
            procedure(None, text="posterior tibial tendon transfer", performed="2025-01-01"),
            procedure("3026000", performed="2025-01-01"),
        ],
    )
    def test_not_with_progressive_or_central_disease_or_after_surgery(
        self, extra: dict[str, Any]
    ) -> None:
        palsy = condition(PERONEAL["right"], onset="2024-03-01")
        assert not fires(self.T, self.OLD, palsy, extra)

    def test_not_before_12_months(self) -> None:
        palsy = condition(PERONEAL["right"])
        assert not fires(self.T, foot_drop(onset=days_ago(300)), palsy)

    def test_not_with_an_approximate_onset(self) -> None:
        palsy = condition(PERONEAL["right"])
        assert not fires(self.T, foot_drop(recorded="2020-01-01"), palsy)

    def test_not_without_a_peripheral_cause(self) -> None:
        assert not fires(self.T, self.OLD)


class TestSpasticityBotulinum:
    T = "spasticity-botulinum"

    def test_spasticity_with_a_central_cause(self) -> None:
        rec = card(self.T, ACUTE, STROKE, condition("221360009", SCT))
        assert rec is not None and rec.indicator == "info"
        assert suggestion_ids(rec) == ["botulinum-evaluation-referral"]

    def test_lower_limb_spasticity_without_a_coded_cause(self) -> None:
        assert fires(self.T, ACUTE, condition("312444006", SCT))

    @pytest.mark.parametrize(
        "extra",
        [
            condition("M62.838"),  # muscle spasm is not spasticity
            condition("R25.2"),
            condition("221360009", SCT, body_site={"text": "right arm"}),  # no central cause
        ],
    )
    def test_not_for_spasm_or_upper_limb_alone(self, extra: dict[str, Any]) -> None:
        assert not fires(self.T, ACUTE, extra)

    def test_not_with_botulinum_in_6_months(self) -> None:
        spastic = condition("G81.14")
        assert not fires(self.T, ACUTE, spastic, procedure("64642", CPT, performed=days_ago(90)))
        assert fires(self.T, ACUTE, spastic, procedure("64642", CPT, performed=days_ago(200)))

    def test_not_with_a_pending_rehabilitation_referral(self) -> None:
        assert not fires(self.T, ACUTE, condition("G81.14"), service_request("306289000"))
