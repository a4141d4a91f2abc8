"""Reading FHIR elements the same way everywhere: statuses, names, evidence, calendar arithmetic.

Fields are read from the raw JSON with `service.fhir.readers`; what is shared by the
feature readers is here. Dates follow `readers.read_date`: a partial date is its
*last* possible day, so an onset of "2025" never looks older than it may be (the
phase errs towards acute) and a partial birth date errs towards the younger age.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from datetime import date

from mappings.matcher import ConceptMatch
from service.clinical.features.model import Evidence
from service.fhir.patient_data import NO_ID, Resource
from service.fhir.readers import Concept, Reader

#: clinicalStatus codes that make a Condition "active" (§1 Trigger).
ACTIVE_STATUSES = frozenset({"active", "recurrence", "relapse"})
#: clinicalStatus codes that start a new episode of a foot drop (v3 §1 Time).
RECURRENCE_STATUSES = frozenset({"recurrence", "relapse"})
#: clinicalStatus codes of a Condition that has abated.
ABATED_STATUSES = frozenset({"inactive", "resolved", "remission"})
#: verificationStatus codes that make a Condition (or an allergy) never count.
EXCLUDED_VERIFICATION = frozenset({"refuted", "entered-in-error"})


def months_before(day: date, months: int) -> date:
    """The same day `months` calendar months earlier (clamped to the month's end)."""
    total = day.year * 12 + day.month - 1 - months
    year, month = divmod(total, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def months_between(start: date, end: date) -> int:
    """Completed calendar months from `start` to `end`, as a calendar counts them: a month
    ending on a shorter month's last day is complete (31 January to 28 February is one)."""
    months = (end.year - start.year) * 12 + end.month - start.month
    while months > 0 and months_before(start, -months) > end:
        months -= 1
    return max(months, 0)


def years_between(start: date, end: date) -> int:
    """Completed years from `start` to `end` (age in years)."""
    return end.year - start.year - ((end.month, end.day) < (start.month, start.day))


def status_code(reader: Reader, name: str) -> str | None:
    """The first code of a status CodeableConcept (clinicalStatus, verificationStatus)."""
    concept = reader.concept(name)
    return concept.codings[0].code if concept is not None and concept.codings else None


def counts(reader: Reader) -> bool:
    """Not refuted or entered in error: such Conditions and allergies never count (§1).
    An unreadable verificationStatus counts (and is recorded): never silently dropped."""
    return status_code(reader, "verificationStatus") not in EXCLUDED_VERIFICATION


def display_name(
    concepts: Sequence[Concept], names: Iterable[str | None], matches: Sequence[ConceptMatch]
) -> str:
    """The name evidence and cards show: the record's own words before ours.

    Each concept's text, else its first coding display, in order; then other names the
    record gives (a reference's display, a device's name); then the value set's display;
    "" when there is none.
    """
    for concept in concepts:
        if (name := concept.name) is not None:
            return name
    for name in names:
        if name:
            return name
    return next((m.display for m in matches if m.display), "")


def make_evidence(
    resource: Resource, display: str, when: date | None, value: str | None = None
) -> Evidence:
    return Evidence(
        resource_type=resource.type,
        resource_id=resource.id or NO_ID,
        display=display,
        date=when.isoformat() if when else None,
        value=value,
    )


def words(*parts: str | None) -> str:
    """Words of several elements as one text, one element each ("; ")."""
    return "; ".join(p for p in parts if p)


def texts(*parts: str | None) -> str:
    """Join text fragments into one passage, one clause each."""
    return ". ".join(p for p in parts if p)
