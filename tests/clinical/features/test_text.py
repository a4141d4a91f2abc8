"""Free-text patterns and their negation (mappings/text.py, mappings/text_patterns.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mappings.text import DEFAULT_PATH, TextPatterns, default_patterns
from service.clinical.features.care import TEXT_FEATURES

ICD = "http://hl7.org/fhir/sid/icd-10-cm"
SCT = "http://snomed.info/sct"


@pytest.mark.parametrize(
    ("group", "text", "term"),
    [
        ("progression", "Left foot drop, progressive over 3 days", "progressive"),
        ("progression", "worsening weakness and back pain", "worsening"),
        ("progression", "No pain. Worsening weakness today.", "Worsening"),
        ("progression", "no progression", None),
        ("progression", "denies any worsening", None),
        ("progression", "no evidence of progression", None),
        ("progression", "progressive improvement", None),
        ("progression", "secondary progressive multiple sclerosis", None),
        ("progression", "worsening low back pain", None),
        ("leg_crossing", "Habitually crosses his legs at work", "crosses his legs"),
        ("leg_crossing", "sits with legs crossed for hours", "legs crossed"),
        ("leg_crossing", "denies leg crossing", None),
        ("orthosis", "wears a left AFO daily", "AFO"),
        ("orthosis", "ankle-foot orthosis fitted 2025", "ankle-foot orthosis"),
        ("orthosis", "declined AFO", None),
        ("orthosis", "lumbar brace for back pain", None),
        ("fes_device", "Bioness L300 in use", "Bioness"),
        ("dalfampridine", "Ampyra 10 MG", "Ampyra"),
        ("dalfampridine", "amifampridine", None),
        ("other_4ap", "compounded 4-AP 10 mg", "4-AP"),
        ("other_4ap", "3,4-diaminopyridine", None),
        ("other_4ap", "dalfampridine", None),
        ("cimetidine", "Cimetidine 400 mg", "Cimetidine"),
        (
            "tendon_transfer",
            "Tibialis posterior tendon transfer",
            "Tibialis posterior tendon transfer",
        ),
        (
            "peroneal_decompression",
            "Right fibular nerve decompression",
            "fibular nerve decompression",
        ),
        ("saddle", "numbness in the saddle area", "saddle"),
        ("saddle", "no saddle anaesthesia", None),
        ("seizure", "history of epilepsy", "epilepsy"),
        ("seizure", "no seizures", None),
        ("lower_limb", "spasticity of the left calf", "calf"),
    ],
)
def test_find(group: str, text: str, term: str | None) -> None:
    match = default_patterns().find(group, text)
    assert (match.term if match else None) == term


def test_every_group_the_features_use_is_defined() -> None:
    used = {*TEXT_FEATURES, "progression", "leg_crossing", "saddle", "seizure", "lower_limb"}
    assert used <= default_patterns().groups


@pytest.mark.parametrize(
    ("system", "code", "side"),
    [
        (ICD, "M21.371", "right"),
        (ICD, "M21372", "left"),  # EHRs drop the dot
        (ICD, "G57.33", "bilateral"),
        (ICD, "M21.379", None),
        (SCT, "51440002", "bilateral"),
        (SCT, "7771000", "left"),
    ],
)
def test_side_of_code(system: str, code: str, side: str | None) -> None:
    assert default_patterns().side_of_code(system, code) == side


@pytest.mark.parametrize(
    ("text", "side"),
    [
        ("Right foot", "right"),
        ("left and right", "bilateral"),
        ("Both feet", "bilateral"),
        ("", None),
    ],
)
def test_side_of_text(text: str, side: str | None) -> None:
    assert default_patterns().side_of_text(text) == side


@pytest.mark.parametrize(
    ("value", "absent"), [("Absent", True), ("no", True), ("Present", False), (None, False)]
)
def test_absent_values(value: str | None, absent: bool) -> None:
    assert default_patterns().is_absent_value(value) is absent


def test_a_bad_pattern_file_fails_loudly_naming_itself(tmp_path: Path) -> None:
    data = json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))
    data["groups"]["leg_crossing"]["patterns"] = ["(unclosed"]
    bad = tmp_path / "text_patterns.json"
    bad.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match=r"text_patterns\.json"):
        TextPatterns.load(bad)
