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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
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


# ------------------------------------------------------------------ the scenarios
DALFAMPRIDINE = {
    "system": RXNORM,
    "code": "897021",
    "display": "dalfampridine 10 MG 12HR extended-release oral tablet",
}
SEIZURE_CODES = ("128613002", "703151001", "84757009")  # as these charts code seizures


@dataclass(frozen=True)
class Scenario:
    """A fixture chart with a foot-drop scenario injected, and the cards it must give."""

    record: list[Json]
    hook: str = "patient-view"
    fires: frozenset[str] = frozenset()
    silent: frozenset[str] = frozenset()
    drafts: list[Json] = field(default_factory=list)


def dalfampridine_draft(record: list[Json]) -> Json:
    return {
        "resourceType": "MedicationRequest",
        "id": "dalf-1",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{patient_of(record)['id']}"},
        "medicationCodeableConcept": {"coding": [DALFAMPRIDINE], "text": DALFAMPRIDINE["display"]},
        "dosageInstruction": [
            {
                "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
                "doseAndRate": [{"doseQuantity": {"value": 10, "unit": "mg"}}],
            }
        ],
    }


def remeasured(record: list[Json], code: str, rid: str, value: float, days: int) -> Json:
    """The chart's own measurement (its coding, display and unit), taken again `days` ago."""
    measured = redated(first(record, "Observation", code), rid, days)
    measured["effectiveDateTime"] = day(days) + "T09:00:00+00:00"
    measured["issued"] = day(days) + "T09:00:00.000+00:00"
    measured["valueQuantity"] = {**measured["valueQuantity"], "value": value}
    return measured


def contraindicated_dalfampridine(chart: list[Json], *injected: Json) -> Scenario:
    """A dalfampridine order for the chart with a foot drop and `injected`: contraindicated."""
    record = [*chart, foot_drop(chart), *injected]
    contraindicated = frozenset({"dalfampridine-contraindicated"})
    return Scenario(record, "order-select", contraindicated, drafts=[dalfampridine_draft(record)])


def seizure_as_synthea_codes_it() -> Scenario:
    """Only 703151001 "History of single seizure" left of the chart's seizure Conditions."""
    return contraindicated_dalfampridine(
        without_codes(fixture_chart("0d2177ba"), "128613002", "84757009")
    )


def obese_woman_adjusted_weight_crcl() -> Scenario:
    """Woman, 67, 162.7 cm (8302-2 in the chart), 90 kg (BMI 34), creatinine 1.25 mg/dL as
    38483-4: CrCl 62 mL/min by total weight, 47 by adjusted weight -> contraindicated."""
    chart = fixture_chart("77b69f66")
    return contraindicated_dalfampridine(
        chart,
        remeasured(chart, "29463-7", "injected-weight", 90.0, 10),
        remeasured(chart, "38483-4", "injected-creatinine", 1.25, 10),
    )


def creatinine_as_38483_4() -> Scenario:
    """Man, 50, 103 kg, creatinine 2.8 mg/dL as 38483-4: CrCl 46 mL/min -> contraindicated
    (the chart's seizure Conditions taken out, so only the renal function decides)."""
    chart = without_codes(fixture_chart("2e275d4b"), *SEIZURE_CODES)
    return contraindicated_dalfampridine(
        chart,
        remeasured(chart, "29463-7", "injected-weight", 103.0, 5),
        remeasured(chart, "38483-4", "injected-creatinine", 2.8, 5),
    )


def pt_careplan_since_onset() -> Scenario:
    """PT as Synthea records it: the chart's 91251008 CarePlan, active, started after the
    foot drop -> no physical-therapy card (the orthosis card still shows)."""
    chart = fixture_chart("0d2177ba")
    plan = redated(first(chart, "CarePlan", "91251008", "category"), "injected-pt-plan", 10)
    plan["status"] = "active"
    record = [*chart, foot_drop(chart, 20), plan]
    return Scenario(
        record,
        fires=frozenset({"orthosis"}),
        silent=frozenset({"physical-therapy"}),
    )


def medication_documentation_is_not_botulinum() -> Scenario:
    """Stroke (230690007 in the chart) with spasticity, and the chart's "Documentation of
    current medications" procedure done last month: the spasticity card still shows."""
    chart = fixture_chart("22bbe238")
    documentation = redated(
        first(chart, "Procedure", "428191000124101"), "injected-med-documentation", 30
    )
    spasticity = condition(chart, "injected-spasticity", SCT, "221360009", "Spasticity", 60)
    record = [*chart, foot_drop(chart), spasticity, documentation]
    return Scenario(record, fires=frozenset({"spasticity-botulinum"}))


SCENARIOS: dict[str, Callable[[], Scenario]] = {
    "seizure-703151001": seizure_as_synthea_codes_it,
    "obese-woman-adjusted-crcl": obese_woman_adjusted_weight_crcl,
    "creatinine-38483-4": creatinine_as_38483_4,
    "pt-careplan": pt_careplan_since_onset,
    "medication-documentation": medication_documentation_is_not_botulinum,
}
