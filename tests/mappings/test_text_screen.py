"""TextPatterns.screen: a quick pre-test that never screens out a text `find` would read."""

from __future__ import annotations

import json

import pytest

from mappings.text import DEFAULT_PATH, TextPatterns

PATTERNS = TextPatterns.load()
DATA = json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))
GROUPS = sorted(PATTERNS.groups)

#: Every phrase the pattern file names (its groups and its named lists), and sentences
#: such as records write.
PHRASES = sorted(
    {
        phrase
        for spec in DATA["groups"].values()
        for key in ("terms", "ignore", "about", "not_about")
        for phrase in spec.get(key, [])
        if not phrase.startswith("@")
    }
    | {phrase for phrases in DATA.get("lists", {}).values() for phrase in phrases}
)
SENTENCES = [
    "Encounter for check up (procedure)",
    "Right foot drop, worse than last week",
    "Patient crosses her legs when sitting; legs crossed habitually",
    "Decompression of the left common peroneal nerve",
    "Release of right fibular nerve at the fibular head",
    "Ankle-foot orthosis (AFO) fitted",
    "4-aminopyridine 10 mg capsule, compounded",
    "Dalfampridine ER 10 MG",
    "No seizures since 2010",
    "Numbness in the saddle area",
    "Ampyra; Fampyra",
]


@pytest.mark.parametrize("text", PHRASES + SENTENCES + [s.upper() for s in SENTENCES])
def test_screen_keeps_every_group_find_finds(text: str) -> None:
    screen = PATTERNS.screen(GROUPS)
    kept = set(screen(text))
    found = {group for group in GROUPS if PATTERNS.find(group, text) is not None}
    assert found <= kept


def test_screen_drops_texts_that_name_no_group() -> None:
    screen = PATTERNS.screen(["orthosis", "fes_device", "tendon_transfer", "dalfampridine"])
    assert screen("Encounter for check up (procedure)") == ()
    assert screen("") == ()
    assert screen(None) == ()


def test_screen_keeps_the_order_given() -> None:
    text = "AFO and tendon transfer"
    assert PATTERNS.screen(["tendon_transfer", "orthosis"])(text) == ("tendon_transfer", "orthosis")


def test_regular_expression_groups_are_screened_by_their_expressions() -> None:
    screen = PATTERNS.screen(["peroneal_decompression"])
    assert screen("Neurolysis of the right common fibular nerve") == ("peroneal_decompression",)
    assert screen("Neurolysis of the right ulnar nerve") == ()
