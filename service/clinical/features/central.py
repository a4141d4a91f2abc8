"""Whether a central cause explains the foot drop (clinical-logic v3 §2 central_cause).

A central condition explains the foot drop when one of these holds:

    the foot-drop record names it        its code is also a central cause, or its code
                                          text names one (text group `central_cause`)
    a sequela with a deficit              an active central_sequela entry, any date
    an acute central event                central_acute_event (and any other stroke entry),
                                          onset from 6 months before to 14 days after the
                                          foot drop's onset, never later
    a chronic central disease             MS, cerebral palsy, spinal cord disease, with a
                                          foot drop of unknown, approximate or ≥ 6-month onset

Every other central condition is a *possible* cause: the work-up card fires and names
it. A chronic disease beside a foot drop of known onset under 6 months is also
`chronic_recent`: the work-up card names it first.

Choices where the spec is silent, for the docs:
- A stroke entry that is neither a sequela with a deficit nor an acute event code (the
  situation "history of stroke", other I69.3 sequelae) is read as the event, dated by its
  onset; an undated one, or one beside a foot drop of unknown onset, cannot be linked in
  time and is a possible cause.
- An event dated only by its recordedDate is not linked in time (problem-list migrations
  reset recordedDate): it stays a possible cause, so the work-up card names it.
- The foot-drop record's notes are not read for a cause: a past medical history in a note
  ("PMH: stroke 1988") names a condition, not the cause.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from mappings.text import TextPatterns
from service.clinical.features.conditions import ConditionEntry, with_feature
from service.clinical.features.model import CentralCauses, Finding, FootDrop
from service.clinical.features.records import months_before
from service.clinical.thresholds import ClinicalThresholds

SEQUELA = "central_sequela"
ACUTE_EVENTS = ("central_acute_event", "stroke")
CHRONIC = ("multiple_sclerosis", "cerebral_palsy", "spinal_cord")
#: Every feature that makes a Condition a central cause.
CENTRAL_FEATURES = (SEQUELA, *ACUTE_EVENTS, *CHRONIC)
FOOT_DROP_RECORDS = ("foot_drop", "peroneal_neuropathy")


def named_by_foot_drop(
    entries: Sequence[ConditionEntry], patterns: TextPatterns
) -> tuple[Finding, ...]:
    """Foot-drop records whose code is a central cause too, or whose code text names one."""
    found = []
    for entry in with_feature(entries, *FOOT_DROP_RECORDS):
        if entry.features & set(CENTRAL_FEATURES):
            found.append(entry.finding("central_cause"))
        elif patterns.find("central_cause", entry.code_text):
            found.append(entry.finding("central_cause", from_text=True))
    return tuple(found)


def _linked_event(event: date | None, onset: date | None, t: ClinicalThresholds) -> bool:
    """The event began from 6 months before to 14 days after the foot drop (never later)."""
    if event is None or onset is None:
        return False
    earliest = months_before(onset, t.central_event_before_months)
    return earliest <= event <= onset + timedelta(days=t.central_event_after_days)


def _chronic_explains(fd: FootDrop, today: date, t: ClinicalThresholds) -> bool:
    """A chronic disease explains a foot drop of unknown, approximate or ≥ 6-month onset."""
    onset = fd.onset
    return not onset.known or (
        onset.date is not None and onset.date <= months_before(today, t.central_chronic_months)
    )


def central_causes(
    central: Sequence[tuple[ConditionEntry, Finding]],
    named: Sequence[Finding],
    fd: FootDrop | None,
    today: date,
    t: ClinicalThresholds,
) -> CentralCauses:
    """Sort the central conditions (each entry with its finding) by whether they explain."""
    explains: list[Finding] = list(named)
    possible: list[Finding] = []
    chronic_recent: list[Finding] = []
    for entry, finding in central:
        if fd is None:
            possible.append(finding)
        elif SEQUELA in entry.features and entry.active:
            explains.append(finding)
        elif entry.features & set(ACUTE_EVENTS):
            event = entry.onset.date if entry.onset.known else None
            linked = _linked_event(event, fd.onset.date, t)
            (explains if linked else possible).append(finding)
        elif _chronic_explains(fd, today, t):
            explains.append(finding)
        else:
            possible.append(finding)
            chronic_recent.append(finding)
    return CentralCauses(tuple(explains), tuple(possible), tuple(chronic_recent))
