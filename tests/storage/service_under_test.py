"""A signed EHR talking to the service as a real uvicorn process (jwt mode), for storage tests."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import FOOT_DROP, PATIENT_HASH_KEY, condition, full_prefetch, hook_request
from tests.support import drafts
from tests.support.ehr import PUBLIC_BASE_URL, Ehr

ANALYTICS_TOKEN = "committee-token-0123456789-abcdefghij"
PATIENT_VIEW = "/cds-services/footdrop-patient-view"
ORDER_SELECT = "/cds-services/footdrop-order-select"
ORDER_SIGN = "/cds-services/footdrop-order-sign"
OUR_REASONS = "urn:footdrop-cds:override-reason"
EPILEPSY_RESOLVED = condition("84757009", display="Epilepsy", clinical_status="resolved")


def jwt_settings(ehr: Ehr, database_url: str, **more: str) -> dict[str, str]:
    return {
        "CDS_AUTH_MODE": "jwt",
        "CDS_TRUSTED_ISSUERS": ehr.trusted_issuers(),
        "CDS_PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "CDS_PATIENT_HASH_KEY": PATIENT_HASH_KEY,
        "CDS_ANALYTICS_TOKEN": ANALYTICS_TOKEN,
        "CDS_DATABASE_URL": database_url,
        **more,
    }


@dataclass
class SignedHttp:
    """The EHR's side: every request signed for the URL it calls."""

    base_url: str
    ehr: Ehr
    timeout_s: float = 30.0

    def post(self, path: str, body: Any) -> httpx.Response:
        headers = {"Authorization": self.ehr.authorization(path)}
        return httpx.post(self.base_url + path, json=body, headers=headers, timeout=self.timeout_s)

    def analytics(self) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {ANALYTICS_TOKEN}"}
        response = httpx.get(
            f"{self.base_url}/analytics/cards", headers=headers, timeout=self.timeout_s
        )
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def topics(self, response: httpx.Response) -> set[str]:
        assert response.status_code == 200, response.text
        return {card["source"]["topic"]["code"] for card in response.json()["cards"]}


def patient_view_body() -> dict[str, Any]:
    return hook_request(prefetch=full_prefetch(FOOT_DROP))


def order_body(hook: str, shuffle: random.Random | None = None) -> dict[str, Any]:
    """Three drafts (AFO, dalfampridine, MRI) in an order of `shuffle`'s choosing: several
    cards per call, whose memory rows two workers would otherwise lock in different orders."""
    orders = [drafts.afo("dev-1"), drafts.dalfampridine(rid="med-1"), drafts.mri_lumbar("sr-1")]
    if shuffle:
        shuffle.shuffle(orders)
    context: dict[str, Any] = {
        "encounterId": "enc-1",
        "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": d} for d in orders]},
    }
    if hook == "order-select":
        context["selections"] = [drafts.ref(d) for d in orders]
    return hook_request(hook, prefetch=full_prefetch(FOOT_DROP, EPILEPSY_RESOLVED), context=context)


def overridden(card_uuid: str) -> dict[str, Any]:
    return {
        "card": card_uuid,
        "outcome": "overridden",
        "overrideReason": {
            "reason": {"code": "declined", "system": "urn:footdrop-cds:override-reason"}
        },
        "outcomeTimestamp": "2026-11-25T10:05:31Z",
    }


def a_card_uuid() -> str:
    return str(uuid.uuid4())


def log_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "logs"
    directory.mkdir(exist_ok=True)
    return directory
