"""orders.review: each draft read once, checked against the rest of the record.

The rest is the record plus the *other* drafts, counted as already ordered; nothing is
subtracted afterwards. A draft strict R4 parsing rejects is still read for its codes
and dose, so a contraindication is never silenced (clinical-logic v3, issue 8).
"""

from __future__ import annotations

from typing import Any

import pytest

from mappings.matcher import CPT, HCPCS, RXNORM
from service.clinical.features import read_record
from service.clinical.orders import classify, review
from service.fhir.patient_data import DraftOrder, Resource
from tests.support.clinical import (
    SCT,
    THRESHOLDS,
    condition,
    crcl,
    features_of,
    foot_drop,
    index,
    patient_data,
    patterns,
    service_request,
)
from tests.support.drafts import (
    SUBJECT,
    afo,
    card,
    check,
    dalfampridine,
    mri_lumbar,
    pt_referral,
    ref,
    reviews,
    select,
    topics,
)

Json = dict[str, Any]
EPILEPSY = condition("84757009", SCT)
CONTRA = "dalfampridine-contraindicated"


def _without_id(draft: Json) -> Json:
    return {key: value for key, value in draft.items() if key != "id"}


# ── one reading ──────────────────────────────────────────────────────────────────


def test_each_draft_is_classified_from_the_reading_the_features_use() -> None:
    data = patient_data(foot_drop(), drafts=(mri_lumbar(), afo()))
    record = read_record(data, index(), patterns(), THRESHOLDS)
    checked = review(record, data.draft_orders)
    assert [r.order.reading for r in checked] == [reading for _, reading in record.drafts]


def test_the_rest_holds_the_other_drafts_and_not_the_order() -> None:
    first, second = mri_lumbar(rid="m1"), mri_lumbar(rid="m2")
    data = patient_data(foot_drop(), drafts=(first, second))
    by_order = {r.order.reference: r.rest for r in reviews(data, None)}
    assert [e.reference for e in by_order["ServiceRequest/m1"].lumbar_mri] == ["ServiceRequest/m2"]
    assert [e.reference for e in by_order["ServiceRequest/m2"].lumbar_mri] == ["ServiceRequest/m1"]


def test_a_draft_the_record_also_holds_is_not_its_own_duplicate() -> None:
    draft = pt_referral(rid="pt-1")
    recorded = service_request("308447003", status="draft", rid="pt-1")
    assert "duplicate-order" not in topics(check(foot_drop(), recorded, drafts=(draft,)))


def test_two_drafts_without_id_of_one_kind_are_two_orders() -> None:
    """Without subtraction, another draft is another order, id or not: two id-less PT
    referrals signed together duplicate each other."""
    drafts = (_without_id(pt_referral()), _without_id(pt_referral()))
    recs = check(foot_drop(), drafts=drafts)
    assert topics(recs) == ["duplicate-order", "duplicate-order"]


def test_a_record_device_a_draft_points_to_classifies_it() -> None:
    device = {
        "resourceType": "Device",
        "id": "afo-device",
        "status": "inactive",
        "type": {"coding": [{"system": HCPCS, "code": "L1930"}]},
    }
    draft = afo(rid="dr-1")
    del draft["codeCodeableConcept"]
    draft["codeReference"] = {"reference": "Device/afo-device"}
    (under_review,) = reviews(patient_data(foot_drop(), device, drafts=(draft,)), None)
    assert under_review.order.features == {"orthosis"}


# ── one confidence policy ────────────────────────────────────────────────────────

ORDER_FEATURES = (
    "mri_lumbar",
    "ncs_emg",
    "physical_therapy",
    "orthosis",
    "fes",
    "lumbar_fusion",
    "tendon_transfer",
    "ankle_arthrodesis",
    "dalfampridine",
)


def _coded(system: str, code: str) -> Json:
    concept = {"coding": [{"system": system, "code": code}]}
    if system == RXNORM:
        return {**dalfampridine(coded=False, text=None), "medicationCodeableConcept": concept}
    if system == HCPCS:
        return {**afo(), "codeCodeableConcept": concept}
    return {
        "resourceType": "ServiceRequest",
        "id": "sr-x",
        "status": "active",
        "intent": "order",
        "subject": SUBJECT,
        "code": concept,
    }


def _as_record(resource: Json) -> set[str]:
    """The care features the record's reading gives the same resource."""
    record = read_record(patient_data(foot_drop(), resource), index(), patterns(), THRESHOLDS)
    return {e.feature for e in record.care if e.reference == ref(resource)}


@pytest.mark.parametrize("feature", ORDER_FEATURES)
def test_an_order_is_recognised_by_exactly_the_codes_the_record_is(feature: str) -> None:
    for match in index().concepts(feature):
        resource = _coded(match.system, match.code)
        as_order = classify(DraftOrder(Resource.of(resource)), index(), patterns()).features
        assert feature in as_order, match.code
        assert as_order == _as_record(resource), match.code


def test_well_known_procedure_codes_recognise_orders_and_records_alike() -> None:
    mri = _coded(CPT, "72148")
    assert classify(DraftOrder(Resource.of(mri)), index(), patterns()).features == {"mri_lumbar"}
    assert [e.feature for e in features_of(foot_drop(), mri).lumbar_mri] == ["mri_lumbar"]


# ── fail-safe reading of drafts ──────────────────────────────────────────────────


def _odd(**changes: Any) -> Json:
    draft = dalfampridine(rid="dalf-odd")
    draft.update(changes)
    return draft


def _frequency_of(value: object) -> Json:
    draft = dalfampridine(rid="dalf-odd")
    draft["dosageInstruction"][0]["timing"]["repeat"]["frequency"] = value
    return draft


ODD_DRAFTS = {
    "impossible authoredOn": _odd(authoredOn="2026-13-01"),
    "frequency 2^31": _frequency_of(2**31),
    "coding as an object": _odd(
        medicationCodeableConcept={"coding": {"system": RXNORM, "code": "897021"}}
    ),
    "an R5 element": _odd(renderedDosageInstruction="10 mg twice daily"),
    "no intent, dosage as an object": {
        **{k: v for k, v in dalfampridine(rid="dalf-odd").items() if k != "intent"},
        "dosageInstruction": dalfampridine()["dosageInstruction"][0],
    },
}


@pytest.mark.parametrize("draft", ODD_DRAFTS.values(), ids=ODD_DRAFTS.keys())
def test_a_contraindicated_draft_strict_r4_rejects_still_gets_the_critical_card(
    draft: Json,
) -> None:
    recs = check(EPILEPSY, crcl(85), drafts=(draft,), valid_r4=False)
    assert card(recs, CONTRA).about_order == ref(draft)


def test_what_a_draft_could_not_say_is_recorded_and_never_read_as_right() -> None:
    draft = _frequency_of(2**31)
    draft["authoredOn"] = "2026-13-01"
    (under_review,) = reviews(patient_data(crcl(85), drafts=(draft,), valid_r4=False), None)
    order = under_review.order
    assert [u.field for u in order.unreadable] == [
        "authoredOn",
        "dosageInstruction[0].timing.repeat.frequency",
    ]
    assert order.dose is not None and order.dose.as_labelled
    assert "the dosing frequency is not stated" in order.dose.unknown
    # v3 §4: an unreadable dose gets no dose card, never a false one.
    assert select(crcl(85), order=draft, valid_r4=False) == []


def test_a_frequency_of_zero_is_unreadable_not_a_crash() -> None:
    draft = _frequency_of(0)
    assert "dalfampridine-dose" not in topics(check(crcl(85), drafts=(draft,), valid_r4=False))
