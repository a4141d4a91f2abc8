"""The typed result of feature extraction: what the rules may know about a patient.

Every feature carries the `Evidence` that produced it, so that each card can show
its basis ("Why this card"). A feature that is absent is an empty tuple, never a
guess: absence of data is not absence of disease, and the rules word it so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Literal

from service.fhir.readers import Unreadable

Phase = Literal["acute", "established", "long_standing", "unknown"]
Laterality = Literal["right", "left", "bilateral", "unspecified"]
EpisodeSide = Literal["right", "left", "unspecified"]
CareSide = Literal["right", "left", "bilateral"]
OnsetSource = Literal["onset_datetime", "onset_period", "onset_age", "recorded_date", "none"]
Sex = Literal["female", "male", "unknown"]
CareState = Literal["done", "ordered", "in_use"]
"""`done`: completed (a procedure, a finished course, a resulted study); `ordered`: a
pending order, draft orders included; `in_use`: a device or medication in current use."""

RenalStatus = Literal["known", "probable_impaired", "unreliable", "unknown"]
RenalMethod = Literal[
    "crcl_measured",
    "crcl_estimate",
    "cockcroft_gault",
    "dialysis_or_esrd",
    "ckd_stage",
    "egfr",
    "none",
]
"""`crcl_measured`: a measured clearance (urine and serum); `crcl_estimate`: a stored
Cockcroft-Gault result; `cockcroft_gault`: computed here; `dialysis_or_esrd`: definite
without a value."""
RenalNote = Literal[
    "egfr_in_place_of_crcl",
    "crcl_unreliable",
    "sex_unknown_female_factor",
    "weight_missing",
    "weight_self_reported",
    "adjusted_body_weight_used",
]


@dataclass(frozen=True)
class Evidence:
    """One piece of patient data a decision rests on ("Why this card")."""

    resource_type: str
    resource_id: str
    display: str
    date: str | None = None
    value: str | None = None

    @property
    def reference(self) -> str:
        """`Type/id` of the resource cited."""
        return f"{self.resource_type}/{self.resource_id}"

    def describe(self) -> str:
        parts = [f"{self.display} ({self.resource_type}/{self.resource_id}"]
        if self.date:
            parts.append(f", {self.date}")
        parts.append(")")
        if self.value:
            parts.append(f": {self.value}")
        return "".join(parts)


@dataclass(frozen=True)
class Recorded:
    """What the record shows (a feature) and the record that shows it."""

    feature: str
    evidence: Evidence

    @property
    def reference(self) -> str:
        """`Type/id` of the record, e.g. the target of an `update` suggestion."""
        return self.evidence.reference


@dataclass(frozen=True)
class Finding(Recorded):
    """One recorded fact behind a feature: a coded entry, or a mention in text.

    `date` is the entry's own date (onset, else recordedDate or effective time);
    `approximate_date` says it is a recordedDate, which problem-list migrations reset.
    """

    date: date | None
    approximate_date: bool = False
    from_text: bool = False


@dataclass(frozen=True)
class Onset:
    """When the foot drop began, and where that date comes from."""

    date: date | None
    source: OnsetSource

    @property
    def approximate(self) -> bool:
        """Taken from recordedDate: never makes a red flag critical on its own (§1, A16)."""
        return self.source == "recorded_date"

    @property
    def known(self) -> bool:
        """A true onset date (onset[x]), not a recordedDate."""
        return self.date is not None and not self.approximate


@dataclass(frozen=True)
class Episode:
    """One side's current foot-drop episode (v3 §1 Time): its active entries, the onset
    the episode began with, and the duration and phase it has reached."""

    side: EpisodeSide
    findings: tuple[Finding, ...]
    onset: Onset
    duration: timedelta | None
    phase: Phase
    side_only: bool = False
    """A side only a coded peroneal palsy names: a side of the foot drop, not its date."""


@dataclass(frozen=True)
class FootDrop:
    """The active foot drop (or, as `proxy`, a coded common peroneal palsy standing in for it).

    A proxy counts for the red-flag and work-up cards only (§1 Trigger).
    `onset` is the earliest current episode's; `bilateral_onset` is when it became
    bilateral (the later side's current episode, or a bilateral entry). `episodes` holds
    each side's current episode ("unspecified" when no entry names a side).
    """

    findings: tuple[Finding, ...]
    laterality: Laterality
    onset: Onset
    duration: timedelta | None
    phase: Phase
    bilateral_onset: Onset | None
    proxy: bool
    episodes: tuple[Episode, ...] = ()

    def episode(self, side: EpisodeSide) -> Episode | None:
        return next((e for e in self.episodes if e.side == side), None)


@dataclass(frozen=True)
class CareEvent(Recorded):
    """An order, procedure, study, device or medication that is done, pending or in use."""

    state: CareState
    date: date | None
    priority: str | None = None
    draft: bool = False
    from_text: bool = False
    side: CareSide | None = None
    """The side its bodySite or words name (v3 §1 Time); None counts for every side."""

    def covers(self, side: EpisodeSide) -> bool:
        """Whether it counts for a foot drop of `side`."""
        return self.side is None or side == "unspecified" or self.side in (side, "bilateral")


@dataclass(frozen=True)
class Progression:
    """Possible progression: a structured strength decline (critical) or note text (warning)."""

    structured: tuple[Finding, ...] = ()
    text: tuple[Finding, ...] = ()


@dataclass(frozen=True)
class RenalEstimate:
    """One creatinine clearance within 12 months that is not unreliable (v3 §2 (2))."""

    method: RenalMethod
    value: Decimal
    date: date | None
    text: str
    """The value, its date and, for Cockcroft-Gault, the computation."""
    evidence: tuple[Evidence, ...]
    source: str = ""
    """How it was obtained, without restating the value: the text when it stands alone
    beside the value (empty: `text`)."""


@dataclass(frozen=True)
class RenalAssessment:
    """Creatinine clearance for dalfampridine, as far as the record allows (§2, A8).

    `known`: the CrCl is known — every estimate (`estimates`) counts and `value` is the
    lowest, in mL/min — or, with `method` `dialysis_or_esrd` and no value, known to be
    ≤ 50 mL/min. `value` is mL/min/1.73 m² when `method` is `egfr`. `contraindicated`
    compares the unrounded values with the label's limit (the jurisdiction's), and
    `contraindication` then names it with its data; `borderline` and `mild` are the
    50–60 and 51–80 mL/min bands of a known CrCl under the US label.
    """

    status: RenalStatus
    method: RenalMethod
    value: Decimal | None = None
    computation: str = ""
    estimates: tuple[RenalEstimate, ...] = ()
    contraindication: str = ""
    notes: tuple[RenalNote, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    missing_inputs: tuple[str, ...] = ()
    contraindicated: bool = False
    borderline: bool = False
    mild: bool = False

    @property
    def quoted(self) -> str:
        """The value as cards quote it, then how it was obtained."""
        if self.value is None:
            return self.computation
        unit = "mL/min/1.73 m²" if self.method == "egfr" else "mL/min"
        return f"{self.value:.1f} {unit} ({self.computation})"


Findings = tuple[Finding, ...]
CareEvents = tuple[CareEvent, ...]


@dataclass(frozen=True)
class CentralCauses:
    """Central causes by whether they explain the foot drop (v3 §2 central_cause).

    `explains`: the foot-drop record names it, an active sequela with a deficit, an
    acute event linked in time, or a chronic disease with a foot drop of unknown,
    approximate or ≥ 6-month onset. `possible`: every other central condition — a
    possible cause the work-up card names. `chronic_recent`: those of `possible` that
    are a chronic central disease while the foot drop's known onset is under 6 months.
    """

    explains: Findings = ()
    possible: Findings = ()
    chronic_recent: Findings = ()


@dataclass(frozen=True)
class PatientFeatures:
    """Every feature of clinical-logic v3 §2 for one patient at one request time.

    Condition features hold active entries (clinicalStatus active, recurrence or
    relapse, or missing) that are not refuted or entered in error; the exceptions
    say so. Care features "since onset" hold pending orders whatever their date and
    completed ones dated on or after the foot-drop onset (all of them when the onset
    is unknown, and undated ones always).
    """

    now: datetime
    patient: Evidence | None
    age_years: int | None
    sex: Sex
    foot_drop: FootDrop | None

    # Causes and context (Condition; spasticity also Observation)
    peroneal_neuropathy: Findings = ()
    l5_radiculopathy: Findings = ()
    disc_herniation: Findings = ()
    recent_disc_herniation: Findings = ()
    lumbar_stenosis: Findings = ()
    sciatica: Findings = ()
    spine_other: Findings = ()
    sciatic_neuropathy: Findings = ()
    lumbosacral_plexopathy: Findings = ()
    central_cause: Findings = ()
    """Stroke with deficit (not "without residual deficits"), MS, spinal cord, cerebral palsy."""
    central: CentralCauses = CentralCauses()
    """The central causes sorted by whether they explain the foot drop (v3 §2)."""
    multiple_sclerosis: Findings = ()
    progressive_disease: Findings = ()
    """MS or motor neuron disease, any clinical status but resolved: no palliative surgery."""
    nerve_trauma: Findings = ()
    """Peroneal/sciatic nerve or lumbar root injury, or knee dislocation."""
    fibular_fracture: Findings = ()
    spasticity: Findings = ()
    lower_limb_spasticity: Findings = ()
    lower_limb_monoplegia: Findings = ()
    non_ambulatory: Findings = ()
    cardiac_device: Findings = ()
    insensate_feet: Findings = ()
    """Polyneuropathy or diabetic neuropathy: the orthosis card adds a skin-check caution."""

    # Red flags: each with its own date (Condition or Observation; saddle also R20.x + text)
    cauda_equina: Findings = ()
    urinary_retention: Findings = ()
    bowel_dysfunction: Findings = ()
    saddle_anesthesia: Findings = ()
    red_flag_noted: Findings = ()
    """A red-flag finding named only in the note of a recent foot-drop, weakness or
    radiculopathy Condition: the warning tier at most (v3 §2 red_flag findings)."""
    progression: Progression = Progression()
    leg_crossing: Findings = ()

    # Dalfampridine
    seizure_history: Findings = ()
    """Any clinical status: a resolved seizure disorder still counts (codes.md §9). Coded
    (the published eCQM set, the ICD-10-CM G40 family, 703151001, febrile, neonatal and
    provoked seizures), or read from the words of Z86.69 or of a Condition with no
    recognised code (`from_text`)."""
    seizure_febrile_neonatal_provoked: Findings = ()
    """The coded febrile, neonatal, provoked or withdrawal seizures among seizure_history:
    still a contraindication; the card may offer "febrile/neonatal seizure only"."""
    seizure_verify: Findings = ()
    """Non-epileptic events (F44.5, 191714002, 438113009) and, from words, non-epileptic,
    psychogenic or functional seizures and hypotheticals ("seizure precautions"): verify
    seizure history before prescribing, not a contraindication."""
    dalfampridine_allergy: Findings = ()
    dalfampridine_active: CareEvents = ()
    dalfampridine_past_course: CareEvents = ()
    other_4ap: CareEvents = ()
    oct2_inhibitor: CareEvents = ()
    """A current OCT2 inhibitor such as cimetidine (named in text: no code is verified): a
    contraindication under the EU label, a caution under the US label (§2 (3))."""
    renal: RenalAssessment = RenalAssessment(status="unknown", method="none")
    dialysis_or_esrd: Findings = ()
    """On dialysis or with end-stage renal disease now (§2 dialysis_or_esrd): a definite
    CrCl ≤ 50 mL/min, whatever a creatinine says."""

    # Care already in place
    orthosis_in_use: CareEvents = ()
    fes_in_use: CareEvents = ()
    pt_since_onset: CareEvents = ()
    ncs_emg: CareEvents = ()
    lumbar_mri: CareEvents = ()
    plexus_mri: CareEvents = ()
    nerve_imaging: CareEvents = ()
    spine_surgery_referral: CareEvents = ()
    neurology_referral: CareEvents = ()
    rehabilitation_referral: CareEvents = ()
    """Pending referrals whatever their date; completed ones since onset."""

    discectomy: CareEvents = ()
    lumbar_decompression: CareEvents = ()
    palliative_surgery: CareEvents = ()
    """Tendon transfer or ankle arthrodesis, ever."""
    peroneal_decompression: CareEvents = ()
    """Peroneal decompression or neurolysis, ever."""
    botulinum_recent: CareEvents = ()

    unavailable: frozenset[str] = frozenset()
    """Prefetch keys whose data could not be obtained: cards say so."""
    unreadable: tuple[Unreadable, ...] = ()
    """Resources, or fields of them, the features needed but could not read (type, id,
    field): part of the record could not be read, and a rule may have to say so."""
