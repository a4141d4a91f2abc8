"""PatientData -> PatientFeatures: every feature of clinical-logic §2, with its evidence.

    Conditions ──read_conditions──┐
    Observations ─read_observations┼─> foot drop (onset, phase, side) ─┐
    orders, procedures, devices,   │                                   ├─> PatientFeatures
    medications ──CareReader───────┘   renal, progression, text  ──────┘

`read_record` reads the record once (`RecordReading`); `RecordReading.features`
gives the features with any of the request's draft orders counted as already
ordered — all of them (`extract`), or, for the order checks, the drafts other
than the one being checked. Every resource or field the features needed but
could not read is listed in `PatientFeatures.unreadable`.

Pure: the same data and request time always give the same features.

Choices where the spec is silent, for the docs:
- With no active foot-drop Condition, an active coded common peroneal palsy stands in
  (`FootDrop.proxy`); its side and onset are used the same way.
- Care "since onset": pending orders count whatever their date (they will still be
  done); completed items count from the onset day, undated ones always, and all of
  them when the onset is unknown — so the service errs towards not re-suggesting.
- The orthosis or FES device named in a Condition note counts as in use, whatever
  the note's date (orthoses are rarely coded, A10).
- Dalfampridine allergy: an AllergyIntolerance coded as dalfampridine or naming it
  or 4-aminopyridine, in any clinical status except refuted / entered in error.
- An active compounded 4-aminopyridine counts as `other_4ap`; a stopped one does not.
- A urinary retention, bowel or saddle finding already closed (inactive, resolved) still
  counts as a red-flag finding when its own date is within the red-flag window (14 days):
  a new finding must never be missed because the problem list was tidied.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from mappings.matcher import ValueSetIndex
from mappings.text import TextPatterns
from service.clinical.features import text
from service.clinical.features.care import FOUR_AMINOPYRIDINES, CareReader, CareReading
from service.clinical.features.central import central_causes, named_by_foot_drop
from service.clinical.features.codes import recognised_matches
from service.clinical.features.conditions import (
    ConditionEntry,
    findings,
    read_conditions,
    with_feature,
)
from service.clinical.features.dialysis import dialysis_or_esrd
from service.clinical.features.model import (
    CareEvent,
    CareEvents,
    Evidence,
    Finding,
    FootDrop,
    PatientFeatures,
    Progression,
    Sex,
)
from service.clinical.features.observations import read_observations
from service.clinical.features.onset import SidedOnset, assemble
from service.clinical.features.progression import structured_decline, text_progression
from service.clinical.features.records import (
    counts,
    display_name,
    make_evidence,
    months_before,
    years_between,
)
from service.clinical.features.renal import RenalAssessor
from service.clinical.thresholds import ClinicalThresholds
from service.fhir.patient_data import DraftOrder, PatientData
from service.fhir.readers import Unreadable

CENTRAL_CAUSES = (
    "stroke",
    "spinal_cord",
    "cerebral_palsy",
    "central_sequela",
    "central_acute_event",
)
#: Central causes that persist through remission; read in any clinical status but resolved.
LIFELONG_CENTRAL_CAUSES = ("multiple_sclerosis",)
PROGRESSIVE_DISEASES = ("multiple_sclerosis", "motor_neuron_disease")

#: Care features by how they count (field of PatientFeatures -> care features).
_SINCE_ONSET = {
    "orthosis_in_use": ("orthosis",),
    "fes_in_use": ("fes",),
    "pt_since_onset": ("physical_therapy",),
    "ncs_emg": ("ncs_emg",),
    "lumbar_mri": ("mri_lumbar",),
    "plexus_mri": ("mri_plexus",),
    "nerve_imaging": ("nerve_imaging",),
    "spine_surgery_referral": ("spine_surgery_referral",),
    "neurology_referral": ("neurology_referral",),
    "rehabilitation_referral": ("rehabilitation_referral",),
}
_EVER_DONE = {
    "dalfampridine_past_course": ("dalfampridine",),
    "discectomy": ("discectomy",),
    "lumbar_decompression": ("lumbar_decompression",),
    "palliative_surgery": ("tendon_transfer", "ankle_arthrodesis"),
    "peroneal_decompression": ("peroneal_decompression",),
}
_CURRENT = {
    "dalfampridine_active": ("dalfampridine",),
    "other_4ap": ("other_4ap",),
    "oct2_inhibitor": ("oct2_inhibitor",),
}


def _sided(entries: Iterable[ConditionEntry], feature: str) -> list[SidedOnset]:
    return [
        SidedOnset(
            e.finding(feature), e.onset, e.side, e.active, e.recurrence, e.abated, e.recorded_date
        )
        for e in entries
    ]


def _foot_drop(
    conditions: Sequence[ConditionEntry], today: date, thresholds: ClinicalThresholds
) -> FootDrop | None:
    # Every status: an earlier, abated entry ends an episode (v3 §1 Time).
    foot_drop = _sided(with_feature(conditions, "foot_drop", active_only=False), "foot_drop")
    peroneal = _sided(with_feature(conditions, "peroneal_neuropathy"), "peroneal_neuropathy")
    found = assemble(foot_drop, peroneal, False, today, thresholds)
    return found or assemble(peroneal, (), True, today, thresholds)


def _central_entries(
    conditions: Sequence[ConditionEntry],
) -> list[tuple[ConditionEntry, Finding]]:
    """Active central-cause entries, and multiple sclerosis in any status but resolved."""
    unresolved = [e for e in conditions if not e.resolved]
    entries = dict.fromkeys(
        [
            *with_feature(conditions, *CENTRAL_CAUSES),
            *with_feature(unresolved, *LIFELONG_CENTRAL_CAUSES, active_only=False),
        ]
    )
    wanted = (*CENTRAL_CAUSES, *LIFELONG_CENTRAL_CAUSES)
    return [(e, e.finding(next(f for f in wanted if f in e.features))) for e in entries]


def _patient(
    data: PatientData, today: date, unreadable: list[Unreadable]
) -> tuple[Evidence | None, date | None, int | None, Sex]:
    """The Patient's evidence, birth date, age in completed years at the request, and sex."""
    patient = data.patient
    if patient is None:
        return None, None, None, "unknown"
    reader = patient.reader()
    birth = reader.date("birthDate")
    gender = reader.code("gender")
    unreadable.extend(patient.unreadable(reader.unreadable))
    age = years_between(birth, today) if birth else None
    sexes: dict[str | None, Sex] = {"female": "female", "male": "male"}
    value = f"age {age if age is not None else 'unknown'}, gender {gender or 'not recorded'}"
    return make_evidence(patient, "Patient", birth, value), birth, age, sexes.get(gender, "unknown")


def _allergies(
    data: PatientData, index: ValueSetIndex, patterns: TextPatterns, unreadable: list[Unreadable]
) -> tuple[Finding, ...]:
    """Allergies coded as dalfampridine or naming it or 4-aminopyridine (not refuted)."""
    screen = patterns.screen(sorted(FOUR_AMINOPYRIDINES))
    found = []
    for allergy in data.of_type("AllergyIntolerance"):
        reader = allergy.reader()
        if counts(reader):
            code = reader.concept("code")
            concepts = [code] if code else []
            coded = any(m.feature == "dalfampridine" for m in recognised_matches(index, concepts))
            words = code.words if code else ""
            named = any(patterns.find(group, words) for group in screen(words))
            if coded or named:
                when = reader.date("onsetDateTime") or reader.date("recordedDate")
                display = display_name(concepts, (), ()) or "dalfampridine"
                evidence = make_evidence(allergy, display, when)
                found.append(Finding("dalfampridine_allergy", evidence, when, from_text=not coded))
        unreadable.extend(allergy.unreadable(reader.unreadable))
    return tuple(found)


class _Care:
    """Care events of the data, selected by feature, state and time."""

    def __init__(self, events: Sequence[CareEvent], onset: date | None) -> None:
        self.events = events
        self.onset = onset

    def since_onset(self, *features: str) -> CareEvents:
        return tuple(
            e
            for e in self.events
            if e.feature in features
            and (e.state != "done" or e.date is None or self.onset is None or e.date >= self.onset)
        )

    def done(self, *features: str) -> CareEvents:
        return tuple(e for e in self.events if e.feature in features and e.state == "done")

    def current(self, *features: str) -> CareEvents:
        return tuple(e for e in self.events if e.feature in features and e.state != "done")

    def since(self, day: date, *features: str) -> CareEvents:
        return tuple(
            e
            for e in self.events
            if e.feature in features and (e.date is None or e.date >= day or e.state != "done")
        )


@dataclass(frozen=True)
class RecordReading:
    """The record read once: every feature but care (and what could not be read), the
    record's own care events, and each draft order as the care reader read it."""

    without_care: PatientFeatures
    care: tuple[CareEvent, ...]
    unreadable: tuple[Unreadable, ...]
    drafts: tuple[tuple[DraftOrder, CareReading], ...]
    thresholds: ClinicalThresholds

    def features(self, ordered: Iterable[CareReading] = ()) -> PatientFeatures:
        """Every feature, with the given draft orders counted as already ordered."""
        drafts = list(ordered)
        f = self.without_care
        today = f.now.date()
        care = _Care([*self.care, *(e for d in drafts for e in d.events)], _onset(f.foot_drop))
        botulinum_since = months_before(today, self.thresholds.botulinum_months)
        fields: dict[str, Any] = {
            **{name: care.since_onset(*found) for name, found in _SINCE_ONSET.items()},
            **{name: care.done(*found) for name, found in _EVER_DONE.items()},
            **{name: care.current(*found) for name, found in _CURRENT.items()},
            "botulinum_recent": care.since(botulinum_since, "botulinum"),
            "unreadable": self.unreadable + tuple(u for d in drafts for u in d.unreadable),
        }
        return replace(f, **fields)


def _onset(foot_drop: FootDrop | None) -> date | None:
    """The day care counts "since onset" from (v3 §1 Time): the newest current episode's
    onset, true onsets first — a new episode on either side needs its first-line care
    again; a side only a peroneal palsy names does not date it."""
    if foot_drop is None:
        return None
    onsets = [e.onset for e in foot_drop.episodes if not e.side_only] or [foot_drop.onset]
    for approximate in (False, True):
        dated = [o.date for o in onsets if o.date is not None and o.approximate == approximate]
        if dated:
            return max(dated)
    return None


def read_record(
    data: PatientData,
    index: ValueSetIndex,
    patterns: TextPatterns,
    thresholds: ClinicalThresholds,
    *,
    codes_first: bool = True,
) -> RecordReading:
    """Read every §2 feature of the record, and the request's draft orders, once.

    `codes_first` glances at Observations' and care resources' codes (and care's words)
    on the JSON as sent before reading them (see `read_observations`, `CareReader`):
    the same reading, faster; off, every resource is read in full (for the tests).
    """
    today = data.now.date()
    unreadable: list[Unreadable] = list(data.unreadable)
    patient, birth, age, sex = _patient(data, today, unreadable)
    conditions = read_conditions(data.of_type("Condition"), index, birth, patterns)
    observations = read_observations(
        data.of_type("Observation"), index, patterns, codes_first=codes_first
    )
    foot_drop = _foot_drop(conditions, today, thresholds)
    reader = CareReader(index, patterns, data, codes_first=codes_first)
    record_care = list(reader.record(data))
    drafts = tuple((order, reader.draft(order.resource)) for order in data.draft_orders)
    allergies = _allergies(data, index, patterns, unreadable)
    seizure_text, seizure_verify_text = text.seizure_from_text(conditions, patterns)
    record_events = [e for r in record_care for e in r.events]
    dialysis = dialysis_or_esrd(conditions, observations.findings, record_events, today, thresholds)

    def coded(*features: str) -> tuple[Finding, ...]:
        """Active Condition entries and present Observation findings of `features`."""
        from_observations = tuple(f for f in observations.findings if f.feature in features)
        return findings(conditions, *features) + from_observations

    def lifelong(*features: str) -> tuple[Finding, ...]:
        """Entries in any clinical status but resolved: multiple sclerosis in remission
        (or recorded inactive between relapses) is still multiple sclerosis."""
        unresolved = [e for e in conditions if not e.resolved]
        return findings(unresolved, *features, active_only=False)

    new_since = today - timedelta(days=thresholds.red_flag_finding_days)
    closed_new = tuple(
        e
        for e in conditions
        if e.features and not e.active and e.onset.date is not None and e.onset.date >= new_since
    )

    def red_flag(*features: str) -> tuple[Finding, ...]:
        """Active entries and observations, and entries already closed (inactive, resolved)
        whose own date is new: a retention catheterised and closed within days is still new."""
        return coded(*features) + findings(closed_new, *features, active_only=False)

    red_flag_texts = text.red_flags_from_text(conditions, patterns)

    def texted(feature: str) -> tuple[Finding, ...]:
        """Uncoded problem-list entries naming the red flag (v3 §2)."""
        return tuple(f for f in red_flag_texts if f.feature == feature)

    recent_disc = months_before(today, thresholds.recent_disc_months)
    without_care = PatientFeatures(
        now=data.now,
        patient=patient,
        age_years=age,
        sex=sex,
        foot_drop=foot_drop,
        peroneal_neuropathy=coded("peroneal_neuropathy"),
        l5_radiculopathy=coded("l5_radiculopathy"),
        disc_herniation=coded("disc_herniation"),
        recent_disc_herniation=tuple(
            f for f in coded("disc_herniation") if f.date is not None and f.date >= recent_disc
        ),
        lumbar_stenosis=coded("lumbar_stenosis"),
        sciatica=coded("sciatica"),
        spine_other=coded("spine_other"),
        sciatic_neuropathy=coded("sciatic_neuropathy"),
        lumbosacral_plexopathy=coded("lumbosacral_plexopathy"),
        central_cause=coded(*CENTRAL_CAUSES) + lifelong(*LIFELONG_CENTRAL_CAUSES),
        central=central_causes(
            _central_entries(conditions),
            named_by_foot_drop(conditions, patterns),
            foot_drop,
            today,
            thresholds,
        ),
        multiple_sclerosis=lifelong("multiple_sclerosis"),
        progressive_disease=lifelong(*PROGRESSIVE_DISEASES),
        nerve_trauma=coded("nerve_trauma", "knee_dislocation"),
        fibular_fracture=coded("fibular_fracture"),
        spasticity=coded("spasticity"),
        lower_limb_spasticity=text.lower_limb(conditions, patterns),
        lower_limb_monoplegia=coded("lower_limb_monoplegia"),
        non_ambulatory=coded("non_ambulatory"),
        cardiac_device=coded("cardiac_device"),
        insensate_feet=coded("peripheral_neuropathy", "diabetic_neuropathy"),
        cauda_equina=coded("cauda_equina") + texted("cauda_equina"),
        urinary_retention=red_flag("urinary_retention") + texted("urinary_retention"),
        bowel_dysfunction=red_flag("bowel_dysfunction") + texted("bowel_dysfunction"),
        saddle_anesthesia=red_flag("saddle_anesthesia")
        + texted("saddle_anesthesia")
        + text.saddle_from_text(conditions, patterns)
        + text.mentioned(
            with_feature(closed_new, "skin_sensation_unsited", active_only=False),
            patterns,
            "saddle",
            "saddle_anesthesia",
        ),
        red_flag_noted=text.red_flags_in_notes(
            conditions, patterns, today, thresholds.red_flag_finding_days
        ),
        progression=Progression(
            structured=structured_decline(
                observations.of("dorsiflexion_strength"), today, thresholds
            ),
            text=text_progression(conditions, patterns, today, thresholds),
        ),
        leg_crossing=text.leg_crossing(conditions, patterns),
        seizure_history=findings(conditions, "seizure_history", active_only=False) + seizure_text,
        seizure_febrile_neonatal_provoked=findings(
            conditions, "seizure_febrile_neonatal_provoked", active_only=False
        ),
        seizure_verify=findings(conditions, "seizure_verify", active_only=False)
        + seizure_verify_text,
        dalfampridine_allergy=allergies,
        renal=RenalAssessor(
            observations, conditions, dialysis, patient, age, sex, today, thresholds
        ).assess(),
        dialysis_or_esrd=dialysis,
        unavailable=data.incomplete,
    )
    care = [*record_events, *text.devices_in_use(conditions, patterns)]
    # Condition fields are read lazily: collect what could not be read once all are read.
    unreadable += [u for e in conditions for u in e.unreadable]
    unreadable += [*observations.unreadable, *(u for r in record_care for u in r.unreadable)]
    return RecordReading(
        without_care=without_care,
        care=tuple(care),
        unreadable=tuple(unreadable),
        drafts=drafts,
        thresholds=thresholds,
    )


def extract(
    data: PatientData,
    index: ValueSetIndex,
    patterns: TextPatterns,
    thresholds: ClinicalThresholds,
) -> PatientFeatures:
    """Every §2 feature of the patient at the request time, every draft order counted as ordered."""
    record = read_record(data, index, patterns, thresholds)
    return record.features(reading for _, reading in record.drafts)
