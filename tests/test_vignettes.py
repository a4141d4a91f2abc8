"""Every card end to end, from the clinician-reviewable files in tests/vignettes/.

Each vignette goes over the real HTTP stack twice — once with the record as
prefetch, once with no prefetch and the record served by a loopback FHIR
server — at the fixed request time; both must give the same cards, every
response must meet the CDS Hooks rules (`spec_checks`), and the cards must be
what the file expects. The file format is in tests/vignettes/README.md.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.cds.explain import EXPLAIN
from service.clinical.thresholds import ClinicalThresholds
from tests.conftest import full_prefetch, hook_request, make_settings, serve_record
from tests.support import fhir_server
from tests.support.clinical import NOW
from tests.support.fhir_server import FhirServer
from tests.support.spec_checks import check_response
from tests.support.trace_checks import agrees_with_cards, trace_of
from tests.support.vignettes import (
    VIGNETTE_DIR,
    Vignette,
    VignetteError,
    catalogue,
    expand_dates,
    load,
    unmet,
    vignette_files,
)

Json = dict[str, Any]
SERVICE = {
    "patient-view": "footdrop-patient-view",
    "order-select": "footdrop-order-select",
    "order-sign": "footdrop-order-sign",
}
TOKEN = "vignette-token"
#: The prefetch call asks for the rule trace (CDS_EXPLAIN=true), checked against its cards.
EXPLAINED = {"extension": {EXPLAIN: True}}


@pytest.fixture(scope="module")
def shared_fhir() -> Iterator[FhirServer]:
    yield from fhir_server.start()


@pytest.fixture(scope="module")
def client(shared_fhir: FhirServer) -> Iterator[TestClient]:
    """One app for all vignettes, its clock fixed at the vignettes' request time."""
    settings = make_settings(fhir_allowlist=[shared_fhir.base_url], explain=True)
    app = create_app(settings, lambda: NOW)
    with TestClient(app, raise_server_exceptions=False) as started:
        yield started


@contextlib.contextmanager
def client_for(vignette: Vignette, shared: TestClient, fhir: FhirServer) -> Iterator[TestClient]:
    """The shared app, or, for a vignette with its own clinical settings, an app of them."""
    if not vignette.clinical:
        yield shared
        return
    settings = make_settings(
        fhir_allowlist=[fhir.base_url],
        clinical=ClinicalThresholds(**vignette.clinical),
        explain=True,
    )
    with TestClient(create_app(settings, lambda: NOW), raise_server_exceptions=False) as own:
        yield own


def body_of(response: Any) -> Json:
    assert response.status_code == 200, response.text
    body: Json = response.json()
    check_response(body)
    if "extension" in body:
        agrees_with_cards(body)  # the rule trace names the cards it made, and the rest
    return body


def cards_of(response: Any) -> list[Json]:
    cards: list[Json] = body_of(response)["cards"]
    return cards


def without_uuids(value: Any) -> Any:
    """The cards as a clinician sees them: uuids are fresh on every response."""
    if isinstance(value, dict):
        return {key: without_uuids(item) for key, item in value.items() if key != "uuid"}
    if isinstance(value, list):
        return [without_uuids(item) for item in value]
    return value


def name_of(path: Path) -> str:
    return str(path.relative_to(VIGNETTE_DIR).with_suffix(""))


@pytest.mark.parametrize("path", vignette_files(), ids=name_of)
def test_vignette_via_prefetch_and_via_fhir_server(
    path: Path, client: TestClient, shared_fhir: FhirServer
) -> None:
    vignette = load(path)
    url = f"/cds-services/{SERVICE[vignette.hook]}"
    context = vignette.request_context()
    prefetch = full_prefetch(*vignette.record, patient_resource=vignette.patient)
    shared_fhir.routes.clear()
    shared_fhir.requests.clear()
    serve_record(shared_fhir, *vignette.record, patient_resource=vignette.patient)
    body = hook_request(
        vignette.hook, fhir_server_url=shared_fhir.base_url, token=TOKEN, context=context
    )
    traced = {**hook_request(vignette.hook, prefetch=prefetch, context=context), **EXPLAINED}
    with client_for(vignette, client, shared_fhir) as app:
        traced_body = body_of(app.post(url, json=traced))
        via_server = cards_of(app.post(url, json=body))
    via_prefetch: list[Json] = traced_body["cards"]

    assert shared_fhir.requests, "the FHIR server path was not exercised"
    assert {r.authorization for r in shared_fhir.requests} == {f"Bearer {TOKEN}"}
    assert without_uuids(via_prefetch) == without_uuids(via_server)
    problems = unmet(vignette.expect, via_prefetch, trace_of(traced_body))
    assert not problems, "\n".join([f"{name_of(path)}: {vignette.title}", *problems])


def test_every_catalogue_topic_fires_in_a_vignette() -> None:
    """A card no vignette shows firing has never been seen end to end."""
    firing = {card.topic for path in vignette_files() for card in load(path).expect.cards}
    missing = sorted(set(catalogue().templates) - firing)
    assert not missing, f"no vignette in tests/vignettes shows these cards firing: {missing}"


# --- the vignette format itself: mistakes in a file are caught and name the file ---

GOOD = """\
title: New foot drop
question: Does a new foot drop get the orthosis card?
basis: clinical-logic §3 orthosis
hook: patient-view
patient: {resourceType: Patient, birthDate: 1964-03-01, gender: female}
record:
  - resourceType: Condition
    code: {coding: [{system: "http://hl7.org/fhir/sid/icd-10-cm", code: M21.371}]}
    onsetDateTime: -10d
expect:
  cards:
    - {topic: orthosis, indicator: warning, suggestions: [orthotist-referral]}
"""


def write(tmp_path: Path, text: str, hook: str = "patient-view") -> Path:
    path = tmp_path / hook / "vignette.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_file_loads_with_its_relative_dates_expanded(tmp_path: Path) -> None:
    vignette: Vignette = load(write(tmp_path, GOOD))
    (condition,) = vignette.record
    assert condition["onsetDateTime"] == "2026-06-05"
    assert condition["subject"] == {"reference": "Patient/pat-1"}
    assert vignette.patient["birthDate"] == "1964-03-01"


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        pytest.param(
            ("topic: orthosis", "topic: orthoses"), "no card topic 'orthoses'", id="topic"
        ),
        pytest.param(("orthotist-referral", "orthotist"), "no suggestions ['orthotist']", id="id"),
        pytest.param(("warning", "urgent"), "expect.cards.0.indicator: Input", id="indicator"),
        pytest.param(("-10d", "-10days"), "onsetDateTime: Value error", id="relative-date"),
        pytest.param(("onsetDateTime", "onsetDate"), "onsetDate: Extra inputs", id="fhir-field"),
        pytest.param(("M21.371", "6077001"), "code.coding.0.code: Input should be", id="unquoted"),
        pytest.param(("basis:", "basys:"), "basys: Extra inputs", id="unknown-key"),
        pytest.param(("hook: patient-view", "hook: order-select"), "draftOrders", id="context"),
        pytest.param(("referral]}", "referral}"), "while parsing a flow sequence", id="yaml"),
        pytest.param(("Condition", "Claim"), "never query ['Claim']", id="unfetched"),
        pytest.param(
            ("  cards:\n", "  stopped: {physical-therapy: too-tired}\n  cards:\n"),
            "no stopping condition 'too-tired'",
            id="stopping-condition",
        ),
    ],
)
def test_a_bad_file_fails_with_its_name(
    tmp_path: Path, change: tuple[str, str], complaint: str
) -> None:
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(VignetteError) as error:
        load(path)
    assert str(error.value).startswith(f"{path}: ")
    assert complaint in str(error.value), str(error.value)


def test_a_selection_must_name_a_draft(tmp_path: Path) -> None:
    text = GOOD.replace("hook: patient-view", "hook: order-select") + (
        "context:\n"
        "  draftOrders: [{resourceType: ServiceRequest, id: pt, status: draft, intent: order}]\n"
        "  selections: [ServiceRequest/mri]\n"
    )
    path = write(tmp_path, text, "order-select")
    with pytest.raises(VignetteError, match=r"selections \['ServiceRequest/mri'\] name no draft"):
        load(path)


def test_a_file_in_another_hooks_folder_fails(tmp_path: Path) -> None:
    with pytest.raises(VignetteError, match="belongs in patient-view/"):
        load(write(tmp_path, GOOD, "order-sign"))


def test_relative_dates_count_days_and_weeks_from_the_request_time() -> None:
    today = NOW.date()
    assert expand_dates({"a": "-10d", "b": ["-2w", "+3d"], "c": "-10 d", "d": 10}, today) == {
        "a": "2026-06-05",
        "b": ["2026-06-01", "2026-06-18"],
        "c": "-10 d",
        "d": 10,
    }


def label(topic: str, suggestion_id: str) -> str:
    suggestion = catalogue().templates[topic].suggestion(suggestion_id)
    assert suggestion is not None
    return suggestion.label


def test_unmet_names_each_failed_expectation(tmp_path: Path) -> None:
    """The runner can fail: a response that misses every point is reported point by point."""
    expect = load(write(tmp_path, GOOD)).expect.model_copy(
        update={"absent": ("physical-therapy",), "nothing_else": True}
    )
    orthotist_label = label("orthosis", "orthotist-referral")
    shown = [
        {"source": {"topic": {"code": "orthosis"}}, "indicator": "info", "suggestions": []},
        {"source": {"topic": {"code": "physical-therapy"}}, "indicator": "warning"},
    ]
    assert unmet(expect, shown) == [
        "card 'orthosis' is 'info', expected 'warning'",
        "card 'orthosis' does not suggest 'orthotist-referral'",
        "card 'physical-therapy' must not appear",
        "no other card expected, got 'physical-therapy'",
    ]
    assert unmet(expect, []) == ["expected card 'orthosis', got: no card"]
    right = {**shown[0], "indicator": "warning", "suggestions": [{"label": orthotist_label}]}
    assert unmet(expect, [shown[0], right]) == [], "one orthosis card per side: one must match"


def test_unmet_names_a_topic_stopped_by_another_condition_or_not_stopped(tmp_path: Path) -> None:
    expect = load(write(tmp_path, GOOD)).expect.model_copy(
        update={"stopped": {"physical-therapy": "not-adult"}}
    )
    right = {"source": {"topic": {"code": "orthosis"}}, "indicator": "warning", "suggestions": []}
    right["suggestions"] = [{"label": label("orthosis", "orthotist-referral")}]
    stopped = {"topics": [{"topic": "physical-therapy", "fired": False, "stopped_by": "snoozed"}]}
    assert unmet(expect, [right], stopped) == [
        "'physical-therapy' must be stopped by 'not-adult', the trace says ['snoozed']"
    ]
    fired = {"topics": [{"topic": "physical-therapy", "fired": True}]}
    assert unmet(expect, [right], fired) == [
        "card 'physical-therapy' must not appear (stopped by 'not-adult')"
    ]
    named = {"topics": [{"topic": "physical-therapy", "fired": False, "stopped_by": "not-adult"}]}
    assert unmet(expect, [right], named) == []
