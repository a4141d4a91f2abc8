"""Realistic Synthea charts: the project's fixtures, and foot-drop scenarios injected into them.

The fixtures (`tests/fixtures/synthea/`, with their licence note) are Synthea
transaction Bundles. A chart is sent the way an EHR sends it: `as_prefetch` fills
each discovery key with what the key's query returns from the chart
(`tests.support.fhir_search`), and the same searches answer the loopback FHIR
server. Turning a transaction Bundle into searchsets is the fixtures' business
only: the service never needs it.

`SYNTHEA` is the full shared set of 100 charts (`../shared`), which only the
benchmarks read when present; tests read the fixtures.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.support.fhir_search import prefetch_for

Json = dict[str, Any]

SYNTHEA = Path(__file__).resolve().parents[3] / "shared" / "data" / "synthea-r4"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "synthea"

SCT = "http://snomed.info/sct"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"


def load_chart(path: Path) -> list[Json]:
    bundle = json.loads(path.read_text(encoding="utf-8"))
    return [entry["resource"] for entry in bundle["entry"]]


def fixture_paths() -> list[Path]:
    return sorted(FIXTURES.glob("*.json"))


def fixture_chart(prefix: str) -> list[Json]:
    """A fixture chart by the start of its file name (a fresh copy: scenarios edit it)."""
    (path,) = [p for p in fixture_paths() if p.name.startswith(prefix)]
    return load_chart(path)


def iter_fixture_charts() -> Iterator[tuple[str, list[Json]]]:
    for path in fixture_paths():
        yield path.stem, load_chart(path)


def patient_of(resources: list[Json]) -> Json:
    return next(r for r in resources if r["resourceType"] == "Patient")


def as_prefetch(resources: list[Json], templates: dict[str, str]) -> tuple[str, Json]:
    """The patient id and the prefetch an EHR sends for `resources` per our discovery."""
    patient_id: str = patient_of(resources)["id"]
    return patient_id, prefetch_for(resources, templates, patient_id)


# ------------------------------------------------------------------ injected scenario pieces
def day(days_ago: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days_ago)).date().isoformat()


def _subject(resources: list[Json]) -> Json:
    """Synthea's own form of the patient reference."""
    return {"reference": f"urn:uuid:{patient_of(resources)['id']}"}


def condition(
    resources: list[Json], rid: str, system: str, code: str, display: str, days: int
) -> Json:
    return {
        "resourceType": "Condition",
        "id": rid,
        "subject": _subject(resources),
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "active",
                }
            ]
        },
        "verificationStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                    "code": "confirmed",
                }
            ]
        },
        "code": {"coding": [{"system": system, "code": code, "display": display}], "text": display},
        "onsetDateTime": day(days),
        "recordedDate": day(days),
    }


def foot_drop(resources: list[Json], days: int = 20) -> Json:
    return condition(resources, "injected-foot-drop", ICD, "M21.371", "Foot drop, right foot", days)


def observation(
    resources: list[Json], rid: str, code: str, display: str, value: float, unit: str, days: int
) -> Json:
    """A vital sign or laboratory result shaped as Synthea writes them."""
    category = "vital-signs" if code in {"29463-7", "8302-2", "39156-5"} else "laboratory"
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": category,
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": LOINC, "code": code, "display": display}], "text": display},
        "subject": _subject(resources),
        "effectiveDateTime": day(days),
        "issued": day(days) + "T09:00:00.000+00:00",
        "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
    }


def redated(resource: Json, rid: str, days: int) -> Json:
    """A copy of a chart resource, recorded `days` ago: Synthea's dates are years old."""
    copied = copy.deepcopy(resource)
    copied["id"] = rid
    when = day(days) + "T09:00:00+00:00"
    for name in ("performedPeriod", "period"):
        if name in copied:
            copied[name] = {"start": when}
    if "performedDateTime" in copied:
        copied["performedDateTime"] = when
    return copied


def without_codes(resources: list[Json], *codes: str) -> list[Json]:
    """The chart without its Conditions coded with any of `codes`."""
    return [
        r
        for r in resources
        if r["resourceType"] != "Condition"
        or not {c.get("code") for c in r["code"].get("coding", [])} & set(codes)
    ]


def first(resources: list[Json], resource_type: str, code: str, field: str = "code") -> Json:
    """The chart's first resource of a type carrying `code` in `field` (a list or a concept)."""
    for resource in resources:
        if resource["resourceType"] != resource_type:
            continue
        value = resource.get(field)
        concepts = value if isinstance(value, list) else [value] if value else []
        if any(c.get("code") == code for concept in concepts for c in concept.get("coding", [])):
            return resource
    raise LookupError(f"no {resource_type} with {code}")
