"""Across rules: card order, determinism, about_order, and that every card renders.

Rendering with the shipped catalogue proves the Recommendations supply exactly what
each template declares (facts, suggestion ids, flags, notes): `cards.render` raises
on a mismatch, and drops an update or delete whose target draft is not in the request.
"""

from __future__ import annotations

from typing import Any

import pytest

from cards.catalogue import CardCatalogue
from cards.render import render
from service.clinical.recommendation import INDICATOR_RANK, Recommendation
from tests.support.clinical import (
    ICD,
    SCT,
    condition,
    crcl,
    days_ago,
    device_use,
    egfr,
    foot_drop,
    patient_data,
    procedure,
)
from tests.support.drafts import (
    afo,
    check,
    dalfampridine,
    lumbar_fusion,
    mri_lumbar,
    peroneal_decompression,
    pt_referral,
    ref,
    service_draft,
    tendon_transfer,
)

Json = dict[str, Any]
ORDER_TOPICS = {
    "add-physical-therapy",
    "fusion-not-indicated",
    "premature-palliative-surgery",
    "dalfampridine-contraindicated",
    "dalfampridine-dose",
    "renal-function-needed",
    "localize-before-decompression",
    "stat-imaging",
    "stat-referral",
    "seizure-history-verify",
    "record-incomplete",
    "duplicate-order",
}

#: (resources, drafts) that between them give every §4 card; order-sign (all drafts).
SCENARIOS: list[tuple[tuple[Json, ...], tuple[Json, ...]]] = [
    (
        (
            foot_drop(onset=days_ago(90)),
            condition("192970008", SCT, onset=days_ago(2)),
            condition("M51.16", ICD, onset=days_ago(60)),
            condition("84757009", SCT, status="resolved"),
            device_use("AFO"),
        ),
        (
            mri_lumbar(),
            service_draft("308482002", SCT, priority="routine"),
            afo(),
            dalfampridine(dose=15),
            lumbar_fusion(),
            tendon_transfer(),
            peroneal_decompression(),
        ),
    ),
    ((egfr(40),), (dalfampridine(),)),
    ((crcl(55),), (dalfampridine(),)),
    ((), (dalfampridine(text="dalfampridine", coded=False, dosage=False),)),
    ((crcl(85),), (dalfampridine(dose=20),)),
    ((crcl(85), condition("F44.5", ICD)), (dalfampridine(),)),
    (
        (crcl(85), {**condition("G40.909", ICD), "subject": {"identifier": {"value": "x"}}}),
        (dalfampridine(),),
    ),
    (
        (foot_drop(), procedure("91251008", performed=days_ago(3))),
        (pt_referral(), afo()),
    ),
]


def _run(resources: tuple[Json, ...], drafts: tuple[Json, ...]) -> list[Recommendation]:
    return check(*resources, drafts=drafts)


def test_the_scenarios_cover_every_order_topic() -> None:
    found = {rec.topic for resources, drafts in SCENARIOS for rec in _run(resources, drafts)}
    assert found == ORDER_TOPICS


@pytest.mark.parametrize(("resources", "drafts"), SCENARIOS)
def test_every_card_renders_and_acts_on_its_own_draft(
    resources: tuple[Json, ...], drafts: tuple[Json, ...]
) -> None:
    recs = _run(resources, drafts)
    data = patient_data(*resources, drafts=drafts)
    refs = {ref(d) for d in drafts}
    for rec in recs:
        assert rec.about_order in refs
        assert all(s.target in (None, rec.about_order) for s in rec.suggestions)
        (card,) = render(
            [rec], data, CardCatalogue.load(), hook="order-sign", docs_url="https://x.test/docs"
        )
        for suggestion in card.suggestions or []:
            for action in suggestion.actions or []:
                if action.type == "delete":
                    assert action.resourceId == rec.about_order
                if action.type == "update":
                    assert action.resource is not None
                    resource_ref = f"{action.resource['resourceType']}/{action.resource['id']}"
                    assert resource_ref == rec.about_order


@pytest.mark.parametrize(("resources", "drafts"), SCENARIOS)
def test_most_urgent_first_and_deterministic(
    resources: tuple[Json, ...], drafts: tuple[Json, ...]
) -> None:
    first, second = _run(resources, drafts), _run(resources, drafts)
    assert first == second
    ranks = [INDICATOR_RANK[r.indicator] for r in first]
    assert ranks == sorted(ranks)


def test_a_selection_named_twice_gives_its_cards_once() -> None:
    draft = dalfampridine(dose=15)
    assert len(check(crcl(85), drafts=(draft,), selected=[draft, draft])) == 1


def test_nothing_selected_gives_nothing() -> None:
    assert check(foot_drop(), selected=[]) == []
