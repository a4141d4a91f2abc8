"""Observation resources read once: measurements (labs, vitals, strength) and findings.

A finding recorded as an Observation (for example urinary retention, or spasticity)
counts like a Condition unless its value says it is absent (`false`, "absent",
"no"…) or it has a dataAbsentReason. Cancelled, entered-in-error and registered
(not yet resulted) Observations never count.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from mappings.fhirjson import JsonObject
from mappings.matcher import ValueSetIndex
from mappings.text import Side, TextPatterns
from service.clinical.features.codes import features_of_codes, recognised_matches
from service.clinical.features.model import Evidence, Finding
from service.clinical.features.records import display_name, make_evidence
from service.fhir.patient_data import Resource
from service.fhir.readers import Reader, Unreadable, glance_concept

MEASUREMENTS = frozenset(
    {
        "creatinine_clearance",
        "creatinine_clearance_measured",
        "egfr",
        "serum_creatinine",
        "body_weight",
        "body_weight_self_reported",
        "body_height",
        "body_mass_index",
        "dorsiflexion_strength",
    }
)
#: Findings recorded as Observations (clinical-logic v3 §2): red flags (R20.- only with
#: saddle words), spasticity, pre/post-dialysis weights.
FINDINGS = frozenset(
    {
        "cauda_equina",
        "urinary_retention",
        "bowel_dysfunction",
        "saddle_anesthesia",
        "skin_sensation_unsited",
        "spasticity",
        "dialysis_weight",
    }
)
#: Every value set read from an Observation (`sources.READS`): what its query asks for.
READ = FINDINGS | MEASUREMENTS
_NOT_RESULTED = frozenset({"cancelled", "entered-in-error", "registered"})


@dataclass(frozen=True)
class Measurement:
    """One resulted value: a quantity, or the value as text (strength grades such as "4+")."""

    feature: str
    evidence: Evidence
    date: date | None
    quantity: tuple[Decimal, str] | None
    text: str | None
    side: Side | None


@dataclass(frozen=True)
class ObservationData:
    measurements: tuple[Measurement, ...]
    findings: tuple[Finding, ...]
    unreadable: tuple[Unreadable, ...] = ()

    def of(self, feature: str) -> tuple[Measurement, ...]:
        return tuple(m for m in self.measurements if m.feature == feature)


def _when(obs: Reader) -> date | None:
    return (
        obs.date("effectiveDateTime")
        or obs.period_start("effectivePeriod")
        or obs.date("effectiveInstant")
        or obs.date("issued")
    )


def _value_text(obs: Reader) -> str | None:
    if text := obs.string("valueString"):
        return text
    if (integer := obs.integer("valueInteger")) is not None:
        return str(integer)
    if (concept := obs.concept("valueCodeableConcept")) is not None:
        codes = [c.code or "" for c in concept.codings]
        return concept.name or (codes[0] if codes else None)
    if (flag := obs.boolean("valueBoolean")) is not None:
        return "true" if flag else "false"
    return None


def _absent(obs: Reader, value_text: str | None, patterns: TextPatterns) -> bool:
    if obs.present("dataAbsentReason") or obs.boolean("valueBoolean") is False:
        return True
    return patterns.is_absent_value(value_text)


def _side(obs: Reader, patterns: TextPatterns) -> Side | None:
    site = obs.concept("bodySite")
    if site is None:
        return None
    for coding in site.codings:
        if (side := patterns.side_of_code(coding.system, coding.code)) is not None:
            return side
    return patterns.side_of_text(site.words)


def _reads_nothing(json: JsonObject, index: ValueSetIndex) -> bool:
    """Whether reading the Observation in full would find no code of `READ` and note
    nothing: its code, as sent, is plain (`glance_concept`) or absent, and matches none."""
    code = json.get("code")
    if code is None:
        return True
    codes: list[tuple[str | None, str]] = []
    return glance_concept(code, codes, []) and READ.isdisjoint(features_of_codes(index, codes))


def read_observations(
    resources: Iterable[Resource],
    index: ValueSetIndex,
    patterns: TextPatterns,
    *,
    codes_first: bool = True,
) -> ObservationData:
    """Measurements and findings; an Observation whose code matches nothing is not read further.

    Only the value sets of `READ` are read: the ones the Observation prefetch query asks for.
    With `codes_first` the codes are glanced at on the JSON as sent first, and most
    Observations (vital signs, panels no rule reads) stop there; without it every one is
    read through a `Reader` (the equivalence tests compare the two).
    """
    measurements: list[Measurement] = []
    found: list[Finding] = []
    unreadable: list[Unreadable] = []
    for resource in resources:
        if codes_first and _reads_nothing(resource.json, index):
            continue
        obs = resource.reader()
        code = obs.concept("code")
        matched = tuple(
            m for m in recognised_matches(index, [code] if code else []) if m.feature in READ
        )
        if matched and obs.code("status") not in _NOT_RESULTED:
            when = _when(obs)
            display = display_name([code] if code else [], (), matched)
            quantity = obs.quantity("valueQuantity")
            value_text = _value_text(obs)
            amount = (quantity.value, quantity.ucum_or_unit) if quantity else None
            value = f"{amount[0]} {amount[1]}".strip() if amount else value_text
            evidence = make_evidence(resource, display, when, value)
            for feature in dict.fromkeys(m.feature for m in matched):
                if feature in MEASUREMENTS:
                    side = _side(obs, patterns)
                    measurements.append(
                        Measurement(feature, evidence, when, amount, value_text, side)
                    )
                elif not _absent(obs, value_text, patterns):
                    found.append(Finding(feature=feature, evidence=evidence, date=when))
        if obs.unreadable:
            unreadable.extend(resource.unreadable(obs.unreadable))
    return ObservationData(tuple(measurements), tuple(found), tuple(unreadable))
