"""Features read from the words of Condition entries (mappings/text_patterns.json).

Only what no code expresses well (codes.md §9): habitual leg crossing, saddle
anaesthesia coded as an unsited skin-sensation finding (R20.x) with a saddle or
perineal word, seizure history or a "verify" seizure record named in a generic
nervous-system history (Z86.69) or in a Condition with no recognised code, an
orthosis or FES device mentioned as in use, spasticity placed in the lower limb, and
red-flag findings on an uncoded problem-list entry or in a recent note (v3 §2). Every
finding is marked `from_text`, so cards can say so.

Red flags from text (v3 §2 red_flag findings): an active Condition with no recognised
coding whose code text names cauda equina syndrome, urinary retention, faecal
incontinence or saddle anaesthesia is that finding, dated by its own onset or
recordedDate; a suspected one counts ("?", "r/o", "to exclude" never negate); a
historical one ("history of", "h/o", "previous") is an older finding (no date of its
own). Named only in the note of a foot-drop, weakness or radiculopathy Condition dated
≤ 14 days, it is `red_flag_noted`: the warning tier at most.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from mappings.text import TextMatch, TextPatterns
from service.clinical.features.conditions import ConditionEntry, with_feature
from service.clinical.features.model import CareEvent, Finding
from service.clinical.features.records import make_evidence

#: Text groups (mappings/text_patterns.json) naming a red-flag finding; each is its feature.
RED_FLAG_GROUPS = ("cauda_equina", "urinary_retention", "bowel_dysfunction", "saddle_anesthesia")
#: Readings that count as the finding: suspicion never negates a red flag.
_RED_FLAG_READINGS = frozenset({"affirmed", "suspected"})
#: Conditions whose notes are read for red flags named in passing (as for progression).
NOTE_SOURCES = ("foot_drop", "peroneal_neuropathy", "weakness", "l5_radiculopathy")


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


#: Seizure readings (mappings/text_patterns.json, group "seizure") and what they mean.
_SEIZURE_HISTORY_READINGS = frozenset({"affirmed", "historical"})
_SEIZURE_VERIFY_READINGS = frozenset({"verify", "suspected", "hypothetical"})


def seizure_from_text(
    entries: Sequence[ConditionEntry], patterns: TextPatterns
) -> tuple[tuple[Finding, ...], tuple[Finding, ...]]:
    """Seizure history and "verify" entries read from words (clinical-logic v3 §2), any status.

    Read: Z86.69 (its code text and notes), and every Condition none of whose codings is
    recognised (its display or text only). The decisive reading of the "seizure" group
    decides: the patient's own seizure, epilepsy or convulsion — including time-bounded
    and control phrases ("no seizures since 2010", "in remission") — is seizure history;
    non-epileptic events and hypotheticals ("seizure precautions", "r/o seizure") mean
    verify; plain denials and family history give nothing.
    """
    screen = patterns.screen(["seizure"])
    generic = with_feature(entries, "seizure_history_nonspecific", active_only=False)
    sources = [(e, e.all_text) for e in generic]
    sources += [(e, e.code_text) for e in entries if not e.matches]
    history: list[Finding] = []
    verify: list[Finding] = []
    for entry, words in sources:
        match = patterns.read("seizure", words) if screen(words) else None
        if match is None:
            continue
        if match.reading in _SEIZURE_HISTORY_READINGS:
            history.append(_text_finding(entry, "seizure_history", match.clause))
        elif match.reading in _SEIZURE_VERIFY_READINGS:
            verify.append(_text_finding(entry, "seizure_verify", match.clause))
    return tuple(history), tuple(verify)


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


def _red_flag_reading(patterns: TextPatterns, group: str, text: str) -> TextMatch | None:
    """The decisive mention of a red flag: found, historical, or None (negated, absent)."""
    match = patterns.read(group, text)
    if match is None or match.reading not in {*_RED_FLAG_READINGS, "historical"}:
        return None
    return match


def red_flags_from_text(
    entries: Sequence[ConditionEntry], patterns: TextPatterns
) -> tuple[Finding, ...]:
    """Active uncoded Conditions whose code text names a red flag (v3 §2)."""
    screen = patterns.screen(RED_FLAG_GROUPS)
    found = []
    for entry in entries:
        text = entry.code_text
        if entry.matches or not entry.active or not text:
            continue
        for group in screen(text):
            match = _red_flag_reading(patterns, group, text)
            if match is None:
                continue
            day = entry.onset.date
            value = f"recorded as free text: “{match.clause}”"
            evidence = make_evidence(entry.resource, entry.display, day, value)
            older = match.reading == "historical"
            when = None if older else day
            found.append(Finding(group, evidence, when, entry.onset.approximate, from_text=True))
    return tuple(found)


def red_flags_in_notes(
    entries: Sequence[ConditionEntry], patterns: TextPatterns, today: date, days: int
) -> tuple[Finding, ...]:
    """Red flags named (found, not historical) in the recent notes of a foot-drop,
    weakness or radiculopathy Condition: the warning tier at most."""
    since = today - timedelta(days=days)
    screen = patterns.screen(RED_FLAG_GROUPS)
    found = []
    for entry in with_feature(entries, *NOTE_SOURCES):
        for note in entry.notes:
            day = note.time or entry.recorded_date or entry.onset.date
            if day is None or not since <= day <= today:
                continue
            for group in screen(note.text):
                match = patterns.read(group, note.text)
                if match is not None and match.reading in _RED_FLAG_READINGS:
                    value = f"note: “{match.clause}”"
                    evidence = make_evidence(entry.resource, entry.display, day, value)
                    found.append(Finding(group, evidence, day, from_text=True))
    return tuple(found)
