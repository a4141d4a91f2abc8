"""order-sign de-duplication never hides a critical card (clinical-logic v3 §4), over HTTP:
the red-flag stat checks of a lumbar MRI (by CPT code) and of a spine referral are shown
again at signing when the EHR asks for repeats to be left out; the warning is not."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from service.cds.pipeline import SUPPRESS_REPEATS
from tests.conftest import FOOT_DROP
from tests.http.test_order_hooks import (
    CAUDA_EQUINA,
    OS,
    OSIGN,
    SUBJECT,
    afo_draft,
    cards_by_topic,
    order_request,
)
from tests.support.ehr import SignedClient


def _referral(code: str, system: str, rid: str) -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "id": rid,
        "status": "draft",
        "intent": "order",
        "priority": "routine",
        "subject": SUBJECT,
        "code": {"coding": [{"system": system, "code": code}]},
    }


def test_critical_cards_survive_order_sign_de_duplication(
    signed_client_factory: Callable[..., SignedClient], tmp_path: Any
) -> None:
    client = signed_client_factory(database_url=f"sqlite:///{tmp_path / 'cds.db'}")
    drafts = [
        _referral("72148", "http://www.ama-assn.org/go/cpt", "sr-mri-cpt"),
        _referral("308482002", "http://snomed.info/sct", "sr-neurosurgery"),
        afo_draft(),
    ]
    selections = [f"{d['resourceType']}/{d['id']}" for d in drafts]
    select = order_request("order-select", drafts, selections, FOOT_DROP, CAUDA_EQUINA)
    shown = cards_by_topic(client.post(OS, json=select))
    assert {"stat-imaging", "stat-referral", "add-physical-therapy"} <= set(shown)
    assert shown["stat-imaging"]["indicator"] == shown["stat-referral"]["indicator"] == "critical"

    sign = order_request("order-sign", drafts, None, FOOT_DROP, CAUDA_EQUINA)
    sign["extension"] = {SUPPRESS_REPEATS: True}
    signed = cards_by_topic(client.post(OSIGN, json=sign))
    assert {"stat-imaging", "stat-referral"} <= set(signed)
    assert "add-physical-therapy" not in signed
    assert "being signed" in signed["stat-referral"]["summary"]
