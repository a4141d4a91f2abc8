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

from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.resource import Resource

from mappings.matcher import ValueSetIndex
from mappings.text import Side, TextPatterns
from service.clinical.features.model import Evidence, Finding
from service.clinical.features.records import (
    concept_text,
    display_of,
    make_evidence,
    period_start,
    quantity_value,
    to_date,
)

MEASUREMENTS = frozenset(
    {
        "creatinine_clearance",
        "egfr",
        "serum_creatinine",
        "body_weight",
        "body_height",
        "dorsiflexion_strength",
    }
)
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

    def of(self, feature: str) -> tuple[Measurement, ...]:
        return tuple(m for m in self.measurements if m.feature == feature)


def _when(obs: Observation) -> date | None:
    return (
        to_date(obs.effectiveDateTime)
        or period_start(obs.effectivePeriod)
        or to_date(obs.effectiveInstant)
        or to_date(obs.issued)
    )


def _value_text(obs: Observation) -> str | None:
    if obs.valueString:
        return obs.valueString
    if obs.valueInteger is not None:
        return str(obs.valueInteger)
    if obs.valueCodeableConcept is not None:
        concept = obs.valueCodeableConcept
        codes = [c.code or "" for c in concept.coding or []]
        return (
            concept.text
            or next((c.display for c in concept.coding or [] if c.display), None)
            or (codes[0] if codes else None)
        )
    if obs.valueBoolean is not None:
        return "true" if obs.valueBoolean else "false"
    return None


def _absent(obs: Observation, patterns: TextPatterns) -> bool:
    if obs.dataAbsentReason is not None or obs.valueBoolean is False:
        return True
    return patterns.is_absent_value(_value_text(obs))


def _side(obs: Observation, patterns: TextPatterns) -> Side | None:
    if obs.bodySite is None:
        return None
    for coding in obs.bodySite.coding or []:
        if (side := patterns.side_of_code(coding.system, coding.code)) is not None:
            return side
    return patterns.side_of_text(concept_text(obs.bodySite))


def read_observations(
    resources: Iterable[Resource], index: ValueSetIndex, patterns: TextPatterns
) -> ObservationData:
    measurements: list[Measurement] = []
    found: list[Finding] = []
    for obs in resources:
        if not isinstance(obs, Observation) or obs.status in _NOT_RESULTED:
            continue
        matched = index.match_concept(obs.code)
        if not matched:
            continue
        when = _when(obs)
        display = display_of(obs.code, matched[0].display)
        quantity = quantity_value(obs.valueQuantity)
        value = f"{quantity[0]} {quantity[1]}".strip() if quantity else _value_text(obs)
        evidence = make_evidence(obs, display, when, value)
        for feature in dict.fromkeys(m.feature for m in matched):
            if feature in MEASUREMENTS:
                measurements.append(
                    Measurement(
                        feature, evidence, when, quantity, _value_text(obs), _side(obs, patterns)
                    )
                )
            elif not _absent(obs, patterns):
                found.append(Finding(feature=feature, evidence=evidence, date=when))
    return ObservationData(tuple(measurements), tuple(found))
