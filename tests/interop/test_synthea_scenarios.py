"""Synthea charts with a foot drop injected, on Medplum's FHIR server, called by Medplum's client.

The real-data tier's scenarios (`tests.support.synthea.SCENARIOS`: seizure history
as 703151001, an obese woman's adjusted-weight CrCl through height 8302-2,
creatinine as 38483-4, medication documentation never taken for botulinum, PT as
a CarePlan) are loaded into the real FHIR server as transaction Bundles. Each is
called twice by the real client — (a) with the prefetch `buildCdsRequest` fills
from the server using our discovery templates, (b) with only fhirServer and
fhirAuthorization, so the service queries the server itself — and both must give
the same cards, the expected ones.

Loading is the fixtures' business: every resource gets an id prefixed with the
scenario's (two scenarios share a chart), Synthea's `urn:uuid:` references become
`Type/id`, and each entry is a PUT (in transactions of `CHUNK` entries). The service
reads the charts as they are in the prefetch tier (tests/realdata).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.interop import harness
from tests.interop.harness import Ehr, FhirServer
from tests.support.spec_checks import check_response
from tests.support.synthea import SCENARIOS, Scenario

Json = dict[str, Any]
#: Entries per transaction: Medplum refuses a transaction with too many updates.
CHUNK = 50
PREFIXES = {name: f"s{number}" for number, name in enumerate(SCENARIOS, start=1)}


def _renamed(value: Any, ids: dict[str, str]) -> Any:
    """`value` with every urn:uuid reference and known id rewritten (ids: old -> Type/new)."""
    if isinstance(value, dict):
        return {key: _renamed(item, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [_renamed(item, ids) for item in value]
    if isinstance(value, str) and value.startswith("urn:uuid:"):
        return ids.get(value.removeprefix("urn:uuid:"), value)
    return value


def transaction(name: str, scenario: Scenario) -> tuple[Json, str, list[Json]]:
    """The scenario's record as a transaction Bundle of PUTs, its patient id, and its drafts."""
    prefix = PREFIXES[name]
    new_ids = {r["id"]: f"{prefix}-{r['id']}" for r in [*scenario.record, *scenario.drafts]}
    references = {
        old: f"{r['resourceType']}/{new_ids[old]}"
        for r in [*scenario.record, *scenario.drafts]
        for old in [r["id"]]
    }
    user = {"resourceType": "Practitioner", "id": "interop-doc"}  # the EHR user the client reads
    entries = [{"resource": user, "request": {"method": "PUT", "url": "Practitioner/interop-doc"}}]
    for resource in scenario.record:
        moved = _renamed(copy.deepcopy(resource), references)
        moved["id"] = new_ids[resource["id"]]
        url = f"{moved['resourceType']}/{moved['id']}"
        entries.append({"resource": moved, "request": {"method": "PUT", "url": url}})
    patient = next(r for r in scenario.record if r["resourceType"] == "Patient")
    patient_id = new_ids[patient["id"]]
    drafts = []
    for draft in scenario.drafts:
        moved = copy.deepcopy(draft)
        moved["id"] = new_ids[draft["id"]]
        moved["subject"] = {"reference": f"Patient/{patient_id}"}
        drafts.append(moved)
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    return bundle, patient_id, drafts


@pytest.fixture(scope="module")
def loaded(fhir_server: FhirServer) -> dict[str, tuple[Scenario, str, list[Json]]]:
    """Every Synthea scenario on the FHIR server: the scenario, its patient id, its drafts."""
    found = {}
    for name, build in SCENARIOS.items():
        scenario = build()
        bundle, patient_id, drafts = transaction(name, scenario)
        entries = bundle["entry"]
        for start in range(0, len(entries), CHUNK):  # Medplum caps updates per transaction
            fhir_server.load({**bundle, "entry": entries[start : start + CHUNK]})
        found[name] = (scenario, patient_id, drafts)
    return found


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_synthea_scenario_gives_the_expected_cards_via_prefetch_and_via_the_fhir_server(
    name: str, loaded: dict[str, tuple[Scenario, str, list[Json]]], ehr: Ehr
) -> None:
    scenario, patient_id, drafts = loaded[name]
    if scenario.hook == "patient-view":
        context: Json = {"patientId": patient_id}
    else:
        selections = [f"{d['resourceType']}/{d['id']}" for d in drafts]
        context = harness.draft_context(patient_id, drafts, selections)
    via_prefetch = ehr.call(scenario.hook, context, "prefetch")
    via_server = ehr.call(scenario.hook, context, "fhir-server")
    for exchange in (via_prefetch, via_server):
        check_response(exchange.response)
    prefetch = via_prefetch.request["prefetch"]
    assert set(prefetch) == set(via_prefetch.service["prefetch"])
    assert all(value is not None for value in prefetch.values()), prefetch
    assert via_prefetch.card_outline() == via_server.card_outline()
    shown = {topic for topic, _ in via_prefetch.card_outline()}
    assert scenario.fires <= shown, (sorted(scenario.fires - shown), sorted(shown))
    assert not scenario.silent & shown, sorted(shown)
