"""Reading FHIR elements the same way everywhere: dates, statuses, texts, evidence.

Dates: fhir.resources gives `date`, `datetime` or, for partial dates ("2025",
"2025-03"), the string. A partial date is read as the *last* day it can mean, so
an onset of "2025" never looks older than it may be: the phase errs towards acute
(more red-flag sensitivity, no premature palliative surgery) and a partial birth
date errs towards the younger age.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

from fhir.resources.R4B.annotation import Annotation
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.period import Period
from fhir.resources.R4B.quantity import Quantity
from fhir.resources.R4B.resource import Resource

from service.clinical.features.model import Evidence

#: clinicalStatus codes that make a Condition "active" (§1 Trigger).
ACTIVE_STATUSES = frozenset({"active", "recurrence", "relapse"})
#: verificationStatus codes that make a Condition never count.
EXCLUDED_VERIFICATION = frozenset({"refuted", "entered-in-error"})

_PARTIAL = re.compile(r"^(\d{4})(?:-(\d{2}))?$")


def to_date(value: object) -> date | None:
    """The calendar date of a FHIR date/dateTime/instant, as written (no time-zone shift)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        partial = _PARTIAL.match(value.strip())
        if partial:
            year = int(partial.group(1))
            month = int(partial.group(2) or 12)
            return date(year, month, calendar.monthrange(year, month)[1])
        try:
            return datetime.fromisoformat(value.strip()).date()
        except ValueError:
            return None
    return None


def period_start(period: Period | None) -> date | None:
    return to_date(period.start) if period is not None else None


def months_before(day: date, months: int) -> date:
    """The same day `months` calendar months earlier (clamped to the month's end)."""
    total = day.year * 12 + day.month - 1 - months
    year, month = divmod(total, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def years_between(start: date, end: date) -> int:
    """Completed years from `start` to `end` (age in years)."""
    return end.year - start.year - ((end.month, end.day) < (start.month, start.day))


def coding_codes(concept: CodeableConcept | None) -> str | None:
    """The first code of a status CodeableConcept (clinicalStatus, verificationStatus)."""
    if concept is None or not concept.coding:
        return None
    return concept.coding[0].code


def clinical_status(condition: Condition) -> str | None:
    return coding_codes(condition.clinicalStatus)


def counts(condition: Condition) -> bool:
    """Not refuted or entered in error: such entries never count (§1)."""
    return coding_codes(condition.verificationStatus) not in EXCLUDED_VERIFICATION


def is_active(condition: Condition) -> bool:
    """Active, recurrence or relapse. A missing clinicalStatus is read as active: problem-list
    exports often omit it for current problems, and a red flag must not be missed."""
    status = clinical_status(condition)
    return status is None or status in ACTIVE_STATUSES


def concept_text(concept: CodeableConcept | Coding | None) -> str:
    """Everything a human wrote in a concept: its text and every coding's display."""
    if concept is None:
        return ""
    if isinstance(concept, Coding):
        return concept.display or ""
    parts = [concept.text or ""] + [c.display or "" for c in concept.coding or []]
    return "; ".join(p for p in parts if p)


def display_of(concept: CodeableConcept | None, fallback: str) -> str:
    """The record's own display for evidence: text, else the first coding display."""
    if concept is not None:
        if concept.text:
            return concept.text
        for coding in concept.coding or []:
            if coding.display:
                return coding.display
    return fallback


def resource_id(resource: Resource) -> str:
    return resource.id or "(no id)"


def make_evidence(
    resource: Resource, display: str, when: date | None, value: str | None = None
) -> Evidence:
    return Evidence(
        resource_type=resource.get_resource_type(),
        resource_id=resource_id(resource),
        display=display,
        date=when.isoformat() if when else None,
        value=value,
    )


def quantity_value(quantity: Quantity | None) -> tuple[Decimal, str] | None:
    """(value, unit) of a Quantity; the UCUM code is preferred to the free unit."""
    if quantity is None or quantity.value is None:
        return None
    unit = quantity.code or quantity.unit or ""
    return Decimal(str(quantity.value)), unit


def texts(*parts: str | None) -> str:
    """Join text fragments into one passage, one clause each."""
    return ". ".join(p for p in parts if p)


def note_texts(notes: Iterable[Annotation] | None) -> list[tuple[str, date | None]]:
    """(text, time) of each Annotation that has text."""
    return [(note.text, to_date(note.time)) for note in notes or [] if note.text]
