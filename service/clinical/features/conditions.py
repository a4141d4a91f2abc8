"""Condition resources read once: matched features, status, dates, side and text.

Refuted and entered-in-error entries are dropped here, so no feature can see them.
Every other entry is kept with its clinical status: most features want active ones,
seizure history wants any (codes.md §9), progressive disease any but resolved.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.resource import Resource

from mappings.matcher import ValueSetIndex
from mappings.text import Side, TextPatterns
from service.clinical.features.model import Finding, Onset
from service.clinical.features.onset import condition_onset, condition_side
from service.clinical.features.records import (
    clinical_status,
    concept_text,
    counts,
    display_of,
    is_active,
    make_evidence,
    note_texts,
    texts,
)


@dataclass(frozen=True)
class ConditionEntry:
    """One Condition that counts, with what the features need from it."""

    condition: Condition
    features: frozenset[str]
    display: str
    onset: Onset
    side: Side | None
    active: bool
    resolved: bool

    def finding(self, feature: str, *, from_text: bool = False) -> Finding:
        return Finding(
            feature=feature,
            evidence=make_evidence(self.condition, self.display, self.onset.date),
            date=self.onset.date,
            approximate_date=self.onset.approximate,
            from_text=from_text,
        )

    @property
    def code_text(self) -> str:
        """The entry's code as a human wrote it (text and displays)."""
        return concept_text(self.condition.code)

    @property
    def notes(self) -> list[tuple[str, date | None]]:
        return note_texts(self.condition.note)

    @property
    def all_text(self) -> str:
        """Code text (else the value set's display), bodySite text and notes."""
        sites = [concept_text(site) for site in self.condition.bodySite or []]
        return texts(self.code_text or self.display, *sites, *(text for text, _ in self.notes))


def read_conditions(
    resources: Iterable[Resource],
    index: ValueSetIndex,
    birth_date: date | None,
    patterns: TextPatterns,
) -> tuple[ConditionEntry, ...]:
    entries: list[ConditionEntry] = []
    for resource in resources:
        if not isinstance(resource, Condition) or not counts(resource):
            continue
        matched = index.match_concept(resource.code)
        fallback = matched[0].display if matched else "Condition"
        entries.append(
            ConditionEntry(
                condition=resource,
                features=frozenset(m.feature for m in matched),
                display=display_of(resource.code, fallback),
                onset=condition_onset(resource, birth_date),
                side=condition_side(resource, patterns),
                active=is_active(resource),
                resolved=clinical_status(resource) == "resolved",
            )
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
