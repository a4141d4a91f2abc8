"""Features read from the words of Condition entries (mappings/text_patterns.json).

Only what no code expresses well (codes.md §9): habitual leg crossing, saddle
anaesthesia coded as an unsited skin-sensation finding (R20.x) with a saddle or
perineal word, a generic nervous-system history (Z86.69) that names seizures, an
orthosis or FES device mentioned as in use, and spasticity placed in the lower
limb. Every finding is marked `from_text`, so cards can say so.
"""

from __future__ import annotations

from collections.abc import Sequence

from mappings.text import TextPatterns
from service.clinical.features.conditions import ConditionEntry, with_feature
from service.clinical.features.model import CareEvent, Finding
from service.clinical.features.records import make_evidence


def _text_finding(entry: ConditionEntry, feature: str, clause: str) -> Finding:
    coded = entry.finding(feature, from_text=True)
    evidence = make_evidence(entry.resource, entry.display, coded.date, f"text: “{clause}”")
    return Finding(feature, evidence, coded.date, coded.approximate_date, from_text=True)


def mentioned(
    entries: Sequence[ConditionEntry], patterns: TextPatterns, group: str, feature: str
) -> tuple[Finding, ...]:
    """One finding per entry whose words affirm `group`."""
    screen = patterns.screen([group])
    found = []
    for entry in entries:
        text = entry.all_text
        match = patterns.find(group, text) if screen(text) else None
        if match is not None:
            found.append(_text_finding(entry, feature, match.clause))
    return tuple(found)


def leg_crossing(entries: Sequence[ConditionEntry], patterns: TextPatterns) -> tuple[Finding, ...]:
    """Any entry, any status: a habit recorded once is still worth asking about."""
    return mentioned(entries, patterns, "leg_crossing", "leg_crossing")


def saddle_from_text(
    entries: Sequence[ConditionEntry], patterns: TextPatterns
) -> tuple[Finding, ...]:
    """R20.x (no site) counts as saddle anaesthesia only with a saddle/perineal word."""
    unsited = with_feature(entries, "skin_sensation_unsited")
    return mentioned(unsited, patterns, "saddle", "saddle_anesthesia")


def seizure_from_text(
    entries: Sequence[ConditionEntry], patterns: TextPatterns
) -> tuple[Finding, ...]:
    """Z86.69 (any status) counts as seizure history only when its words name seizures."""
    generic = with_feature(entries, "seizure_history_nonspecific", active_only=False)
    return mentioned(generic, patterns, "seizure", "seizure_history")


def lower_limb(entries: Sequence[ConditionEntry], patterns: TextPatterns) -> tuple[Finding, ...]:
    """Spasticity entries whose code, text or bodySite place it in the leg."""
    spastic = with_feature(entries, "spasticity")
    return tuple(
        e.finding("spasticity") for e in spastic if patterns.find("lower_limb", e.all_text)
    )


def devices_in_use(
    entries: Sequence[ConditionEntry], patterns: TextPatterns
) -> tuple[CareEvent, ...]:
    """An orthosis or FES device named as in use in a Condition's text or notes."""
    events = []
    for group, feature in (("orthosis", "orthosis"), ("fes_device", "fes")):
        for finding in mentioned(entries, patterns, group, feature):
            events.append(
                CareEvent(feature, finding.evidence, "in_use", finding.date, from_text=True)
            )
    return tuple(events)
