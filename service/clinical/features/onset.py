"""When the foot drop began, how long ago that is, and which side it affects.

Onset order (§1 Time): onsetDateTime, onsetPeriod.start, onsetAge with the birth
date; else recordedDate, flagged approximate; else unknown. A future onset (a data
error) is read as today, so the phase errs towards acute.

Laterality (§2): from the code (ICD-10-CM carries the side) or bodySite (SNOMED
side qualifiers, or side words in its text); right and left entries together, a
bilateral code (G57.33) or bodySite "right and left" mean bilateral.

Episodes per side (v3 §1 Time). Each side's foot-drop entries, in date order, form
episodes: a later entry starts a new episode only when its clinicalStatus is
recurrence or relapse (from its onset, else its recordedDate as an approximate
onset), or when every entry of the episode so far has abated and the later entry
has a true onset of its own. Any other entry joins the episode; one whose onset is
the calendar day of its recordedDate counts as approximate. Within an episode the
earliest true onset wins, and only without one the earliest recordedDate: a migrated
recordedDate must not age a dated foot drop. A side's current episode is its last,
when it holds an active entry. A bilateral entry belongs to both sides; an entry
with no side joins every sided episode group (or, with none, forms its own). The
foot drop's onset (its phase) is the earliest current episode's; care "since onset"
counts from the newest (features.extract); it became bilateral when the later
side's current episode began (with one side undated, the dated side).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal

from mappings.text import Side, TextPatterns
from service.clinical.features.model import (
    Episode,
    EpisodeSide,
    Finding,
    FootDrop,
    Laterality,
    Onset,
    Phase,
)
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
    """One foot-drop entry as the assembly needs it.

    `active`: clinicalStatus active, recurrence or relapse (or missing); `restarts`:
    recurrence or relapse; `abated`: inactive, resolved or remission, or an abatement
    recorded; `recorded`: its recordedDate.
    """

    finding: Finding
    onset: Onset
    side: Side | None
    active: bool = True
    restarts: bool = False
    abated: bool = False
    recorded: date | None = None


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


_SIDES: tuple[EpisodeSide, ...] = ("right", "left")


def _as_joined(entry: SidedOnset) -> Onset:
    """An entry joining an episode: an onset on its recordedDate's day is approximate."""
    onset = entry.onset
    if onset.known and entry.recorded is not None and onset.date == entry.recorded:
        return Onset(onset.date, "recorded_date")
    return onset


def _date_order(entry: SidedOnset) -> tuple[bool, date]:
    return entry.onset.date is None, entry.onset.date or date.min


def _last_episode(entries: Sequence[SidedOnset]) -> tuple[list[SidedOnset], list[Onset]]:
    """The last episode of one side's entries: its entries and their onsets as counted."""
    episode: list[SidedOnset] = []
    onsets: list[Onset] = []
    for entry in sorted(entries, key=_date_order):
        abated = bool(episode) and all(e.abated for e in episode)
        if not episode or entry.restarts or (abated and _as_joined(entry).known):
            episode, onsets = [entry], [entry.onset]
        else:
            episode.append(entry)
            onsets.append(_as_joined(entry))
    return episode, onsets


def _episode(
    side: EpisodeSide,
    entries: Sequence[SidedOnset],
    today: date,
    thresholds: ClinicalThresholds,
) -> Episode | None:
    """The side's current episode; None when its last episode holds no active entry."""
    episode, onsets = _last_episode(entries)
    active = [e for e in episode if e.active]
    if not active:
        return None
    onset = earliest(onsets)
    duration, phase = phase_of(onset, today, thresholds)
    return Episode(side, tuple(e.finding for e in active), onset, duration, phase)


def _by_side(entries: Sequence[SidedOnset]) -> dict[EpisodeSide, list[SidedOnset]]:
    """Entries per side: a bilateral entry on both, an unsided one joining every side."""
    groups: dict[EpisodeSide, list[SidedOnset]] = {}
    for side in _SIDES:
        named = [e for e in entries if e.side in (side, "bilateral")]
        if named:
            groups[side] = named
    unsided = [e for e in entries if e.side is None]
    if unsided:
        for group in groups.values():
            group.extend(unsided)
        if not groups:
            groups["unspecified"] = unsided
    return groups


def _episodes(
    entries: Sequence[SidedOnset],
    side_entries: Sequence[SidedOnset],
    today: date,
    thresholds: ClinicalThresholds,
) -> tuple[list[Episode], list[Episode]]:
    """(the foot drop's current episodes, sides only `side_entries` name).

    With no sided foot-drop entry, the sides a peroneal entry names are the foot
    drop's; a side named only by a peroneal entry is a side of the foot drop but does
    not date it.
    """
    groups = _by_side(entries)
    found = [x for side, group in groups.items() if (x := _episode(side, group, today, thresholds))]
    sided = _by_side([e for e in side_entries if e.side])
    if list(groups) == ["unspecified"] and sided and found:
        # "Foot drop" unsided with a left peroneal palsy: a left foot drop.
        return [replace(found[0], side=side) for side in sided], []
    extra = [
        replace(x, side_only=True)
        for side, group in sided.items()
        if side not in groups and (x := _episode(side, group, today, thresholds))
    ]
    return found, extra


def _bilateral_onset(episodes: Sequence[Episode]) -> Onset | None:
    per_side = [e.onset for e in episodes if e.side in _SIDES]
    if len(per_side) < len(_SIDES):
        return None
    dated = [o for o in per_side if o.date is not None]
    if not dated:
        return Onset(None, "none")
    # With one side undated, the foot drop became bilateral no earlier than the dated side
    # began: a recent dated side still means a new bilateral foot drop (a red flag).
    return max(dated, key=lambda o: (o.date or date.min, not o.approximate))


def assemble(
    entries: Sequence[SidedOnset],
    side_entries: Sequence[SidedOnset],
    proxy: bool,
    today: date,
    thresholds: ClinicalThresholds,
) -> FootDrop | None:
    """One foot drop from its entries (any clinical status); None without an active one.

    `side_entries` add sides (and bilateral onsets) only: a coded peroneal palsy of the
    other side, or G57.33, makes a foot drop bilateral without changing its onset.
    """
    own, extra = _episodes(entries, [e for e in side_entries if e.active], today, thresholds)
    if not own:
        return None
    onset = earliest([e.onset for e in own])
    duration, phase = phase_of(onset, today, thresholds)
    episodes = [*own, *extra]
    sides = {e.side for e in episodes if e.side != "unspecified"}
    laterality: Laterality = (
        "bilateral" if len(sides) == len(_SIDES) else next(iter(sides), "unspecified")
    )
    return FootDrop(
        findings=tuple(dict.fromkeys(f for e in own for f in e.findings)),
        laterality=laterality,
        onset=onset,
        duration=duration,
        phase=phase,
        bilateral_onset=_bilateral_onset(episodes),
        proxy=proxy,
        episodes=tuple(episodes),
    )
