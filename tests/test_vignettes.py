"""Every card end to end: one vignette where it must fire and one where it must not.

Each vignette goes over the real HTTP stack twice — once with the record as
prefetch, once with no prefetch and the record served by a loopback FHIR
server — at a fixed request time, and both must give the same cards. The
clinical facts come from clinical-logic.md §3 (patient-view) and §4 (orders).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from tests.conftest import full_prefetch, hook_request, make_settings, serve_record
from tests.support import clinical as cf
from tests.support import drafts as od
from tests.support import fhir_server
from tests.support.fhir_server import FhirServer
from tests.support.spec_checks import check_response

Json = dict[str, Any]
SERVICE = {
    "patient-view": "footdrop-patient-view",
    "order-select": "footdrop-order-select",
    "order-sign": "footdrop-order-sign",
}


@dataclass
class Vignette:
    name: str
    record: list[Json]
    fires: set[str] = field(default_factory=set)
    silent: set[str] = field(default_factory=set)
    selected: list[Json] = field(default_factory=list)
    other_drafts: list[Json] = field(default_factory=list)
    hook: str = "patient-view"
    patient: Json = field(default_factory=cf.patient)


FD = cf.foot_drop
CAUDA_EQUINA = "G83.4"
PERONEAL_RIGHT = "G57.31"
STROKE_SEQUELA = "I69.351"
SEIZURE = "G40.909"
MS = "G35.A"

VIGNETTES = [
    # --- patient-view (§3) ---
    Vignette(
        "new foot drop: first-line cards",
        [FD()],
        fires={"orthosis", "physical-therapy", "localization-workup"},
    ),
    Vignette(
        "no foot drop: nothing",
        [cf.condition("I10")],
        silent={"orthosis", "physical-therapy", "localization-workup"},
    ),
    Vignette(
        "orthosis already in use",
        [FD(), cf.device_use("Ankle-foot orthosis (AFO)")],
        fires={"physical-therapy"},
        silent={"orthosis"},
    ),
    Vignette(
        "PT already ordered",
        [FD(), cf.service_request("308447003")],
        fires={"orthosis"},
        silent={"physical-therapy"},
    ),
    Vignette(
        "new cauda equina: critical and alone",
        [FD(), cf.condition(CAUDA_EQUINA, onset=cf.days_ago(3))],
        fires={"red-flag-urgent-evaluation"},
        silent={"orthosis", "physical-therapy"},
    ),
    Vignette(
        "urinary incontinence is no red flag",
        [FD(), cf.condition("R32", onset=cf.days_ago(3))],
        fires={"orthosis"},
        silent={"red-flag-urgent-evaluation"},
    ),
    Vignette(
        "chronic central foot drop needs no work-up",
        [FD(onset=cf.days_ago(200)), cf.condition(STROKE_SEQUELA, onset=cf.days_ago(210))],
        fires={"orthosis"},
        silent={"localization-workup"},
    ),
    Vignette(
        "peroneal neuropathy: decompression to discuss",
        [FD(onset=cf.weeks_ago(10)), cf.condition(PERONEAL_RIGHT, onset=cf.weeks_ago(10))],
        fires={"peroneal-decompression"},
        silent={"nerve-injury-referral"},
    ),
    Vignette(
        "peroneal nerve injury: early nerve surgery referral",
        [FD(onset=cf.weeks_ago(3)), cf.condition("S84.11XA", onset=cf.weeks_ago(3))],
        fires={"nerve-injury-referral"},
        silent={"peroneal-decompression"},
    ),
    Vignette(
        "old nerve injury: no early referral",
        [FD(onset=cf.days_ago(800)), cf.condition("S84.11XS", onset=cf.days_ago(800))],
        silent={"nerve-injury-referral"},
    ),
    Vignette(
        "disc herniation at 6 weeks: spine surgery to discuss",
        [FD(onset=cf.weeks_ago(6)), cf.condition("M51.16", onset=cf.weeks_ago(7))],
        fires={"disc-surgery-referral"},
    ),
    Vignette(
        "disc herniation at 2 weeks: too early",
        [FD(onset=cf.weeks_ago(2)), cf.condition("M51.16", onset=cf.weeks_ago(3))],
        silent={"disc-surgery-referral"},
    ),
    Vignette(
        "long-standing peroneal foot drop: palliative surgery to discuss",
        [FD(onset=cf.days_ago(500)), cf.condition(PERONEAL_RIGHT, onset=cf.days_ago(500))],
        fires={"palliative-surgery"},
    ),
    Vignette(
        "long-standing foot drop with MS: no palliative surgery",
        [
            FD(onset=cf.days_ago(500)),
            cf.condition(PERONEAL_RIGHT, onset=cf.days_ago(500)),
            cf.condition(MS, onset=cf.days_ago(3000)),
        ],
        silent={"palliative-surgery"},
    ),
    Vignette(
        "spasticity after stroke: botulinum evaluation",
        [
            FD(onset=cf.days_ago(200)),
            cf.condition(STROKE_SEQUELA, onset=cf.days_ago(210)),
            cf.condition("221360009", cf.SCT, onset=cf.days_ago(100)),
        ],
        fires={"spasticity-botulinum"},
    ),
    Vignette(
        "muscle spasm is not spasticity",
        [
            FD(onset=cf.days_ago(200)),
            cf.condition(STROKE_SEQUELA, onset=cf.days_ago(210)),
            cf.condition("R25.2", onset=cf.days_ago(100)),
        ],
        silent={"spasticity-botulinum"},
    ),
    Vignette(
        "MS with a known good CrCl: dalfampridine to discuss",
        [FD(onset=cf.days_ago(200)), cf.condition(MS, onset=cf.days_ago(3000)), cf.crcl(90)],
        fires={"ms-dalfampridine"},
    ),
    Vignette(
        "MS with a seizure history: no dalfampridine card",
        [
            FD(onset=cf.days_ago(200)),
            cf.condition(MS, onset=cf.days_ago(3000)),
            cf.crcl(90),
            cf.condition(SEIZURE, status="resolved", onset=cf.days_ago(4000)),
        ],
        silent={"ms-dalfampridine"},
    ),
    Vignette(
        "under 18: nothing",
        [FD()],
        patient=cf.patient(birth="2012-01-01"),
        silent={"orthosis", "physical-therapy", "localization-workup"},
    ),
    # --- order-select (§4) ---
    Vignette(
        "AFO without PT",
        [FD()],
        hook="order-select",
        selected=[od.afo()],
        fires={"add-physical-therapy"},
    ),
    Vignette(
        "AFO with PT drafted",
        [FD()],
        hook="order-select",
        selected=[od.afo()],
        other_drafts=[od.pt_referral()],
        silent={"add-physical-therapy"},
    ),
    Vignette(
        "fusion with disc herniation only",
        [FD(), cf.condition("M51.16")],
        hook="order-select",
        selected=[od.lumbar_fusion()],
        fires={"fusion-not-indicated"},
    ),
    Vignette(
        "fusion with spondylolisthesis",
        [FD(), cf.condition("M51.16"), cf.condition("M43.16")],
        hook="order-select",
        selected=[od.lumbar_fusion()],
        silent={"fusion-not-indicated"},
    ),
    Vignette(
        "tendon transfer at 10 weeks",
        [FD(onset=cf.weeks_ago(10))],
        hook="order-select",
        selected=[od.tendon_transfer()],
        fires={"premature-palliative-surgery"},
    ),
    Vignette(
        "tendon transfer after 18 months",
        [FD(onset=cf.days_ago(550))],
        hook="order-select",
        selected=[od.tendon_transfer()],
        silent={"premature-palliative-surgery"},
    ),
    Vignette(
        "dalfampridine with a resolved seizure disorder, no foot drop",
        [cf.condition(SEIZURE, status="resolved", onset=cf.days_ago(4000)), cf.crcl(90)],
        hook="order-select",
        selected=[od.dalfampridine()],
        fires={"dalfampridine-contraindicated"},
    ),
    Vignette(
        "dalfampridine with CrCl 90",
        [cf.crcl(90)],
        hook="order-select",
        selected=[od.dalfampridine()],
        silent={"dalfampridine-contraindicated", "dalfampridine-dose", "renal-function-needed"},
    ),
    Vignette(
        "dalfampridine 15 mg",
        [cf.crcl(90)],
        hook="order-select",
        selected=[od.dalfampridine(dose=15)],
        fires={"dalfampridine-dose"},
    ),
    Vignette(
        "dalfampridine with no renal data",
        [],
        hook="order-select",
        selected=[od.dalfampridine()],
        fires={"renal-function-needed"},
    ),
    Vignette(
        "peroneal decompression without NCS/EMG",
        [FD(), cf.condition(PERONEAL_RIGHT)],
        hook="order-select",
        selected=[od.peroneal_decompression()],
        fires={"localize-before-decompression"},
    ),
    Vignette(
        "peroneal decompression with NCS/EMG drafted",
        [FD(), cf.condition(PERONEAL_RIGHT)],
        hook="order-select",
        selected=[od.peroneal_decompression()],
        other_drafts=[od.ncs_emg()],
        silent={"localize-before-decompression"},
    ),
    Vignette(
        "routine lumbar MRI with new cauda equina",
        [FD(), cf.condition(CAUDA_EQUINA, onset=cf.days_ago(2))],
        hook="order-select",
        selected=[od.mri_lumbar()],
        fires={"stat-imaging"},
        silent={"duplicate-order"},
    ),
    Vignette(
        "stat lumbar MRI with new cauda equina",
        [FD(), cf.condition(CAUDA_EQUINA, onset=cf.days_ago(2))],
        hook="order-select",
        selected=[od.mri_lumbar(priority="stat")],
        silent={"stat-imaging"},
    ),
    Vignette(
        "PT referral already active",
        [FD(), cf.service_request("308447003")],
        hook="order-select",
        selected=[od.pt_referral()],
        fires={"duplicate-order"},
    ),
    Vignette(
        "first PT referral",
        [FD()],
        hook="order-select",
        selected=[od.pt_referral()],
        silent={"duplicate-order"},
    ),
    # --- order-sign: the same checks on every draft ---
    Vignette(
        "order-sign: dalfampridine with seizures",
        [cf.condition(SEIZURE, onset=cf.days_ago(400)), cf.crcl(90)],
        hook="order-sign",
        selected=[od.dalfampridine()],
        fires={"dalfampridine-contraindicated"},
    ),
]


def request_body(vignette: Vignette, **kwargs: Any) -> Json:
    context: Json = {}
    if vignette.hook != "patient-view":
        drafts = [*vignette.selected, *vignette.other_drafts]
        context["draftOrders"] = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": d} for d in drafts],
        }
    if vignette.hook == "order-select":
        context["selections"] = [od.ref(d) for d in vignette.selected]
    return hook_request(vignette.hook, context=context, **kwargs)


def topics(response: Any) -> set[str]:
    assert response.status_code == 200, response.text
    check_response(response.json())
    return {card["source"]["topic"]["code"] for card in response.json()["cards"]}


@pytest.fixture(scope="module")
def shared_fhir() -> Iterator[FhirServer]:
    yield from fhir_server.start()


@pytest.fixture(scope="module")
def client(shared_fhir: FhirServer) -> Iterator[TestClient]:
    """One app for all vignettes, its clock fixed at the factories' request time."""
    app = create_app(make_settings(fhir_allowlist=[shared_fhir.base_url]), lambda: cf.NOW)
    with TestClient(app, raise_server_exceptions=False) as started:
        yield started


@pytest.mark.parametrize("vignette", VIGNETTES, ids=lambda v: v.name)
def test_vignette_via_prefetch_and_via_fhir_server(
    vignette: Vignette, client: TestClient, shared_fhir: FhirServer
) -> None:
    fhir = shared_fhir
    fhir.routes.clear()
    fhir.requests.clear()
    url = f"/cds-services/{SERVICE[vignette.hook]}"
    prefetch = full_prefetch(*vignette.record, patient_resource=vignette.patient)
    via_prefetch = topics(client.post(url, json=request_body(vignette, prefetch=prefetch)))

    serve_record(fhir, *vignette.record, patient_resource=vignette.patient)
    body = request_body(vignette, fhir_server_url=fhir.base_url, token="vignette-token")
    via_server = topics(client.post(url, json=body))

    assert via_prefetch == via_server
    assert vignette.fires <= via_prefetch, f"expected {vignette.fires}, got {via_prefetch}"
    assert not vignette.silent & via_prefetch, f"must not fire: {vignette.silent & via_prefetch}"
    assert fhir.requests, "the FHIR server path was not exercised"
