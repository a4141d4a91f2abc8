"""Possible progression of the weakness: a strength series (critical) or note text (warning).

Structured (§2 a, A2): ankle-dorsiflexion MRC grades of one side (bodySite; entries
without a side are compared with each other only), where the latest is at most 7
days old, is the lowest of the last 30 days, and is at least one full grade below
the best of those 30 days. Grades are normalised to their whole number, so 4-, 4
and 4+ are all 4 (4+ to 4 is not a decline; 4 to 3 is). Numeric flowsheet values
with a fraction (4.5 or 4.33 for 4+, 3.67 for 4-) round to the nearest grade, a
half down. Two entries on the same latest day: the lower is taken.

Text (§2 b): a progression word in the code text or a note of an active foot-drop,
peroneal palsy, weakness or radiculopathy Condition, dated within 14 days (a note's
own time, else the Condition's recordedDate, else its onset), read with negation and
disease names ignored (mappings/text.py). Never more than a warning.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal

from mappings.text import Side, TextPatterns
from service.clinical.features.conditions import ConditionEntry, with_feature
from service.clinical.features.model import Finding
from service.clinical.features.observations import Measurement
from service.clinical.features.records import make_evidence
from service.clinical.thresholds import ClinicalThresholds

TEXT_SOURCES = ("foot_drop", "peroneal_neuropathy", "weakness", "l5_radiculopathy")

_GRADE_TEXT = re.compile(r"^\s*([0-5])\s*[+-]?\s*(?:/\s*5)?\s*$")


def mrc_grade(m: Measurement) -> int | None:
    """The whole MRC grade (0–5) of a strength entry; None when it is not one."""
    if m.quantity is not None:
        value = m.quantity[0]
        if Decimal(0) <= value <= Decimal(5):
            return math.ceil(value - Decimal("0.5"))
        return None
    match = _GRADE_TEXT.match(m.text or "")
    return int(match.group(1)) if match else None


def structured_decline(
    strength: Sequence[Measurement], today: date, thresholds: ClinicalThresholds
) -> tuple[Finding, ...]:
    """The latest and the best entry of a side whose strength fell by a grade or more."""
    window_start = today - timedelta(days=thresholds.strength_window_days)
    latest_limit = today - timedelta(days=thresholds.strength_latest_days)
    by_side: dict[Side | None, list[tuple[date, int, Measurement]]] = {}
    for m in strength:
        grade = mrc_grade(m)
        if m.date is not None and grade is not None and window_start <= m.date <= today:
            by_side.setdefault(m.side, []).append((m.date, grade, m))
    found: list[Finding] = []
    for series in by_side.values():
        latest_day = max(day for day, _, _ in series)
        _, latest_grade, latest = min((s for s in series if s[0] == latest_day), key=lambda s: s[1])
        best_day, best_grade, best = max(series, key=lambda s: s[1])
        lowest = min(grade for _, grade, _ in series)
        if latest_day >= latest_limit and latest_grade <= lowest and best_grade - latest_grade >= 1:
            found.extend(
                Finding("possible_progression", m.evidence, day)
                for day, m in ((best_day, best), (latest_day, latest))
            )
    return tuple(found)


def text_progression(
    conditions: Sequence[ConditionEntry],
    patterns: TextPatterns,
    today: date,
    thresholds: ClinicalThresholds,
) -> tuple[Finding, ...]:
    """Affirmed progression words in recent text of the relevant Conditions."""
    since = today - timedelta(days=thresholds.progression_text_days)
    found: list[Finding] = []
    for entry in with_feature(conditions, *TEXT_SOURCES):
        entry_day = entry.recorded_date or entry.onset.date
        passages = [
            (entry.code_text, entry_day),
            *((note.text, note.time or entry_day) for note in entry.notes),
        ]
        for text, day in passages:
            if day is None or not since <= day <= today:
                continue
            match = patterns.find("progression", text)
            if match is not None:
                value = f"text: “{match.clause}”"
                evidence = make_evidence(entry.resource, entry.display, day, value)
                found.append(Finding("possible_progression", evidence, day, from_text=True))
    return tuple(found)
