"""Real charts: every code Synthea writes where the rules look is in its value set, and only there.

The review of issue 8 found codes real charts carry that the value sets missed (seizure
history as 703151001, height as 8302-2, PT as a CarePlan) or matched wrongly (medication
documentation 428191000124101 as botulinum). ``tests/fixtures/synthea/concepts.tsv``
classifies every code the fixture charts carry in a field the rules read; this scan fails
when a chart code is unclassified, or when matching disagrees with the table.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mappings.__main__ import SHORT
from mappings.matcher import LOINC, SNOMED, ValueSetIndex
from tests.support.fhir_search import walk

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "synthea"
SYSTEMS = {short: uri for uri, short in SHORT.items()}  # the review table's abbreviations

#: Where the features code reads codes, per resource type (dotted paths; lists are walked).
READ_FIELDS = {
    "Condition": ("code",),
    "Observation": ("code",),
    "Procedure": ("code",),
    "CarePlan": ("category", "activity.detail.code"),
    "Encounter": ("type",),
    "MedicationRequest": ("medicationCodeableConcept",),
    "MedicationStatement": ("medicationCodeableConcept",),
    "MedicationAdministration": ("medicationCodeableConcept",),
    "DiagnosticReport": ("code",),
    "ImagingStudy": ("procedureCode", "series.modality", "series.bodySite"),
    "AllergyIntolerance": ("code",),
    "Device": ("type",),
    "DeviceRequest": ("codeCodeableConcept",),
    "ServiceRequest": ("code",),
}

#: The concepts issue 8 names, which the fixture charts must keep carrying.
REQUIRED = {
    (SNOMED, "703151001"): {"seizure_history"},
    (SNOMED, "128613002"): {"seizure_history"},
    (SNOMED, "84757009"): {"seizure_history"},
    (SNOMED, "230690007"): {"stroke", "central_acute_event"},
    (SNOMED, "368581000119106"): {"diabetic_neuropathy"},
    (SNOMED, "91251008"): {"physical_therapy"},
    (SNOMED, "428191000124101"): set(),  # medication documentation: never botulinum
    (LOINC, "8302-2"): {"body_height"},
    (LOINC, "29463-7"): {"body_weight"},
    (LOINC, "39156-5"): {"body_mass_index"},
    (LOINC, "38483-4"): {"serum_creatinine"},
    (LOINC, "33914-3"): {"egfr"},
}


def codings(value: Any) -> Iterator[dict[str, Any]]:
    """The codings of a CodeableConcept, or a bare Coding (modality, bodySite)."""
    if isinstance(value, dict):
        yield from value.get("coding", [value] if "code" in value else [])


def chart_codes() -> dict[tuple[str, str], set[str]]:
    """(system, code) of every coding in a read field → the resource types carrying it."""
    found: dict[tuple[str, str], set[str]] = {}
    for path in sorted(FIXTURES.glob("*.json")):
        bundle = json.loads(path.read_text(encoding="utf-8"))
        for entry in bundle["entry"]:
            resource = entry["resource"]
            kind = resource["resourceType"]
            for field in READ_FIELDS.get(kind, ()):
                for value in walk(resource, field.split(".")):
                    for coding in codings(value):
                        found.setdefault((coding["system"], coding["code"]), set()).add(kind)
    return found


def reviewed() -> dict[tuple[str, str], set[str]]:
    lines = (FIXTURES / "concepts.tsv").read_text(encoding="utf-8").splitlines()
    rows = csv.DictReader((line for line in lines if not line.startswith("#")), delimiter="\t")
    table: dict[tuple[str, str], set[str]] = {}
    for row in rows:
        features = set() if row["features"] == "-" else set(row["features"].split(","))
        table[(SYSTEMS[row["system"]], row["code"])] = features
    return table


CHART = chart_codes()
TABLE = reviewed()


def test_fixtures_are_a_handful_of_small_charts() -> None:
    charts = sorted(FIXTURES.glob("*.json"))
    assert 3 <= len(charts) <= 5
    assert sum(p.stat().st_size for p in charts) < 1_000_000


def test_every_chart_code_in_a_read_field_is_reviewed() -> None:
    assert sorted(set(CHART) - set(TABLE)) == [], "classify these codes in concepts.tsv"
    assert sorted(set(TABLE) - set(CHART)) == [], "concepts.tsv lists codes no chart carries"


@pytest.mark.parametrize(("system", "code"), sorted(TABLE), ids=[c for _, c in sorted(TABLE)])
def test_chart_code_matches_exactly_its_reviewed_features(
    index: ValueSetIndex, system: str, code: str
) -> None:
    assert {m.feature for m in index.match(system, code)} == TABLE[(system, code)]


def test_the_concepts_the_review_named_are_in_the_charts_and_the_table() -> None:
    for key, features in REQUIRED.items():
        assert key in CHART, key
        assert TABLE[key] == features, key
    assert "CarePlan" in CHART[(SNOMED, "91251008")]  # PT only as a CarePlan in Synthea
    assert "Procedure" in CHART[(SNOMED, "428191000124101")]
