"""Draft orders as an EHR sends them in `context.draftOrders`, and one call of the §4 checks.

Patient resources come from `tests.support.clinical` (shared with the feature
tests); this module adds only what order checks need: drafts, and `check`, which
runs features, classification and the rules the way the pipeline does.
"""

from __future__ import annotations

import itertools
from typing import Any

from service.clinical.features import read_record
from service.clinical.order_checks import check_orders, decide
from service.clinical.orders import OrderUnderReview, review
from service.clinical.recommendation import Recommendation
from service.clinical.thresholds import ClinicalThresholds
from service.clinical.trace import Decision
from service.fhir.patient_data import PatientData
from tests.support.clinical import (
    HCPCS,
    LOINC,
    NOW,
    PATIENT_ID,
    RXNORM,
    SCT,
    THRESHOLDS,
    index,
    patient_data,
    patterns,
)

Json = dict[str, Any]

_ids = itertools.count(1)
SUBJECT = {"reference": f"Patient/{PATIENT_ID}"}


def _id(prefix: str) -> str:
    return f"{prefix}-draft-{next(_ids)}"


def service_draft(
    code: str | None = None,
    system: str = SCT,
    *,
    text: str | None = None,
    rid: str | None = None,
    priority: str | None = None,
) -> Json:
    concept: Json = {}
    if code:
        concept["coding"] = [{"system": system, "code": code}]
    if text:
        concept["text"] = text
    draft: Json = {
        "resourceType": "ServiceRequest",
        "id": rid or _id("sr"),
        "status": "draft",
        "intent": "order",
        "subject": SUBJECT,
        "code": concept,
    }
    if priority:
        draft["priority"] = priority
    return draft


def mri_lumbar(rid: str | None = None, priority: str | None = "routine") -> Json:
    return service_draft("24968-0", LOINC, rid=rid, priority=priority)


def pt_referral(rid: str | None = None) -> Json:
    return service_draft("308447003", rid=rid)


def ncs_emg(rid: str | None = None) -> Json:
    return service_draft("306276006", rid=rid)


def lumbar_fusion(rid: str | None = None) -> Json:
    return service_draft("50172003", rid=rid)


def tendon_transfer(rid: str | None = None) -> Json:
    return service_draft(text="Posterior tibial tendon transfer, right", rid=rid)


def ankle_arthrodesis(rid: str | None = None) -> Json:
    return service_draft("3026000", rid=rid)


def peroneal_decompression(rid: str | None = None) -> Json:
    return service_draft(text="Decompression of the right common peroneal nerve", rid=rid)


def afo(rid: str | None = None) -> Json:
    return {
        "resourceType": "DeviceRequest",
        "id": rid or _id("dev"),
        "status": "draft",
        "intent": "order",
        "subject": SUBJECT,
        "codeCodeableConcept": {"coding": [{"system": HCPCS, "code": "L1930"}]},
    }


ER_TEXT = "dalfampridine 10 MG 12HR extended-release oral tablet"


def dalfampridine(
    *,
    rid: str | None = None,
    dose: float | None = 10,
    unit: str = "mg",
    frequency: int | None = 1,
    period: float | None = 12,
    period_unit: str = "h",
    timing_code: str | None = None,
    time_of_day: list[str] | None = None,
    text: str | None = ER_TEXT,
    coded: bool = True,
    dosage: bool = True,
    sig: str | None = None,
) -> Json:
    """A dalfampridine draft; by default the labelled 10 mg ER every 12 hours."""
    medication: Json = {}
    if coded:
        medication["coding"] = [{"system": RXNORM, "code": "897021"}]
    if text:
        medication["text"] = text
    draft: Json = {
        "resourceType": "MedicationRequest",
        "id": rid or _id("med"),
        "status": "draft",
        "intent": "order",
        "subject": SUBJECT,
        "medicationCodeableConcept": medication,
    }
    if not dosage:
        return draft
    instruction: Json = {}
    repeat: Json = {}
    if frequency is not None:
        repeat["frequency"] = frequency
    if period is not None:
        repeat.update({"period": period, "periodUnit": period_unit})
    if time_of_day:
        repeat["timeOfDay"] = time_of_day
    timing: Json = {}
    if repeat and period is not None:
        timing["repeat"] = repeat
    elif time_of_day:
        timing["repeat"] = {"timeOfDay": time_of_day}
    if timing_code:
        timing["code"] = {"coding": [{"code": timing_code}]}
    if timing:
        instruction["timing"] = timing
    if dose is not None:
        instruction["doseAndRate"] = [{"doseQuantity": {"value": dose, "unit": unit}}]
    if sig:
        instruction["text"] = sig
    draft["dosageInstruction"] = [instruction]
    return draft


def ref(draft: Json) -> str:
    return f"{draft['resourceType']}/{draft['id']}"


def reviews(
    data: PatientData, selected: list[Json] | None, thresholds: ClinicalThresholds = THRESHOLDS
) -> list[OrderUnderReview]:
    """The selections, classified, each with the rest of the record; None selects every
    draft (order-sign), as the pipeline does."""
    by_ref = {order.reference: order for order in data.draft_orders}
    checked = data.draft_orders if selected is None else [by_ref[ref(d)] for d in selected]
    return review(read_record(data, index(), patterns(), thresholds), checked)


def check(
    *resources: Json,
    drafts: tuple[Json, ...] = (),
    selected: list[Json] | None = None,
    valid_r4: bool = True,
    thresholds: ClinicalThresholds = THRESHOLDS,
) -> list[Recommendation]:
    """§4 cards for `selected` (default: every draft) with the other drafts in context."""
    data = patient_data(*resources, drafts=drafts, valid_r4=valid_r4)
    return check_orders(reviews(data, selected, thresholds), NOW, thresholds)


def select(
    *resources: Json,
    order: Json,
    others: tuple[Json, ...] = (),
    valid_r4: bool = True,
    thresholds: ClinicalThresholds = THRESHOLDS,
) -> list[Recommendation]:
    """order-select of one draft among `others`."""
    return check(
        *resources,
        drafts=(order, *others),
        selected=[order],
        valid_r4=valid_r4,
        thresholds=thresholds,
    )


def order_decisions(
    *resources: Json,
    order: Json,
    others: tuple[Json, ...] = (),
    unavailable: frozenset[str] = frozenset(),
) -> dict[str, Decision]:
    """Every §4 rule's decision (the rule trace) for `order` selected among `others`."""
    data = patient_data(*resources, drafts=(order, *others), unavailable=unavailable)
    decided = decide(reviews(data, [order]), NOW, THRESHOLDS, observe=True)
    return {d.topic: d for d in decided}


def topics(recs: list[Recommendation]) -> list[str]:
    return [r.topic for r in recs]


def card(recs: list[Recommendation], topic: str) -> Recommendation:
    found = [r for r in recs if r.topic == topic]
    assert len(found) == 1, f"expected one {topic!r} card, got {topics(recs)}"
    return found[0]
