"""The real-data tier: Synthea charts (tests/fixtures/synthea) with foot-drop scenarios injected.

Real charts carry the codes the review of issue 8 found the service blind to:
seizure history as 703151001, height as 8302-2 beside an obese weight, creatinine
as 38483-4, PT only as a CarePlan (91251008), "Documentation of current
medications" (428191000124101) at almost every visit. Each scenario is a fixture
chart with a foot drop (and what the scenario needs) injected, checked end to end
over HTTP three ways, which must agree:

- `prefetch`: what an EHR sends, each key filled with what its discovery query
  returns from the chart (code filters applied);
- `everything`: an EHR that ignores the filters and sends every resource of each
  type (the readers must not count what the filters leave out);
- `fhir-server`: no prefetch; the service queries the loopback FHIR server, which
  runs each search over the chart.

Without a foot drop, no chart gets a patient-view card. The scan of every code
the charts carry against the value sets is tests/mappings/test_synthea_scan.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import PREFETCH_KEYS, make_settings
from tests.support import fhir_server, synthea
from tests.support.fhir_search import search
from tests.support.fhir_server import FhirServer
from tests.support.synthea import (
    SCENARIOS,
    Scenario,
    obese_woman_adjusted_weight_crcl,
)

Json = dict[str, Any]
SERVICES = {
    "patient-view": "/cds-services/footdrop-patient-view",
    "order-select": "/cds-services/footdrop-order-select",
}
MODES = ("prefetch", "everything", "fhir-server")


def templates(client: TestClient) -> dict[str, str]:
    prefetch: dict[str, str] = client.get("/cds-services").json()["services"][0]["prefetch"]
    return prefetch


def everything(record: list[Json], keys: dict[str, str]) -> Json:
    """Every resource of each type in its first key, every other key an empty searchset."""
    prefetch: Json = {k: {"resourceType": "Bundle", "type": "searchset", "entry": []} for k in keys}
    prefetch["patient"] = synthea.patient_of(record)
    for resource in record:
        key = PREFETCH_KEYS.get(resource["resourceType"])
        if key in prefetch:
            prefetch[key]["entry"].append({"resource": resource})
    return prefetch


def call(client: TestClient, scenario: Scenario, mode: str, fhir: FhirServer) -> list[str]:
    patient_id = synthea.patient_of(scenario.record)["id"]
    context: Json = {"userId": "Practitioner/doc-1", "patientId": patient_id}
    if scenario.drafts:
        context["selections"] = [f"{d['resourceType']}/{d['id']}" for d in scenario.drafts]
        context["draftOrders"] = {
            "resourceType": "Bundle",
            "entry": [{"resource": d} for d in scenario.drafts],
        }
    body: Json = {"hook": scenario.hook, "hookInstance": str(uuid.uuid4()), "context": context}
    keys = templates(client)
    if mode == "prefetch":
        body["prefetch"] = synthea.as_prefetch(scenario.record, keys)[1]
    elif mode == "everything":
        body["prefetch"] = everything(scenario.record, keys)
    else:
        fhir.answer = lambda query: search(scenario.record, query)
        body["fhirServer"] = fhir.base_url
        body["fhirAuthorization"] = {
            "access_token": "t",
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read",
            "subject": "footdrop-cds",
        }
    response = client.post(SERVICES[scenario.hook], json=body)
    assert response.status_code == 200, response.text
    return [card["source"]["topic"]["code"] for card in response.json()["cards"]]


@pytest.fixture(scope="module")
def fhir() -> Iterator[FhirServer]:
    """One loopback FHIR server for the tier; each call sets the chart it answers from."""
    yield from fhir_server.start()


@pytest.fixture(scope="module")
def client(fhir: FhirServer) -> Iterator[TestClient]:
    """One started service for the tier (starting one per test would dominate its time).

    The loopback server runs every search over the chart in Python: on a busy machine the
    twenty queries of one call can take seconds, so the FHIR budget is 20 s.
    """
    from service.app import create_app

    app = create_app(make_settings(fhir_allowlist=[fhir.base_url], fhir_timeout_s=20))
    with TestClient(app, raise_server_exceptions=False) as started:
        yield started


def test_the_fixtures_are_a_handful_of_charts_with_their_licence_note() -> None:
    assert 4 <= len(synthea.fixture_paths()) <= 6
    note = (synthea.FIXTURES / "README.md").read_text(encoding="utf-8")
    assert "Apache License 2.0" in note and "Synthetic data" in note


def test_no_chart_without_foot_drop_gets_a_patient_view_card(
    client: TestClient, fhir: FhirServer
) -> None:
    for name, record in synthea.iter_fixture_charts():
        for mode in MODES:
            assert call(client, Scenario(record), mode, fhir) == [], (name, mode)


def test_an_injected_foot_drop_brings_the_first_line_cards(
    client: TestClient, fhir: FhirServer
) -> None:
    for name, chart in synthea.iter_fixture_charts():
        scenario = Scenario([*chart, synthea.foot_drop(chart)])
        found = call(client, scenario, "prefetch", fhir)
        assert {"orthosis", "physical-therapy"} <= set(found), (name, found)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_gives_the_expected_cards_by_prefetch_and_by_the_fhir_server(
    client: TestClient, fhir: FhirServer, name: str
) -> None:
    scenario = SCENARIOS[name]()
    answers = {mode: call(client, scenario, mode, fhir) for mode in MODES}
    assert answers["everything"] == answers["prefetch"] == answers["fhir-server"], answers
    shown = set(answers["prefetch"])
    assert scenario.fires <= shown, (sorted(scenario.fires - shown), answers["prefetch"])
    assert not scenario.silent & shown, answers["prefetch"]


def test_the_fhir_server_was_asked_only_the_discovery_queries(
    client: TestClient, fhir: FhirServer
) -> None:
    scenario = SCENARIOS["seizure-703151001"]()
    fhir.requests.clear()
    call(client, scenario, "fhir-server", fhir)
    asked = {r.path.removeprefix("/fhir/").split("/")[0] for r in fhir.requests}
    assert asked == {q.split("?")[0].split("/")[0] for q in templates(client).values()}
    assert all(r.authorization == "Bearer t" for r in fhir.requests)


def test_the_scenarios_carry_the_codes_the_review_named() -> None:
    """The injected scenarios keep the real charts' codes, not stand-ins of ours."""
    carried: dict[str, set[str]] = {}
    for build in SCENARIOS.values():
        for resource in build().record:
            for key in ("code", "category"):
                value = resource.get(key)
                concepts = value if isinstance(value, list) else [value]
                for concept in (c for c in concepts if isinstance(c, dict)):
                    for coding in concept.get("coding", []):
                        carried.setdefault(coding.get("code", ""), set()).add(
                            resource["resourceType"]
                        )
    assert "Condition" in carried["703151001"]
    assert "Observation" in carried["8302-2"] and "Observation" in carried["38483-4"]
    assert "CarePlan" in carried["91251008"]
    assert "Procedure" in carried["428191000124101"]
    assert "Condition" in carried["230690007"]
    assert "Condition" in carried["M21.371"]


def test_the_obese_woman_is_contraindicated_only_through_her_height(
    client: TestClient, fhir: FhirServer
) -> None:
    """Without the chart's heights (8302-2) only total weight counts: CrCl 62, no card."""
    scenario = obese_woman_adjusted_weight_crcl()
    heightless = [
        r
        for r in scenario.record
        if not (
            r["resourceType"] == "Observation"
            and {c["code"] for c in r["code"]["coding"]} & {"8302-2", "39156-5"}
        )
    ]
    for mode in MODES:
        found = call(
            client, Scenario(heightless, "order-select", drafts=scenario.drafts), mode, fhir
        )
        assert "dalfampridine-contraindicated" not in found, (mode, found)
