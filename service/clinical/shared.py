"""What the patient-view rules and the order checks both know, written once.

The population (§1), how a card's decision is put together (evidence once each,
the "data unavailable" note), the foot-drop onset and duration as cards state
them, the dalfampridine renal branch (which tests to ask for, how a CrCl is
quoted) and the seizure-verify note (A7).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from service.clinical.features.model import (
    CareEvent,
    Evidence,
    Finding,
    FootDrop,
    Onset,
    PatientFeatures,
    Recorded,
    RenalAssessment,
)
from service.clinical.features.records import months_before, months_between
from service.clinical.recommendation import Indicator, Recommendation, Stopped, SuggestedAction
from service.clinical.thresholds import ClinicalThresholds

Cited = Recorded | Evidence
"""Anything a card may cite in "Why this card": a finding, a care event, a record."""


@dataclass(frozen=True)
class Context:
    """What every rule reads: the features, the request day and the thresholds."""

    f: PatientFeatures
    today: date
    t: ClinicalThresholds

    def months_ago(self, months: int) -> date:
        return months_before(self.today, months)

    @property
    def adult(self) -> bool | None:
        """§1 Population: an adult at the request time; None when the age is unknown
        (then only the red-flag card may fire: a red flag must never be missed)."""
        age = self.f.age_years
        return None if age is None else age >= self.t.adult_age_years


def cited(items: Iterable[Cited]) -> list[Evidence]:
    return [x if isinstance(x, Evidence) else x.evidence for x in items]


def stop(condition: str, *cited_by: Iterable[Cited]) -> Stopped:
    """A rule's stopping condition (a code of cards/stop_reasons.toml), citing the records
    it rests on, each once (none when what stops the rule is an absence)."""
    return Stopped(condition, tuple(dict.fromkeys(cited(x for items in cited_by for x in items))))


def recommendation(
    ctx: Context,
    topic: str,
    indicator: Indicator,
    *,
    suggestions: Iterable[SuggestedAction],
    evidence: Iterable[Evidence],
    facts: Mapping[str, str],
    flags: Iterable[str],
    notes: Iterable[str],
    later_notes: Iterable[str] = (),
    about_order: str | None = None,
) -> Recommendation:
    """One card's decision: evidence and notes once each, in the order given.

    The "data unavailable" note comes after `notes` (and before `later_notes`) when
    prefetch keys could not be obtained.
    """
    unavailable = ["data_unavailable"] if ctx.f.unavailable else []
    return Recommendation(
        topic=topic,
        indicator=indicator,
        suggestions=tuple(suggestions),
        evidence=tuple(dict.fromkeys(evidence)),
        facts=dict(facts),
        flags=frozenset(flags),
        notes=tuple(dict.fromkeys([*notes, *unavailable, *later_notes])),
        about_order=about_order,
    )


def duration_text(start: date, end: date) -> str:
    """A duration in calendar units, as cards show it (v3 §1 Time): days under two
    weeks, weeks under 3 months, completed calendar months under 2 years, then years."""
    days = max((end - start).days, 0)
    months = months_between(start, end)
    if days < 14:
        return f"{days} day{'s' if days != 1 else ''}"
    if months < 2:
        return f"{days // 7} weeks"
    if months < 24:
        return f"{months} months"
    return f"{months // 12} years"


def onset_notes(of: FootDrop | Onset) -> tuple[str, ...]:
    """Note ids saying the onset (of a foot drop, or of the episodes a card is about) is
    approximate or unknown."""
    onset = of.onset if isinstance(of, FootDrop) else of
    if onset.approximate:
        return ("onset_approximate",)
    if onset.date is None:
        return ("onset_unknown",)
    return ()


# ── dalfampridine ─────────────────────────────────────────────────────────────────


def renal_tests(renal: RenalAssessment) -> list[SuggestedAction]:
    """What to measure when creatinine clearance is unknown: creatinine, and a weight
    when none was recorded (Cockcroft-Gault needs both)."""
    tests = [SuggestedAction("serum-creatinine")]
    if "weight_missing" in renal.notes:
        tests.append(SuggestedAction("body-weight"))
    return tests


def number(value: Decimal) -> str:
    """42 -> "42", 44.25 -> "44.3": a measured value as a clinician quotes it."""
    return f"{value.quantize(Decimal('0.1')).normalize():f}"


def crcl_fact(renal: RenalAssessment) -> str:
    """A known creatinine clearance as cards quote it, with how it was obtained."""
    return renal.quoted


def seizure_verify(f: PatientFeatures) -> tuple[list[str], list[Finding]]:
    """Non-epileptic events (F44.5, dissociative convulsions, convulsive syncope, or such
    words) are "verify", not a contraindication (A7, clinical-logic v3 §2): the note and
    the entries every dalfampridine card carries."""
    return (["seizure_verify"], list(f.seizure_verify)) if f.seizure_verify else ([], [])


def label_terms(t: ClinicalThresholds) -> tuple[list[str], dict[str, str]]:
    """The configured dalfampridine label as every dalfampridine card words it (v3 §2 (3)):
    the flag `label_eu` where the site follows the EU label (its paragraphs, its source
    label), and the label's limits as facts taken from the settings, so that the wording
    never disagrees with the configuration: `crcl_limit` (the contraindicating range),
    `crcl_caution_band` (the US label's caution) and `crcl_borderline_band` (A8)."""
    limit, upper = t.crcl_contraindication, t.crcl_caution_upper
    caution = (
        f"{number(limit + 1)}–{number(upper)} mL/min"
        if limit == limit.to_integral_value()
        else f"over {number(limit)}–{number(upper)} mL/min"
    )
    facts = {
        "crcl_limit": t.crcl_range,
        "crcl_caution_band": caution,
        "crcl_borderline_band": f"{number(limit)}–{number(t.crcl_borderline_upper)} mL/min",
    }
    return (["label_eu"] if t.eu_label else []), facts


def contraindicating_oct2_inhibitors(f: PatientFeatures, t: ClinicalThresholds) -> list[CareEvent]:
    """A concurrent OCT2 inhibitor such as cimetidine: a contraindication under the EU
    label (Fampyra SmPC), a caution under the US label (clinical-logic v3 §2 (3))."""
    return list(f.oct2_inhibitor) if t.eu_label else []


def febrile_neonatal_seizures_only(f: PatientFeatures) -> bool:
    """Every seizure-history record is a coded febrile, neonatal or provoked seizure: the
    contraindication stands, and the card may offer the override reason "reviewed:
    febrile/neonatal seizure only; prescriber accepts risk" (clinical-logic v3 §2)."""
    special = {x.reference for x in f.seizure_febrile_neonatal_provoked}
    return bool(f.seizure_history) and all(x.reference in special for x in f.seizure_history)
