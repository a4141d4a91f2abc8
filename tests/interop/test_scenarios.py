"""Scenario patients on a real FHIR server, called by a real CDS Hooks client.

Each scenario (scenarios/*.json) is a transaction Bundle loaded into Medplum's
server and a list of hook calls with the cards the clinical specification
expects. Every call is made twice by Medplum's client: (a) with the prefetch its
`buildCdsRequest` fills from the server, (b) with no prefetch, only fhirServer and
fhirAuthorization, so the service reads the same server itself. Both must give
the same cards (topic and indicator), the expected ones, each response must keep
the CDS Hooks rules, and every resource an action carries must pass Medplum's R4
validator.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.interop import harness
from tests.interop.harness import Ehr, Exchange, FhirServer
from tests.support.spec_checks import check_response

Json = dict[str, Any]
CALLS = [
    pytest.param(path.stem, index, id=f"{path.stem}/{call['hook']}")
    for path in harness.SCENARIO_FILES
    for index, call in enumerate(harness.load_json(f"scenarios/{path.name}")["calls"])
]


def context_of(scenario: Json, call: Json) -> Json:
    if call["hook"] == "patient-view":
        return {"patientId": scenario["patient"]}
    return harness.draft_context(scenario["patient"], call["drafts"], call.get("selections"))


def topics(exchange: Exchange) -> set[str]:
    return {topic for topic, _ in exchange.card_outline()}


def reads(log: list[Json]) -> list[tuple[str, dict[str, list[str]]]]:
    """(path below the FHIR base, query parameters) of each request in the server's log."""
    return [
        (url.path.removeprefix("/fhir/R4/"), parse_qs(url.query))
        for url in (urlsplit(entry["path"]) for entry in log)
    ]


def action_resources(exchange: Exchange) -> list[Json]:
    return [
        action["resource"]
        for card in exchange.cards
        for suggestion in card.get("suggestions", [])
        for action in suggestion["actions"]
        if "resource" in action
    ]


@pytest.mark.parametrize(("name", "index"), CALLS)
def test_same_expected_cards_via_prefetch_and_via_the_fhir_server(
    name: str, index: int, scenarios: dict[str, Json], ehr: Ehr, fhir_server: FhirServer
) -> None:
    scenario = scenarios[name]
    call = scenario["calls"][index]
    context = context_of(scenario, call)

    via_prefetch = ehr.call(call["hook"], context, "prefetch")
    fhir_server.clear_log()
    via_server = ehr.call(call["hook"], context, "fhir-server")
    service_reads = fhir_server.requests_seen()

    prefetch = via_prefetch.request["prefetch"]
    assert set(prefetch) == set(via_prefetch.service["prefetch"])
    assert all(value is not None for value in prefetch.values()), prefetch
    # P-6: the service read the record itself, always with the token the EHR granted it.
    assert {entry["bearer"] for entry in service_reads} == {ehr.service_token}
    patient = scenario["patient"]
    assert (f"Patient/{patient}", {}) in reads(service_reads)
    condition_queries = [query for path, query in reads(service_reads) if path == "Condition"]
    assert condition_queries and all(q["patient"] == [patient] for q in condition_queries)

    for exchange in (via_prefetch, via_server):
        check_response(exchange.response)
    assert via_prefetch.card_outline() == via_server.card_outline()

    shown = topics(via_prefetch)
    assert set(call.get("fires", [])) <= shown, f"expected {call.get('fires')}, got {shown}"
    assert not set(call.get("silent", [])) & shown
    critical = {
        topic for topic, indicator in via_prefetch.card_outline() if indicator == "critical"
    }
    assert set(call.get("critical", [])) <= critical
    for resource in action_resources(via_prefetch):
        assert fhir_server.validation_errors(resource) == [], resource
