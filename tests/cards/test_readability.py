"""Every card the service produces reads as clinical-logic v3 §1 asks (issue 9).

The cards come from the service itself, over its real HTTP stack: every
end-to-end vignette (tests/vignettes, as tests/test_vignettes.py sends them, the
record as prefetch), every example patient of the card gallery (cards/gallery),
and the Synthea charts of tests/fixtures/synthea as real data — each chart with a
new foot drop injected at patient-view, and with a dalfampridine draft at
order-select and order-sign, under the US and the EU label setting — and the
scenarios of the real-data tier (tests/realdata). Each card is
held to `tests.support.readability`; one failure lists every problem of every card
of that source. The last tests show that the checks can fail, one defect at a time.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cards.catalogue import CardCatalogue
from cards.gallery import GalleryExample, load_examples
from service.app import create_app
from service.clinical.features import PatientFeatures, extract
from service.clinical.thresholds import ClinicalThresholds
from service.fhir.patient_data import assemble
from tests.conftest import PATIENT_ID, full_prefetch, hook_request, make_settings
from tests.support import synthea
from tests.support.clinical import NOW, THRESHOLDS, foot_drop, index, patterns
from tests.support.readability import problems
from tests.support.spec_checks import check_response
from tests.support.vignettes import VIGNETTE_DIR, load, vignette_files

Json = dict[str, Any]
SERVICE = {
    "patient-view": "footdrop-patient-view",
    "order-select": "footdrop-order-select",
    "order-sign": "footdrop-order-sign",
}
CATALOGUE = CardCatalogue.load()
#: clinical-logic §3 red flag: a new bilateral foot drop is one under 6 weeks old.
NEW_WEEKS = 6


class Clock:
    """The app's clock, set before each request (vignettes and examples have their own time)."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def client(clock: Clock) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(), clock), raise_server_exceptions=False) as app:
        yield app


@pytest.fixture(scope="module")
def eu_client(clock: Clock) -> Iterator[TestClient]:
    """A site that follows the EU label (CDS_CLINICAL__LABEL_JURISDICTION=EU): its own words."""
    settings = make_settings(clinical=ClinicalThresholds(label_jurisdiction="EU"))
    with TestClient(create_app(settings, clock), raise_server_exceptions=False) as app:
        yield app


def cards_of(client: TestClient, service: str, body: Json) -> list[Json]:
    response = client.post(f"/cds-services/{service}", json=body)
    assert response.status_code == 200, response.text
    check_response(response.json())
    cards: list[Json] = response.json()["cards"]
    return cards


def report(
    source: str, hook: str, cards: list[Json], features: PatientFeatures | None = None
) -> list[str]:
    """Every problem of every card, each line naming the source and the card's topic."""
    bilateral = features is not None and new_bilateral(features)
    return [
        f"{source} [{card['source']['topic']['code']}]: {problem}"
        for card in cards
        for problem in problems(
            card, hook, CATALOGUE, bilateral_trigger=bilateral, features=features
        )
    ]


def features_of(resources: list[Json], patient_id: str, now: datetime) -> PatientFeatures:
    """What the rules know of this record (drafts aside), to check the card against."""
    data = assemble([resources], patient_id=patient_id, now=now)
    return extract(data, index(), patterns(), THRESHOLDS)


def new_bilateral(features: PatientFeatures) -> bool:
    """The record shows a new bilateral foot drop (the red flag's bilateral trigger): both
    sides, the later one with a true onset under 6 weeks before the request."""
    foot_drop = features.foot_drop
    onset = foot_drop.bilateral_onset if foot_drop is not None else None
    if onset is None or not onset.known or onset.date is None:
        return False
    return features.now.date() - onset.date < timedelta(weeks=NEW_WEEKS)


def prefetched(prefetch: Json) -> list[Json]:
    """The resources of a prefetch object (bundles unpacked)."""
    resources = []
    for value in prefetch.values():
        if value.get("resourceType") == "Bundle":
            resources += [entry["resource"] for entry in value.get("entry", [])]
        else:
            resources.append(value)
    return resources


# ── the vignettes ─────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    "path", vignette_files(), ids=lambda p: str(p.relative_to(VIGNETTE_DIR).with_suffix(""))
)
def test_every_vignette_card_reads_in_seconds(path: Path, client: TestClient, clock: Clock) -> None:
    vignette = load(path)
    clock.now = NOW
    prefetch = full_prefetch(*vignette.record, patient_resource=vignette.patient)
    body = hook_request(vignette.hook, prefetch=prefetch, context=vignette.request_context())
    cards = cards_of(client, SERVICE[vignette.hook], body)
    features = features_of([vignette.patient, *vignette.record], PATIENT_ID, NOW)
    found = report(path.stem, vignette.hook, cards, features)
    assert not found, "\n".join(found)


# ── the card gallery ──────────────────────────────────────────────────────────────


@pytest.mark.parametrize("named", load_examples(), ids=lambda named: named[0])
def test_every_gallery_card_reads_in_seconds(
    named: tuple[str, GalleryExample], client: TestClient, clock: Clock
) -> None:
    name, example = named
    clock.now = example.now
    cards = cards_of(client, example.service, example.request)
    assert cards, f"{name}: the example shows no card"
    context: Json = example.request["context"]  # type: ignore[assignment]
    resources = prefetched(example.request.get("prefetch", {}))  # type: ignore[arg-type]
    features = features_of(resources, context["patientId"], example.now)
    found = report(name, str(example.request["hook"]), cards, features)
    assert not found, "\n".join(found)


# ── real data: Synthea charts ─────────────────────────────────────────────────────


def _prefetch_templates(client: TestClient) -> dict[str, str]:
    services = client.get("/cds-services").json()["services"]
    templates: dict[str, str] = services[0]["prefetch"]
    return templates


def _foot_drop(patient_id: str) -> Json:
    """A new right foot drop (ten days before the request), as the injected finding."""
    return {
        **foot_drop("right", rid="injected-foot-drop"),
        "subject": {"reference": f"Patient/{patient_id}"},
    }


@pytest.mark.parametrize("path", synthea.fixture_paths(), ids=lambda p: p.stem[:8])
@pytest.mark.parametrize("hook", list(SERVICE))
@pytest.mark.parametrize("label", ["US", "EU"])
def test_every_card_on_synthea_charts_reads_in_seconds(
    path: Path, hook: str, label: str, request: pytest.FixtureRequest, clock: Clock
) -> None:
    client: TestClient = request.getfixturevalue("eu_client" if label == "EU" else "client")
    resources = synthea.load_chart(path)
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    clock.now = NOW
    patient_id, prefetch = synthea.as_prefetch(
        [*resources, _foot_drop(patient["id"])], _prefetch_templates(client)
    )
    context: Json = {"userId": "Practitioner/doc-1", "patientId": patient_id}
    if hook != "patient-view":
        draft = synthea.dalfampridine_draft(resources)
        context["draftOrders"] = {"resourceType": "Bundle", "entry": [{"resource": draft}]}
        if hook == "order-select":
            context["selections"] = ["MedicationRequest/dalf-1"]
    body = {
        "hook": hook,
        "hookInstance": str(uuid.uuid4()),
        "context": context,
        "prefetch": prefetch,
    }
    cards = cards_of(client, SERVICE[hook], body)
    features = features_of(prefetched(prefetch), patient_id, NOW)
    found = report(f"{path.stem[:8]} {hook} {label}", hook, cards, features)
    assert not found, "\n".join(found)


@pytest.mark.parametrize("name", sorted(synthea.SCENARIOS))
def test_every_card_of_the_real_data_scenarios_reads_in_seconds(
    name: str, client: TestClient, clock: Clock
) -> None:
    """The real-data tier's scenarios (tests/realdata): Synthea charts with a foot-drop
    scenario injected, dated from today, sent as prefetch."""
    scenario = synthea.SCENARIOS[name]()
    clock.now = datetime.now(UTC)
    patient_id, prefetch = synthea.as_prefetch(scenario.record, _prefetch_templates(client))
    context: Json = {"userId": "Practitioner/doc-1", "patientId": patient_id}
    if scenario.drafts:
        context["draftOrders"] = {
            "resourceType": "Bundle",
            "entry": [{"resource": draft} for draft in scenario.drafts],
        }
        if scenario.hook == "order-select":
            context["selections"] = [f"{d['resourceType']}/{d['id']}" for d in scenario.drafts]
    body = {
        "hook": scenario.hook,
        "hookInstance": str(uuid.uuid4()),
        "context": context,
        "prefetch": prefetch,
    }
    cards = cards_of(client, SERVICE[scenario.hook], body)
    assert cards or not scenario.fires, f"{name}: no card"
    features = features_of(prefetched(prefetch), patient_id, clock.now)
    found = report(name, scenario.hook, cards, features)
    assert not found, "\n".join(found)


# ── the checks can fail ───────────────────────────────────────────────────────────


def _good_card(client: TestClient, clock: Clock) -> Json:
    """A real orthosis card (the gallery's first example) that meets every check."""
    _, example = load_examples()[0]
    clock.now = example.now
    cards = cards_of(client, example.service, example.request)
    card = next(c for c in cards if c["source"]["topic"]["code"] == "orthosis")
    assert problems(card, "patient-view", CATALOGUE) == []
    return card


def _with(card: Json, **changes: Any) -> Json:
    changed = copy.deepcopy(card)
    changed.update(changes)
    return changed


def _sentence_ids(card: Json) -> Json:
    detail = card["detail"].replace("orthotist", "orthotist (Condition/c-1)", 1)
    return _with(card, detail=detail)


@pytest.mark.parametrize(
    ("defect", "complaint"),
    [
        (lambda c: _with(c, summary=c["summary"] + " (Condition/c-1)"), "resource id"),
        (_sentence_ids, "resource id ['Condition/c-1'] in detail"),
        (lambda c: _with(c, summary="x " * 70), "summary is 140 characters"),
        (lambda c: _with(c, summary=c["summary"][:40] + "…"), "ellipsis"),
        (lambda c: _with(c, summary=c["summary"][:-3]), "none of its template's variants"),
        (lambda c: _with(c, detail="word " * 81 + c["detail"]), "words before 'Why this card'"),
        (lambda c: _with(c, links=c["links"] * 2), "2 links"),
        (
            lambda c: _with(c, detail=c["detail"] + f" [docs]({c['links'][0]['url']})"),
            "also in the detail",
        ),
        (
            lambda c: _with(
                c,
                detail=c["detail"].replace(
                    "\n\n**Rule:**",
                    "\n- [1] [T](https://e.org/1)\n- [1] [T](https://e.org/1)\n\n**Rule:**",
                    1,
                ),
            ),
            "more than once in the detail",
        ),
        (lambda c: _with(c, detail=c["detail"].replace("AFO", "4 {score} AFO", 1)), "curly"),
        (lambda c: _with(c, detail=c["detail"].replace("AFO", "BMI 31 kg/m2 AFO", 1)), "units"),
        (
            lambda c: _with(
                c, summary=c["summary"].replace(" on record", " (Foot drop (2026-06-01))", 1)
            ),
            "nests parentheses",
        ),
        (lambda c: _with(c, detail="See http://snomed.info/sct " + c["detail"]), "notation"),
        (lambda c: _with(c, detail="Coded urn:oid:1.2 " + c["detail"]), "notation"),
        (lambda c: _with(c, detail=c["detail"].replace("not a diagnosis.", "")), "does not end"),
    ],
)
def test_each_defect_is_caught(
    defect: Any, complaint: str, client: TestClient, clock: Clock
) -> None:
    found = problems(defect(_good_card(client, clock)), "patient-view", CATALOGUE)
    assert any(complaint in problem for problem in found), found


def test_records_listed_twice_are_caught(client: TestClient, clock: Clock) -> None:
    card = _good_card(client, clock)
    line = next(x for x in card["detail"].splitlines() if x.startswith("- "))
    card["detail"] = card["detail"].replace(line, f"{line}\n{line}", 1)
    assert any(
        "records listed more than once" in p for p in problems(card, "patient-view", CATALOGUE)
    )


def test_topic_duties_are_caught(client: TestClient, clock: Clock) -> None:
    card = _good_card(client, clock)
    red_flag = copy.deepcopy(card)
    red_flag["source"]["topic"]["code"] = "red-flag-urgent-evaluation"
    red_flag["summary"] = "Red flag with foot drop (Foot drop): same-day emergency assessment"
    found = problems(red_flag, "patient-view", CATALOGUE, bilateral_trigger=True)
    assert any("without 'bilateral'" in p for p in found), found
    contraindicated = copy.deepcopy(card)
    contraindicated["source"]["topic"]["code"] = "dalfampridine-contraindicated"
    contraindicated["summary"] = "Dalfampridine with seizure history: consider removing it"
    found = problems(contraindicated, "order-select", CATALOGUE)
    assert any("without 'contraindicated'" in p for p in found), found
    signed = _with(card, summary="Dalfampridine selected with seizure history")
    found = problems(signed, "order-sign", CATALOGUE)
    assert any("'selected' at order-sign" in p for p in found), found


def test_references_unrelated_to_the_patient_are_caught(client: TestClient, clock: Clock) -> None:
    """The orthosis card of a peroneal patient must not cite the disc-herniation summary [4]
    or the stroke guideline (issue 9)."""
    card = _good_card(client, clock)
    _, example = load_examples()[0]
    resources = prefetched(example.request["prefetch"])  # type: ignore[arg-type]
    context: Json = example.request["context"]  # type: ignore[assignment]
    features = features_of(resources, context["patientId"], example.now)
    peroneal = replace(features, peroneal_neuropathy=features.foot_drop.findings)  # type: ignore[union-attr]
    references = CATALOGUE.content.references
    for ref in ("4", "AHA-ASA-2016"):
        line = f"- [{ref}] [{references[ref].title}]({references[ref].url}), x"
        cited = _with(
            card,
            detail=card["detail"].replace("**Evidence:**\n\n", f"**Evidence:**\n\n{line}\n", 1),
        )
        found = problems(cited, "patient-view", CATALOGUE, features=peroneal)
        assert any(f"cites [{ref}]" in p for p in found), (ref, found)
