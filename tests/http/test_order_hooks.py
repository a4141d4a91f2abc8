"""order-select and order-sign over HTTP: action shapes, repeat calls, de-duplication."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from service.cds.pipeline import SUPPRESS_REPEATS
from tests.conftest import (
    FOOT_DROP,
    PATIENT_ID,
    condition,
    days_ago,
    full_prefetch,
    hook_request,
    serve_record,
)
from tests.support.ehr import SignedClient
from tests.support.fhir_server import FhirServer
from tests.support.spec_checks import check_action

OS = "/cds-services/footdrop-order-select"
OSIGN = "/cds-services/footdrop-order-sign"
SUBJECT = {"reference": f"Patient/{PATIENT_ID}"}
EPILEPSY_RESOLVED = condition("84757009", display="Epilepsy", clinical_status="resolved")
CAUDA_EQUINA = condition("192970008", display="Cauda equina syndrome", onset=days_ago(2))


def dalfampridine_draft(rid: str = "med-draft-1") -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": "draft",
        "intent": "order",
        "subject": SUBJECT,
        "medicationCodeableConcept": {
            "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "897021"}],
            "text": "dalfampridine 10 MG 12HR extended-release oral tablet",
        },
        "dosageInstruction": [
            {
                "timing": {"repeat": {"frequency": 1, "period": 12, "periodUnit": "h"}},
                "doseAndRate": [
                    {
                        "doseQuantity": {
                            "value": 10,
                            "unit": "mg",
                            "system": "http://unitsofmeasure.org",
                            "code": "mg",
                        }
                    }
                ],
            }
        ],
    }


def afo_draft(rid: str = "dev-draft-1") -> dict[str, Any]:
    # No `intent` and reasonCode as a single object: what real clients send in drafts.
    return {
        "resourceType": "DeviceRequest",
        "id": rid,
        "status": "draft",
        "subject": SUBJECT,
        "codeCodeableConcept": {
            "coding": [
                {
                    "system": "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
                    "code": "L1930",
                }
            ]
        },
        "reasonCode": {"text": "foot drop"},
    }


def pt_draft(rid: str = "sr-pt-1") -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "id": rid,
        "status": "draft",
        "intent": "order",
        "subject": SUBJECT,
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "308447003"}]},
    }


def mri_draft(rid: str = "sr-mri-1", priority: str = "routine") -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "id": rid,
        "status": "draft",
        "intent": "order",
        "priority": priority,
        "subject": SUBJECT,
        "code": {"coding": [{"system": "http://loinc.org", "code": "24968-0"}]},
    }


def order_request(
    hook: str,
    drafts: list[dict[str, Any]],
    selections: list[str] | None,
    *conditions: dict[str, Any],
    **kwargs: Any,
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "encounterId": "enc-1",
        # The sandbox omits Bundle.type; it must still be accepted.
        "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": d} for d in drafts]},
    }
    if selections is not None:
        context["selections"] = selections
    kwargs.setdefault("prefetch", full_prefetch(*conditions))
    return hook_request(hook, context=context, **kwargs)


def cards_by_topic(response: Any) -> dict[str, dict[str, Any]]:
    assert response.status_code == 200, response.text
    return {card["source"]["topic"]["code"]: card for card in response.json()["cards"]}


def actions(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for s in card.get("suggestions", []) for a in s.get("actions", [])]


def test_discovery_lists_order_sign(client: TestClient) -> None:
    hooks = {s["id"]: s["hook"] for s in client.get("/cds-services").json()["services"]}
    assert hooks["footdrop-order-sign"] == "order-sign"


def test_contraindicated_dalfampridine_is_proposed_for_deletion(client: TestClient) -> None:
    draft = dalfampridine_draft()
    body = order_request(
        "order-select", [draft], ["MedicationRequest/med-draft-1"], EPILEPSY_RESOLVED
    )
    card = cards_by_topic(client.post(OS, json=body))["dalfampridine-contraindicated"]
    assert card["indicator"] == "critical"
    assert "Epilepsy" in card["detail"]
    deletes = [a for a in actions(card) if a["type"] == "delete"]
    assert deletes == [
        {
            "type": "delete",
            "description": deletes[0]["description"],
            "resourceId": "MedicationRequest/med-draft-1",
        }
    ]


def test_orthosis_without_pt_gets_a_pt_referral_and_drafted_pt_silences_it(
    client: TestClient,
) -> None:
    body = order_request("order-select", [afo_draft()], ["DeviceRequest/dev-draft-1"], FOOT_DROP)
    card = cards_by_topic(client.post(OS, json=body))["add-physical-therapy"]
    created = [a["resource"] for a in actions(card) if a["type"] == "create"]
    assert created and created[0]["resourceType"] == "ServiceRequest"
    assert created[0]["status"] == "draft"
    assert created[0]["subject"] == SUBJECT
    assert created[0]["encounter"] == {"reference": "Encounter/enc-1"}

    with_pt = order_request(
        "order-select", [afo_draft(), pt_draft()], ["DeviceRequest/dev-draft-1"], FOOT_DROP
    )
    assert "add-physical-therapy" not in cards_by_topic(client.post(OS, json=with_pt))


def test_non_stat_mri_with_a_critical_red_flag_is_updated_to_stat(client: TestClient) -> None:
    draft = mri_draft()
    body = order_request(
        "order-select", [draft], ["ServiceRequest/sr-mri-1"], FOOT_DROP, CAUDA_EQUINA
    )
    card = cards_by_topic(client.post(OS, json=body))["stat-imaging"]
    assert card["indicator"] == "critical"
    (update,) = [a for a in actions(card) if a["type"] == "update"]
    expected = dict(copy.deepcopy(draft), priority="stat")
    assert update["resource"] == expected  # the complete draft, same id, priority stat


def test_broken_and_unknown_drafts_are_skipped_not_fatal(client: TestClient) -> None:
    drafts = [
        dalfampridine_draft(),
        {"resourceType": "ProcedureRequest", "id": "stu3"},
        {"resourceType": "ServiceRequest", "id": "bad", "status": 42},
        {"no": "resourceType"},
    ]
    body = order_request(
        "order-select", drafts, ["MedicationRequest/med-draft-1"], EPILEPSY_RESOLVED
    )
    assert "dalfampridine-contraindicated" in cards_by_topic(client.post(OS, json=body))


def test_the_same_request_twice_gives_the_same_cards(client: TestClient) -> None:
    body = order_request(
        "order-select",
        [dalfampridine_draft(), afo_draft()],
        ["MedicationRequest/med-draft-1", "DeviceRequest/dev-draft-1"],
        FOOT_DROP,
        EPILEPSY_RESOLVED,
    )

    def stable(response: Any) -> list[Any]:
        cards = response.json()["cards"]
        return [
            (c["source"]["topic"]["code"], c["summary"], [a.get("resourceId") for a in actions(c)])
            for c in cards
        ]

    first, second = client.post(OS, json=body), client.post(OS, json=body)
    assert stable(first) == stable(second)
    assert {c["uuid"] for c in first.json()["cards"]}.isdisjoint(
        {c["uuid"] for c in second.json()["cards"]}
    )


def test_order_sign_checks_every_draft(client: TestClient) -> None:
    body = order_request("order-sign", [dalfampridine_draft()], None, EPILEPSY_RESOLVED)
    assert "dalfampridine-contraindicated" in cards_by_topic(client.post(OSIGN, json=body))


def test_order_sign_leaves_out_non_critical_cards_shown_at_order_select_when_asked(
    signed_client_factory: Callable[..., SignedClient], tmp_path: Any
) -> None:
    url = f"sqlite:///{tmp_path / 'cds.db'}"
    drafts = [dalfampridine_draft(), afo_draft()]
    selections = ["MedicationRequest/med-draft-1", "DeviceRequest/dev-draft-1"]
    select = order_request("order-select", drafts, selections, FOOT_DROP, EPILEPSY_RESOLVED)
    shown = cards_by_topic(signed_client_factory(database_url=url).post(OS, json=select))
    assert {"dalfampridine-contraindicated", "add-physical-therapy"} <= set(shown)

    # A second app on the same database: another worker, or the service after a restart.
    other_worker = signed_client_factory(database_url=url)
    sign = order_request("order-sign", drafts, None, FOOT_DROP, EPILEPSY_RESOLVED)
    assert set(shown) <= set(cards_by_topic(other_worker.post(OSIGN, json=sign)))

    sign["extension"] = {SUPPRESS_REPEATS: True}
    repeated = cards_by_topic(other_worker.post(OSIGN, json=sign))
    # The warning is not repeated; the critical contraindication always is (v3 §4).
    assert set(repeated) == {"dalfampridine-contraindicated"}

    sign["context"]["userId"] = "Practitioner/someone-else"
    assert set(shown) <= set(cards_by_topic(other_worker.post(OSIGN, json=sign)))


def test_without_authentication_no_card_is_ever_left_out(
    client_factory: Callable[..., TestClient], tmp_path: Any
) -> None:
    """With CDS_AUTH_MODE=off no caller is verified: no shown-card memory is kept."""
    url = f"sqlite:///{tmp_path / 'cds.db'}"
    drafts = [afo_draft()]
    select = order_request("order-select", drafts, ["DeviceRequest/dev-draft-1"], FOOT_DROP)
    client = client_factory(database_url=url)
    assert "add-physical-therapy" in cards_by_topic(client.post(OS, json=select))
    sign = order_request("order-sign", drafts, None, FOOT_DROP)
    sign["extension"] = {SUPPRESS_REPEATS: True}
    assert "add-physical-therapy" in cards_by_topic(client.post(OSIGN, json=sign))


def test_order_select_via_fhir_server_matches_prefetch(
    client_factory: Callable[..., TestClient], fhir: FhirServer
) -> None:
    serve_record(fhir, FOOT_DROP, EPILEPSY_RESOLVED)
    client = client_factory(fhir_allowlist=[fhir.base_url])
    drafts = [dalfampridine_draft(), afo_draft()]
    selections = ["MedicationRequest/med-draft-1", "DeviceRequest/dev-draft-1"]
    via_prefetch = order_request("order-select", drafts, selections, FOOT_DROP, EPILEPSY_RESOLVED)
    via_server = order_request(
        "order-select",
        drafts,
        selections,
        prefetch=None,
        fhir_server_url=fhir.base_url,
        token="tok",
    )
    assert list(cards_by_topic(client.post(OS, json=via_server))) == list(
        cards_by_topic(client.post(OS, json=via_prefetch))
    )
    assert fhir.requests


def test_dose_correction_of_a_draft_with_a_contained_medication_is_valid_r4(
    client: TestClient,
) -> None:
    draft = dalfampridine_draft()
    draft["contained"] = [
        {"resourceType": "Medication", "id": "med", "code": draft.pop("medicationCodeableConcept")}
    ]
    draft["medicationReference"] = {"reference": "#med"}
    draft["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] = 15
    body = order_request("order-select", [draft], ["MedicationRequest/med-draft-1"])
    card = cards_by_topic(client.post(OS, json=body))["dalfampridine-dose"]
    (update,) = [a for a in actions(card) if a["type"] == "update"]
    check_action(update)  # dom-3: no contained resource left without a reference
    assert update["resource"]["id"] == "med-draft-1"
    assert "contained" not in update["resource"]
    assert "medicationReference" not in update["resource"]
    assert update["resource"]["medicationCodeableConcept"]["coding"][0]["code"] == "897021"
