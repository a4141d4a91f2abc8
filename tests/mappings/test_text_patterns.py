"""The text-pattern data read as a clinician would check it (clinical-logic v3 §2, §4).

Every row of the examples table in mappings/text_patterns.json is a test; the cue
lists and termination words are each exercised from the data, so a phrase added
there is tested without touching this file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mappings.text import DEFAULT_PATH, READINGS, TextPatterns, default_patterns

DATA: dict[str, Any] = json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))
EXAMPLES: list[dict[str, str]] = DATA["examples"]
CUES: dict[str, Any] = DATA["cue_sets"]


def example_id(row: dict[str, str]) -> str:
    return f"{row['group']}: {row['text']}"


def found_readings(group: str) -> list[str]:
    found: list[str] = DATA["groups"][group].get("found", ["affirmed"])
    return found


@pytest.mark.parametrize("row", EXAMPLES, ids=example_id)
def test_example_reads_as_the_table_says(row: dict[str, str]) -> None:
    match = default_patterns().read(row["group"], row["text"])
    assert (match.reading if match else "absent") == row["reading"], match
    if "term" in row:
        assert match is not None and match.term == row["term"]


@pytest.mark.parametrize("row", EXAMPLES, ids=example_id)
def test_find_returns_exactly_what_the_group_counts_as_found(row: dict[str, str]) -> None:
    """The boolean API: a red-flag suspicion or a seizure 'verify' is never dropped."""
    found = default_patterns().find(row["group"], row["text"])
    assert (found is not None) == (row["reading"] in found_readings(row["group"]))


def test_the_table_is_well_formed_and_covers_every_group() -> None:
    assert len(EXAMPLES) >= 60
    assert {row["reading"] for row in EXAMPLES} <= {*READINGS, "absent"}
    assert {row["group"] for row in EXAMPLES} == default_patterns().groups
    texts = [(row["group"], row["text"].lower()) for row in EXAMPLES]
    assert len(texts) == len(set(texts)), "a phrase is listed twice for one group"


#: Every phrase clinical-logic v3 names in §2 (possible progression, red-flag findings,
#: seizure_history) and §4 (order names), with the reading it prescribes.
SPEC_PHRASES = [
    ("progression", "progressive weakness despite stable MRI findings", "affirmed"),
    ("progression", "worse than at the last visit, when it was stable", "affirmed"),
    ("progression", "previously worsening, now improving", "historical"),
    ("progression", "secondary progressive multiple sclerosis", "absent"),
    ("progression", "Progressive supranuclear palsy", "absent"),
    ("progression", "Non-progressive foot drop", "negated"),
    ("progression", "foot drop progressed last month, weakness stable", "negated"),
    ("progression", "stable foot drop after worsening in May", "negated"),
    ("urinary_retention", "acute urinary retention", "affirmed"),
    ("cauda_equina", "cauda equina syndrome", "affirmed"),
    ("bowel_dysfunction", "faecal incontinence", "affirmed"),
    ("saddle_anesthesia", "saddle numbness", "affirmed"),
    ("urinary_retention", "suspected urinary retention", "suspected"),
    ("urinary_retention", "possible urinary retention", "suspected"),
    ("urinary_retention", "?urinary retention", "suspected"),
    ("urinary_retention", "query urinary retention", "suspected"),
    ("cauda_equina", "r/o cauda equina", "suspected"),
    ("cauda_equina", "rule out CES", "suspected"),
    ("urinary_retention", "evaluate for urinary retention", "suspected"),
    ("cauda_equina", "MRI to exclude cauda equina compression", "suspected"),
    ("urinary_retention", "history of urinary retention", "historical"),
    ("urinary_retention", "h/o urinary retention (BPH)", "historical"),
    ("urinary_retention", "previous urinary retention", "historical"),
    ("urinary_retention", "no urinary retention", "negated"),
    ("saddle_anesthesia", "denies saddle numbness", "negated"),
    ("seizure", "history of epilepsy", "affirmed"),
    ("seizure", "family history of epilepsy", "not_patient"),
    ("seizure", "non-epileptic seizures", "verify"),
    ("seizure", "psychogenic non-epileptic seizures", "verify"),
    ("seizure", "dissociative convulsions", "verify"),
    ("seizure", "functional seizures", "verify"),
    ("seizure", "seizure precautions", "verify"),
    ("seizure", "risk of seizures", "verify"),
    ("seizure", "r/o seizure", "verify"),
    ("seizure", "EEG to evaluate for seizures", "verify"),
    ("seizure", "no history of seizures", "negated"),
    ("seizure", "denies seizures", "negated"),
    ("seizure", "never had a seizure", "negated"),
    ("seizure", "no seizures since 2010", "affirmed"),
    ("seizure", "seizure-free for 5 years", "affirmed"),
    ("seizure", "no further seizures", "affirmed"),
    ("seizure", "no recent seizures", "affirmed"),
    ("seizure", "epilepsy, resolved", "affirmed"),
    ("seizure", "epilepsy well controlled on levetiracetam", "affirmed"),
    ("seizure", "epilepsy in remission", "affirmed"),
    ("order_mri_lumbar", "MRI lumbar spine", "affirmed"),
    ("order_mri_lumbar", "MR L-spine", "affirmed"),
    ("order_mri_lumbar", "lumbar MRI", "affirmed"),
    ("order_mri_lumbar", "MRI L-spine w/o contrast", "affirmed"),
    ("order_mri_lumbar", "MRI lumbar spine without contrast", "affirmed"),
    ("order_mri_lumbar", "MRI lumbar spine - no contrast", "affirmed"),
    ("order_mri_lumbar", "Non-contrast MRI lumbar spine", "affirmed"),
    ("order_orthosis", "AFO", "affirmed"),
    ("order_orthosis", "ankle foot orthosis, prefabricated", "affirmed"),
    ("order_physical_therapy", "physical therapy referral", "affirmed"),
    ("order_ncs_emg", "nerve conduction studies", "affirmed"),
    ("order_ncs_emg", "EMG", "affirmed"),
    ("order_ncs_emg", "EMG-guided botulinum toxin injection", "absent"),
    ("order_ncs_emg", "botulinum toxin injection under EMG guidance", "absent"),
]


@pytest.mark.parametrize(("group", "text", "reading"), SPEC_PHRASES)
def test_every_phrase_the_spec_names_is_a_row_of_the_table(
    group: str, text: str, reading: str
) -> None:
    assert {"group": group, "text": text, "reading": reading}.items() <= next(
        (row for row in EXAMPLES if (row["group"], row["text"]) == (group, text)), {}
    ).items()


# The cue lists, each phrase exercised from the data ---------------------------------


def cue_phrases(name: str, direction: str) -> list[str]:
    return [p for p in CUES[name].get(direction, []) if not p.startswith("@")]


@pytest.mark.parametrize("word", DATA["scope"]["termination"])
def test_each_termination_word_stops_a_negation(word: str) -> None:
    patterns = default_patterns()
    listed = patterns.read("urinary_retention", "denies saddle numbness, urinary retention")
    assert listed is not None and listed.reading == "negated"
    stopped = patterns.read("urinary_retention", f"denies saddle numbness {word} urinary retention")
    assert stopped is not None and stopped.reading == "affirmed"


@pytest.mark.parametrize("cue", cue_phrases("negation", "before"))
def test_each_pre_negation_cue_negates(cue: str) -> None:
    match = default_patterns().read("leg_crossing", f"{cue} leg crossing")
    assert match is not None and match.reading == "negated"


@pytest.mark.parametrize("cue", cue_phrases("negation", "after"))
def test_each_post_negation_cue_negates(cue: str) -> None:
    match = default_patterns().read("leg_crossing", f"leg crossing {cue}")
    assert match is not None and match.reading == "negated"


@pytest.mark.parametrize(
    ("direction", "cue"),
    [(d, c) for d in ("before", "after") for c in cue_phrases("suspicion", d)],
)
@pytest.mark.parametrize("group", ["urinary_retention", "cauda_equina"])
def test_each_suspicion_cue_keeps_a_red_flag(direction: str, cue: str, group: str) -> None:
    term = "urinary retention" if group == "urinary_retention" else "cauda equina syndrome"
    text = f"{cue} {term}" if direction == "before" else f"{term} {cue}"
    match = default_patterns().read(group, text)
    assert match is not None and match.reading == "suspected"
    assert default_patterns().find(group, text) is not None


@pytest.mark.parametrize(
    ("direction", "cue"), [(d, c) for d in ("before", "after") for c in cue_phrases("history", d)]
)
def test_each_history_cue_makes_an_older_red_flag(direction: str, cue: str) -> None:
    text = f"{cue} urinary retention" if direction == "before" else f"urinary retention {cue}"
    match = default_patterns().read("urinary_retention", text)
    assert match is not None and match.reading == "historical"
    assert default_patterns().find("urinary_retention", text) is None


@pytest.mark.parametrize(
    ("direction", "cue"),
    [(d, c) for d in ("before", "after") for c in cue_phrases("seizure_hypothetical", d)],
)
def test_each_seizure_hypothetical_means_verify(direction: str, cue: str) -> None:
    text = f"{cue} seizures" if direction == "before" else f"seizures {cue}"
    match = default_patterns().read("seizure", text)
    assert match is not None and match.reading == "verify"


@pytest.mark.parametrize("cue", cue_phrases("seizure_non_epileptic", "before"))
def test_each_non_epileptic_word_means_verify(cue: str) -> None:
    match = default_patterns().read("seizure", f"{cue} seizures")
    assert match is not None and match.reading == "verify"


@pytest.mark.parametrize("cue", cue_phrases("seizure_family", "before"))
def test_each_family_cue_is_not_the_patient(cue: str) -> None:
    match = default_patterns().read("seizure", f"{cue} epilepsy")
    assert match is not None and match.reading == "not_patient"


@pytest.mark.parametrize(
    "text",
    [f"{cue} seizures" for cue in cue_phrases("seizure_control", "before")]
    + [f"no seizures {cue}" for cue in cue_phrases("seizure_control", "after")],
)
def test_each_control_phrase_affirms_a_seizure_history(text: str) -> None:
    match = default_patterns().read("seizure", text)
    assert match is not None and match.reading == "affirmed"


@pytest.mark.parametrize("word", CUES["progression_state"]["state"]["words"])
def test_each_state_word_negates_progression_only_when_it_describes_the_present(
    word: str,
) -> None:
    patterns = default_patterns()
    for negated in (f"worsening foot drop, weakness {word}", f"progressive weakness, now {word}"):
        match = patterns.read("progression", negated)
        assert match is not None and match.reading == "negated", negated
    for affirmed in (
        f"progressive weakness despite {word} MRI findings",
        f"worse than at the last visit, when it was {word}",
    ):
        match = patterns.read("progression", affirmed)
        assert match is not None and match.reading == "affirmed", affirmed


# The API the feature code calls -------------------------------------------------------


def test_a_reading_carries_the_sentence_as_written_and_the_deciding_cue() -> None:
    match = default_patterns().read(
        "progression", "Known secondary progressive MS. No worsening of the foot drop."
    )
    assert match is not None
    assert (match.reading, match.term, match.cue) == ("negated", "worsening", "No")
    assert match.clause == "No worsening of the foot drop"
    shown = default_patterns().find("progression", "Secondary progressive MS, worsening weakness")
    assert shown is not None and shown.clause == "Secondary progressive MS, worsening weakness"


def test_the_most_safety_relevant_mention_decides() -> None:
    patterns = default_patterns()
    both = "Family history of epilepsy. Seizure precautions. No seizures since 2010."
    assert [m.reading for m in patterns.readings("seizure", both)] == [
        "not_patient",
        "verify",
        "affirmed",
    ]
    decisive = patterns.read("seizure", both)
    assert decisive is not None and decisive.reading == "affirmed"
    assert patterns.read("seizure", "History of migraine") is None
    assert patterns.read("seizure", None) is None


def test_order_names_are_read_without_finding_negation() -> None:
    """§4: cancellation comes only from the order's status, never from the words."""
    patterns = default_patterns()
    text = "Cancel: no peroneal nerve decompression"
    assert patterns.find("peroneal_decompression", text) is None
    named = patterns.find_name("peroneal_decompression", text)
    assert named is not None and named.term == "peroneal nerve decompression"
    assert patterns.find_name("order_mri_lumbar", "MRI brain") is None


@pytest.mark.parametrize(
    ("text", "features"),
    [
        ("MRI L-spine w/o contrast", {"mri_lumbar"}),
        ("Ankle foot orthosis; PT eval and treat", {"orthosis", "physical_therapy"}),
        ("NCS/EMG before peroneal nerve decompression", {"ncs_emg", "peroneal_decompression"}),
        ("Ampyra 10 mg ER", {"dalfampridine"}),
        ("compounded 4-aminopyridine 10 mg", {"other_4ap"}),
        ("Tibialis posterior tendon transfer", {"tendon_transfer"}),
        ("WalkAide", {"fes"}),
        ("Cimetidine 400 mg tablet", {"oct2_inhibitor"}),
        ("EMG-guided botulinum toxin; PT/INR", set()),
        (None, set()),
    ],
)
def test_order_features(text: str | None, features: set[str]) -> None:
    assert set(default_patterns().order_features(text)) == features


# A bad file fails loudly --------------------------------------------------------------


def broken(tmp_path: Path, change: str) -> Path:
    data = json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))
    groups, cues = data["groups"], data["cue_sets"]
    if change == "unknown cue set":
        groups["progression"]["cues"].append("no_such_cues")
    elif change == "unknown reading":
        cues["negation"]["reading"] = "maybe"
    elif change == "unknown list":
        groups["orthosis"]["ignore"] = ["@no_such_list"]
    elif change == "unknown pattern part":
        groups["order_mri_lumbar"]["patterns"] = ["{{no_such_part}}"]
    elif change == "own terms read with a cue set the group does not list":
        groups["seizure"]["cues"].remove("seizure_non_epileptic")
    elif change == "bad regex":
        groups["leg_crossing"]["patterns"] = ["(unclosed"]
    path = tmp_path / "text_patterns.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "change",
    [
        "unknown cue set",
        "unknown reading",
        "unknown list",
        "unknown pattern part",
        "own terms read with a cue set the group does not list",
        "bad regex",
    ],
)
def test_a_bad_pattern_file_fails_loudly_naming_itself(tmp_path: Path, change: str) -> None:
    with pytest.raises(ValueError, match=r"text_patterns\.json"):
        TextPatterns.load(broken(tmp_path, change))
