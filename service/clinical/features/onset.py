"""When the foot drop began, how long ago that is, and which side it affects.

Onset order (§1 Time): onsetDateTime, onsetPeriod.start, onsetAge with the birth
date; else recordedDate, flagged approximate; else unknown. With several active
foot-drop entries the earliest true onset wins, and only without one the earliest
recordedDate: a migrated recordedDate must not age a dated foot drop. A future
onset (a data error) is read as today, so the phase errs towards acute.

Laterality (§2): from the code (ICD-10-CM carries the side) or bodySite (SNOMED
side qualifiers, or side words in its text); right and left entries together, a
bilateral code (G57.33) or bodySite "right and left" mean bilateral. It became
bilateral when the later side began, or when a bilateral entry did; with one side
undated, no earlier than the dated side began.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from mappings.text import Side, TextPatterns
from service.clinical.features.model import Finding, FootDrop, Laterality, Onset, Phase
from service.clinical.features.records import months_before
from service.clinical.thresholds import ClinicalThresholds
from service.fhir.readers import Concept, Quantity, Reader
from service.fhir.units import unit_key

_DAYS_PER_YEAR = Decimal("365.25")
#: Age units: UCUM codes and common words.
_AGE_UNITS = {
    **dict.fromkeys(("a", "y", "yr", "year", "years"), "year"),
    **dict.fromkeys(("mo", "month", "months"), "month"),
    **dict.fromkeys(("wk", "week", "weeks"), "week"),
    **dict.fromkeys(("d", "day", "days"), "day"),
}


@dataclass(frozen=True)
class SidedOnset:
    """One foot-drop entry as the assembly needs it."""

    finding: Finding
    onset: Onset
    side: Side | None


def condition_onset(condition: Reader, birth_date: date | None) -> Onset:
    """The entry's onset in the order of §1, else its recordedDate (approximate)."""
    if (day := condition.date("onsetDateTime")) is not None:
        return Onset(day, "onset_datetime")
    if (day := condition.period_start("onsetPeriod")) is not None:
        return Onset(day, "onset_period")
    age = condition.quantity("onsetAge")
    if birth_date is not None and (day := _add_age(birth_date, age)) is not None:
        return Onset(day, "onset_age")
    if (day := condition.date("recordedDate")) is not None:
        return Onset(day, "recorded_date")
    return Onset(None, "none")


def _add_age(birth: date, age: Quantity | None) -> date | None:
    """Birth date plus onsetAge; None when the age cannot be a date (a data error)."""
    try:
        return _birth_plus(birth, age)
    except (OverflowError, ValueError):
        return None


def _birth_plus(birth: date, age: Quantity | None) -> date | None:
    if age is None:
        return None
    unit = _AGE_UNITS.get(unit_key(age.ucum_or_unit or "a"))
    value = age.value
    if unit == "year":
        whole = int(value)
        extra = timedelta(days=float((value - whole) * _DAYS_PER_YEAR))
        return months_before(birth, -12 * whole) + extra
    if unit == "month" and value == int(value):
        return months_before(birth, -int(value))
    if unit == "week":
        return birth + timedelta(weeks=float(value))
    if unit == "day":
        return birth + timedelta(days=float(value))
    return None


def condition_side(
    code: Concept | None, body_sites: Sequence[Concept], patterns: TextPatterns
) -> Side | None:
    """The side a single entry names through its code, bodySite codes or bodySite text."""
    sides: set[Side] = set()
    for concept in [*([code] if code else []), *body_sites]:
        for coding in concept.codings:
            if (side := patterns.side_of_code(coding.system, coding.code)) is not None:
                sides.add(side)
    for site in body_sites:
        if (side := patterns.side_of_text(site.words)) is not None:
            sides.add(side)
    return _combine(sides)


def _combine(sides: set[Side]) -> Side | None:
    if "bilateral" in sides or {"right", "left"} <= sides:
        return "bilateral"
    return next(iter(sides), None)


def earliest(onsets: Sequence[Onset]) -> Onset:
    """The earliest true onset, else the earliest recordedDate, else unknown."""
    for approximate in (False, True):
        dated = [o for o in onsets if o.date is not None and o.approximate == approximate]
        if dated:
            return min(dated, key=lambda o: o.date or date.min)
    return Onset(None, "none")


def phase_of(
    onset: Onset, today: date, thresholds: ClinicalThresholds
) -> tuple[timedelta | None, Phase]:
    """Duration to the request day and the phase it falls in (§1 Time)."""
    if onset.date is None:
        return None, "unknown"
    duration = max(today - onset.date, timedelta(0))
    if duration < timedelta(weeks=thresholds.acute_weeks):
        return duration, "acute"
    if onset.date <= months_before(today, thresholds.long_standing_months):
        return duration, "long_standing"
    return duration, "established"


def _bilateral_onset(entries: Sequence[SidedOnset]) -> Onset | None:
    bilateral = [e.onset for e in entries if e.side == "bilateral"]
    if bilateral:
        return earliest(bilateral)
    per_side = [earliest([e.onset for e in entries if e.side == s]) for s in ("right", "left")]
    dated = [o for o in per_side if o.date is not None]
    if not dated:
        return Onset(None, "none")
    # With one side undated, the foot drop became bilateral no earlier than the dated side
    # began: a recent dated side still means a new bilateral foot drop (a red flag).
    return max(dated, key=lambda o: o.date or date.min)


def assemble(
    entries: Sequence[SidedOnset],
    side_entries: Sequence[SidedOnset],
    proxy: bool,
    today: date,
    thresholds: ClinicalThresholds,
) -> FootDrop | None:
    """One foot drop from its active entries; None without any.

    `side_entries` add sides (and bilateral onsets) only: a coded peroneal palsy of the
    other side, or G57.33, makes a foot drop bilateral without changing its onset.
    """
    if not entries:
        return None
    onset = earliest([e.onset for e in entries])
    duration, phase = phase_of(onset, today, thresholds)
    sided = [*entries, *side_entries]
    side = _combine({e.side for e in sided if e.side is not None})
    laterality: Laterality = side or "unspecified"
    return FootDrop(
        findings=tuple(e.finding for e in entries),
        laterality=laterality,
        onset=onset,
        duration=duration,
        phase=phase,
        bilateral_onset=_bilateral_onset(sided) if laterality == "bilateral" else None,
        proxy=proxy,
    )
