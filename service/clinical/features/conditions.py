"""Condition resources read once: matched features, status, dates, side and text.

Refuted and entered-in-error entries are dropped here, so no feature can see them.
Every other entry is kept with its clinical status: most features want active ones,
seizure history wants any (codes.md §9), progressive disease any but resolved.

Codes and statuses are read for every entry; the rest (onset, side, display, words)
only when a feature asks for it, so an entry nothing needs costs little.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from functools import cached_property

from mappings.matcher import ConceptMatch, ValueSetIndex
from mappings.text import Side, TextPatterns
from service.clinical.features.codes import recognised_matches
from service.clinical.features.model import Finding, Onset
from service.clinical.features.onset import condition_onset, condition_side
from service.clinical.features.records import (
    ABATED_STATUSES,
    ACTIVE_STATUSES,
    RECURRENCE_STATUSES,
    counts,
    display_name,
    make_evidence,
    status_code,
    texts,
)
from service.fhir.patient_data import Resource
from service.fhir.readers import Concept, Note, Reader, Unreadable


class ConditionEntry:
    """One Condition that counts, with what the features need from it."""

    def __init__(
        self,
        resource: Resource,
        reader: Reader,
        code: Concept | None,
        matches: tuple[ConceptMatch, ...],
        clinical_status: str | None,
        birth_date: date | None,
        patterns: TextPatterns,
    ) -> None:
        self.resource = resource
        self.reader = reader
        self.code = code
        self.matches = matches
        self.features = frozenset(m.feature for m in matches)
        self.active = clinical_status is None or clinical_status in ACTIVE_STATUSES
        """Active, recurrence or relapse. A missing clinicalStatus is read as active:
        problem-list exports often omit it for current problems, and a red flag must
        not be missed."""
        self.resolved = clinical_status == "resolved"
        self.recurrence = clinical_status in RECURRENCE_STATUSES
        """Recurrence or relapse: always a new episode of its side (v3 §1 Time)."""
        self._abated_status = clinical_status in ABATED_STATUSES
        self._birth_date = birth_date
        self._patterns = patterns

    @cached_property
    def display(self) -> str:
        return display_name([self.code] if self.code else [], (), self.matches) or "Condition"

    @cached_property
    def onset(self) -> Onset:
        return condition_onset(self.reader, self._birth_date)

    @cached_property
    def abated(self) -> bool:
        """Inactive, resolved or in remission, or an abatement recorded (v3 §1 Time)."""
        return self._abated_status or any(
            name in self.reader.json
            for name in ("abatementDateTime", "abatementAge", "abatementPeriod", "abatementString")
        )

    @cached_property
    def recorded_date(self) -> date | None:
        return self.reader.date("recordedDate")

    @cached_property
    def body_sites(self) -> tuple[Concept, ...]:
        return self.reader.concepts("bodySite")

    @cached_property
    def side(self) -> Side | None:
        return condition_side(self.code, self.body_sites, self._patterns)

    def finding(self, feature: str, *, from_text: bool = False) -> Finding:
        return Finding(
            feature=feature,
            evidence=make_evidence(self.resource, self.display, self.onset.date),
            date=self.onset.date,
            approximate_date=self.onset.approximate,
            from_text=from_text,
        )

    @property
    def code_text(self) -> str:
        """The entry's code as a human wrote it (text and displays)."""
        return self.code.words if self.code else ""

    @cached_property
    def notes(self) -> tuple[Note, ...]:
        return self.reader.notes()

    @cached_property
    def all_text(self) -> str:
        """Code text (else the value set's display), bodySite text and notes."""
        sites = [site.words for site in self.body_sites]
        return texts(self.code_text or self.display, *sites, *(n.text for n in self.notes))

    @property
    def unreadable(self) -> tuple[Unreadable, ...]:
        """Fields read so far that could not be read."""
        return self.resource.unreadable(self.reader.unreadable)


def read_conditions(
    resources: Iterable[Resource],
    index: ValueSetIndex,
    birth_date: date | None,
    patterns: TextPatterns,
) -> tuple[ConditionEntry, ...]:
    """Every Condition that counts: not refuted or entered in error (an unreadable
    verificationStatus counts, and is recorded)."""
    entries: list[ConditionEntry] = []
    for resource in resources:
        reader = resource.reader()
        if not counts(reader):
            continue
        code = reader.concept("code")
        matches = recognised_matches(index, [code] if code else [])
        status = status_code(reader, "clinicalStatus")
        entries.append(
            ConditionEntry(resource, reader, code, matches, status, birth_date, patterns)
        )
    return tuple(entries)


def with_feature(
    entries: Sequence[ConditionEntry], *features: str, active_only: bool = True
) -> tuple[ConditionEntry, ...]:
    """Entries matching any of `features`; active ones unless told otherwise."""
    wanted = set(features)
    return tuple(e for e in entries if e.features & wanted and (e.active or not active_only))


def findings(
    entries: Sequence[ConditionEntry], *features: str, active_only: bool = True
) -> tuple[Finding, ...]:
    """One finding per matching entry, named after the first feature it matches."""
    return tuple(
        entry.finding(next(f for f in features if f in entry.features))
        for entry in with_feature(entries, *features, active_only=active_only)
    )
