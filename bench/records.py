"""The benchmark's patients: generated charts of a chosen size, and Synthea charts.

A generated chart has the resource mix of the Synthea set (mostly Observations,
then Encounters and Claims, Procedures, Conditions, medications, reports), made
from copies of the project's own Synthea fixtures (tests/fixtures/synthea)
re-identified for one patient, plus the foot-drop scenario of
examples/patient-view.json dated to the run. It reaches the service the way a
broad EHR answer would: every Observation of the patient (the `code` filter of
the prefetch query not applied), Encounters and Claims riding along as included
resources (`_include`), so most resources are ones the rules never read. The
record size is the number of resources the request carries.

Synthea charts (the fixtures, and ../shared when present) are sent as the
service's own prefetch asks for them (`tests.support.synthea.as_prefetch`),
with the same foot-drop scenario added.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.load import SLOT
from tests.conftest import PREFETCH_KEYS, discovery_queries
from tests.support.synthea import SYNTHEA, as_prefetch, load_chart

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_CHARTS = ROOT / "tests" / "fixtures" / "synthea"
EXAMPLES = ROOT / "examples"
CLAIM_SHAPE = Path(__file__).with_name("claim.json")

#: Share of each resource type in a generated chart, after the Patient and the scenario
#: (rounded from the 100 Synthea charts: 52% Observations, 10% Claims, 8% Encounters…).
MIX = {
    "Observation": 55,
    "Encounter": 12,
    "Claim": 12,
    "Procedure": 7,
    "Condition": 5,
    "MedicationRequest": 5,
    "DiagnosticReport": 3,
    "AllergyIntolerance": 1,
}
#: Types no prefetch key asks for, sent as `_include`d entries of the bundle named.
INCLUDED_WITH = {"Encounter": "conditions", "Claim": "procedures"}
#: Days between the foot-drop onset and the run (an acute foot drop, first-line cards).
ONSET_DAYS_AGO = 20


@dataclass(frozen=True)
class Record:
    """One patient as a request carries it."""

    name: str
    patient_id: str
    prefetch: dict[str, Any]

    @property
    def resources(self) -> int:
        return sum(
            len(value.get("entry", [])) if value.get("resourceType") == "Bundle" else 1
            for value in self.prefetch.values()
        )


def _example(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EXAMPLES / name).read_text())
    return loaded


def _for_patient(resource: dict[str, Any], patient_id: str) -> dict[str, Any]:
    for field in ("subject", "patient"):
        if field in resource:
            resource[field] = {"reference": f"Patient/{patient_id}"}
    return resource


def scenario(patient_id: str, today: date) -> list[dict[str, Any]]:
    """The clinical resources of examples/patient-view.json, the foot drop dated `ONSET_DAYS_AGO`.

    Every onset moves by the same number of days, so the example's order of events stays.
    """
    prefetch = _example("patient-view.json")["prefetch"]
    resources = [
        copy.deepcopy(entry["resource"])
        for key, value in prefetch.items()
        if key != "patient" and isinstance(value, dict)
        for entry in value.get("entry", [])
    ]
    onsets = [
        date.fromisoformat(r["onsetDateTime"][:10]) for r in resources if "onsetDateTime" in r
    ]
    shift = today - timedelta(days=ONSET_DAYS_AGO) - max(onsets)
    for resource in resources:
        if "onsetDateTime" in resource:
            onset = date.fromisoformat(resource["onsetDateTime"][:10]) + shift
            resource["onsetDateTime"] = onset.isoformat()
        _for_patient(resource, patient_id)
    return resources


def _patient(patient_id: str) -> dict[str, Any]:
    patient: dict[str, Any] = copy.deepcopy(_example("patient-view.json")["prefetch"]["patient"])
    patient["id"] = patient_id
    return patient


def _fixture_pool() -> dict[str, list[dict[str, Any]]]:
    """Resources of the Synthea fixtures by type: the shapes and codes a real chart has."""
    pool: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(FIXTURE_CHARTS.glob("*.json")):
        for resource in load_chart(path):
            pool.setdefault(resource["resourceType"], []).append(resource)
    return pool


def _claim_for(encounter: dict[str, Any], shape: Mapping[str, Any]) -> dict[str, Any]:
    """A Claim as Synthea writes one per encounter: its period, its type as the billed item."""
    claim = copy.deepcopy(dict(shape))
    claim["billablePeriod"] = encounter["period"]
    claim["created"] = encounter["period"]["end"]
    claim["item"] = [
        {
            "sequence": 1,
            "productOrService": encounter["type"][0],
            "encounter": [{"reference": f"Encounter/{encounter['id']}"}],
        }
    ]
    return claim


def _counts(total: int) -> dict[str, int]:
    weight = sum(MIX.values())
    counts = {kind: total * share // weight for kind, share in MIX.items()}
    counts["Observation"] += total - sum(counts.values())
    return counts


def generated(size: int, today: date, *, unread: int = 0, seed: int = 15) -> Record:
    """A chart of exactly `size` resources (at least the Patient and the scenario).

    `unread` adds that many more Encounters and Claims, types the rules never read,
    to measure what a resource the rules ignore costs.
    """
    patient_id = f"bench-{size}"
    fixed = [_patient(patient_id), *scenario(patient_id, today)]
    counts = _counts(max(0, size - len(fixed)))
    for number in range(unread):
        counts[list(INCLUDED_WITH)[number % len(INCLUDED_WITH)]] += 1
    rng = random.Random(seed)
    pool = _fixture_pool()
    claim_shape = json.loads(CLAIM_SHAPE.read_text())
    prefetch: dict[str, Any] = {"patient": fixed[0]}
    for key in discovery_queries():  # every key, so none reads as unavailable
        if key != "patient":
            prefetch[key] = {"resourceType": "Bundle", "type": "searchset", "entry": []}
    for resource in fixed[1:]:
        _add(prefetch, resource, PREFETCH_KEYS[resource["resourceType"]], "match")
    encounters: list[dict[str, Any]] = []
    for kind, count in counts.items():
        for number in range(count):
            if kind == "Claim":
                resource = _claim_for(rng.choice(encounters or pool["Encounter"]), claim_shape)
            else:
                resource = copy.deepcopy(rng.choice(pool[kind]))
            resource["id"] = f"{kind.lower()}-{number}"
            _for_patient(resource, patient_id)
            if kind == "Encounter":
                encounters.append(resource)
            if kind in INCLUDED_WITH:
                _add(prefetch, resource, INCLUDED_WITH[kind], "include")
            else:
                _add(prefetch, resource, PREFETCH_KEYS[kind], "match")
    name = f"generated-{size}" + (f"+{unread}-unread" if unread else "")
    return Record(name, patient_id, prefetch)


def _add(prefetch: dict[str, Any], resource: dict[str, Any], key: str, mode: str) -> None:
    prefetch[key]["entry"].append({"resource": resource, "search": {"mode": mode}})


def synthea(paths: list[Path], templates: dict[str, str], today: date) -> Iterator[Record]:
    """Adult Synthea charts with the foot-drop scenario, as the service's prefetch asks."""
    adult_born_by = today - timedelta(days=365 * 19)
    for path in paths:
        resources = load_chart(path)
        patient = next(r for r in resources if r["resourceType"] == "Patient")
        if (
            "deceasedDateTime" in patient
            or date.fromisoformat(patient["birthDate"]) > adult_born_by
        ):
            continue
        patient_id, prefetch = as_prefetch(resources, templates)
        for resource in scenario(patient_id, today):
            prefetch[PREFETCH_KEYS[resource["resourceType"]]]["entry"].append(
                {"resource": resource}
            )
        yield Record(f"{path.parent.name}/{path.stem[:8]}", patient_id, prefetch)


def fixture_chart_paths() -> list[Path]:
    return sorted(FIXTURE_CHARTS.glob("*.json"))


def shared_chart_paths() -> list[Path]:
    """The charts of ../shared (none on a clone without it)."""
    return sorted(SYNTHEA.glob("*.json")) if SYNTHEA.is_dir() else []


def hook_body(
    hook: str,
    patient_id: str,
    *,
    record: Record | None = None,
    context: Mapping[str, Any] | None = None,
    **members: Any,
) -> bytes:
    """A hook request with `record` as prefetch (None: none), its hookInstance left as `SLOT`."""
    body: dict[str, Any] = {
        "hook": hook,
        "hookInstance": SLOT,
        "context": {
            "userId": "Practitioner/bench-clinician",
            "patientId": patient_id,
            **(context or {}),
        },
        **members,
    }
    if record is not None:
        body["prefetch"] = record.prefetch
    return json.dumps(body).encode()


def orders_for(patient_id: str) -> dict[str, Any]:
    """The draft orders and selections of examples/order-select.json, for this patient."""
    context = copy.deepcopy(_example("order-select.json")["context"])
    for entry in context["draftOrders"]["entry"]:
        _for_patient(entry["resource"], patient_id)
    return {"draftOrders": context["draftOrders"], "selections": context["selections"]}
