"""Every order-check topic fires, and each condition its rule can stop on is named.

For each topic: one order (with a record) where the card fires, and one per stopping
condition its rule names (read from the rule's source and its helpers', so a new
condition without a case here fails), each asserting that the rule trace names it;
and the population (§1) stops every foot-drop order check by its own condition.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from service.clinical import order_checks, trace
from tests.support import drafts
from tests.support.clinical import (
    ICD,
    PERONEAL,
    SCT,
    condition,
    crcl,
    days_ago,
    foot_drop,
    patient,
    procedure,
    service_request,
    weeks_ago,
)
from tests.support.drafts import order_decisions
from tests.support.trace_checks import rule_conditions

Json = dict[str, Any]
CAUDA_EQUINA = condition("G83.4", ICD, onset=days_ago(2))  # Cauda equina syndrome
EPILEPSY = condition("G40.909", ICD)
NEUROSURGEON = "308482002"


@dataclass(frozen=True)
class Case:
    topic: str
    condition: str | None
    """None: the card fires."""
    record: Callable[[], list[Json]]
    order: Callable[[], Json]
    unavailable: frozenset[str] = field(default_factory=frozenset)

    @property
    def id(self) -> str:
        return f"{self.topic}:{self.condition or 'fires'}"


def acute() -> Json:
    return foot_drop(onset=days_ago(10))


def good_renal() -> Json:
    return crcl(85)


def labelled() -> Json:
    return drafts.dalfampridine()


def too_much() -> Json:
    return drafts.dalfampridine(dose=20)


def stat_mri() -> Json:
    return drafts.mri_lumbar(priority="stat")


def referral(priority: str | None = "routine") -> Json:
    return drafts.service_draft(NEUROSURGEON, SCT, priority=priority)


NOT_THIS = "not-this-order"
CASES = [
    Case("dalfampridine-contraindicated", None, lambda: [EPILEPSY], labelled),
    Case("dalfampridine-contraindicated", NOT_THIS, lambda: [acute()], drafts.afo),
    Case("dalfampridine-contraindicated", "no-contraindication", lambda: [good_renal()], labelled),
    Case("stat-imaging", None, lambda: [acute(), CAUDA_EQUINA], drafts.mri_lumbar),
    Case("stat-imaging", NOT_THIS, lambda: [acute(), CAUDA_EQUINA], drafts.afo),
    Case("stat-imaging", "already-stat", lambda: [acute(), CAUDA_EQUINA], stat_mri),
    Case("stat-imaging", "no-critical-red-flag", lambda: [acute()], drafts.mri_lumbar),
    Case("stat-referral", None, lambda: [acute(), CAUDA_EQUINA], referral),
    Case("stat-referral", NOT_THIS, lambda: [acute(), CAUDA_EQUINA], drafts.mri_lumbar),
    Case(
        "stat-referral", "already-stat", lambda: [acute(), CAUDA_EQUINA], lambda: referral("stat")
    ),
    Case("stat-referral", "no-critical-red-flag", lambda: [acute()], referral),
    Case("seizure-history-verify", None, lambda: [good_renal(), condition("F44.5", ICD)], labelled),
    Case("seizure-history-verify", NOT_THIS, lambda: [condition("F44.5", ICD)], drafts.afo),
    Case("seizure-history-verify", "no-seizure-record-to-verify", lambda: [good_renal()], labelled),
    Case(
        "seizure-history-verify",
        "one-message-per-draft",
        lambda: [condition("F44.5", ICD), EPILEPSY],
        labelled,
    ),
    Case(
        "record-incomplete",
        None,
        lambda: [good_renal()],
        labelled,
        frozenset({"conditions"}),
    ),
    Case("record-incomplete", NOT_THIS, lambda: [acute()], drafts.afo, frozenset({"conditions"})),
    Case(
        "record-incomplete",
        "one-message-per-draft",
        lambda: [EPILEPSY],
        labelled,
        frozenset({"allergies"}),
    ),
    Case("record-incomplete", "record-read-in-full", lambda: [good_renal()], labelled),
    Case("dalfampridine-dose", None, lambda: [good_renal()], too_much),
    Case("dalfampridine-dose", NOT_THIS, lambda: [good_renal()], drafts.afo),
    Case(
        "dalfampridine-dose",
        "no-dose-problem",  # a dose that cannot be read is no departure from the label
        lambda: [good_renal()],
        lambda: drafts.dalfampridine(dosage=False),
    ),
    Case("dalfampridine-dose", "no-dose-problem", lambda: [good_renal()], labelled),
    Case("dalfampridine-dose", "one-message-per-draft", lambda: [EPILEPSY], too_much),
    Case("renal-function-needed", None, lambda: [], labelled),
    Case("renal-function-needed", NOT_THIS, lambda: [], drafts.afo),
    Case("renal-function-needed", "one-message-per-draft", lambda: [EPILEPSY], labelled),
    Case("renal-function-needed", "renal-function-known", lambda: [good_renal()], labelled),
    Case("add-physical-therapy", None, lambda: [acute()], drafts.afo),
    Case("add-physical-therapy", NOT_THIS, lambda: [acute()], drafts.mri_lumbar),
    Case(
        "add-physical-therapy", "non-ambulatory", lambda: [acute(), condition("Z99.3")], drafts.afo
    ),
    Case(
        "add-physical-therapy",
        "pt-since-onset",
        lambda: [acute(), service_request("308447003")],
        drafts.afo,
    ),
    Case(
        "localize-before-decompression",
        None,
        lambda: [acute(), condition(PERONEAL["right"], onset=days_ago(10))],
        drafts.peroneal_decompression,
    ),
    Case("localize-before-decompression", NOT_THIS, lambda: [acute()], drafts.afo),
    Case(
        "localize-before-decompression",
        "ncs-emg-done-or-ordered",
        lambda: [
            acute(),
            procedure("95907", "http://www.ama-assn.org/go/cpt", performed=days_ago(3)),
        ],
        drafts.peroneal_decompression,
    ),
    Case(
        "premature-palliative-surgery",
        None,
        lambda: [foot_drop(onset=weeks_ago(10))],
        drafts.tendon_transfer,
    ),
    Case("premature-palliative-surgery", NOT_THIS, lambda: [acute()], drafts.afo),
    Case(
        "premature-palliative-surgery",
        "onset-not-known",
        lambda: [foot_drop(recorded=weeks_ago(10))],
        drafts.tendon_transfer,
    ),
    Case(
        "premature-palliative-surgery",
        "long-standing",
        lambda: [foot_drop(onset="2024-01-01")],
        drafts.tendon_transfer,
    ),
    Case(
        "fusion-not-indicated",
        None,
        lambda: [acute(), condition("M51.16", onset=days_ago(20))],
        drafts.lumbar_fusion,
    ),
    Case("fusion-not-indicated", NOT_THIS, lambda: [acute()], drafts.afo),
    Case("fusion-not-indicated", "no-disc-herniation", lambda: [acute()], drafts.lumbar_fusion),
    Case(
        "fusion-not-indicated",
        "other-lumbar-diagnosis",
        lambda: [acute(), condition("M51.16", onset=days_ago(20)), condition("M43.16")],
        drafts.lumbar_fusion,
    ),
    Case(
        "duplicate-order",
        None,
        lambda: [acute(), service_request("308447003")],
        drafts.pt_referral,
    ),
    Case("duplicate-order", NOT_THIS, lambda: [acute()], drafts.lumbar_fusion),
    Case(
        "duplicate-order",
        "repeat-mri-may-be-indicated",
        lambda: [acute(), CAUDA_EQUINA],
        drafts.mri_lumbar,
    ),
    Case("duplicate-order", "no-existing-care", lambda: [acute()], drafts.pt_referral),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_the_trace_names_what_stopped_the_check_or_that_it_fired(case: Case) -> None:
    order = case.order()
    decided = order_decisions(*case.record(), order=order, unavailable=case.unavailable)
    decision = decided[case.topic]
    assert decision.stopped_by == case.condition, decision.outcome
    assert decision.order == drafts.ref(order)


def test_every_topic_fires_and_each_of_its_conditions_has_a_case() -> None:
    covered = {(case.topic, case.condition) for case in CASES}
    named = rule_conditions()
    missing = [
        (topic, condition)
        for topic in (trace.rule_topic(rule) for rule in order_checks.RULES)
        for condition in [None, *sorted(named[topic])]
        if (topic, condition) not in covered
    ]
    assert not missing, f"no case for {missing}"


@pytest.mark.parametrize(
    ("record", "condition"),
    [
        pytest.param([condition("I10")], trace.NO_FOOT_DROP, id="no foot drop"),
        pytest.param([patient("2012-01-01"), acute()], trace.NOT_ADULT, id="under 18"),
        pytest.param([patient(None), acute()], trace.AGE_UNKNOWN, id="age unknown"),
        pytest.param(
            [condition(PERONEAL["right"], onset=days_ago(5))],
            trace.PERONEAL_PALSY_ONLY,
            id="peroneal palsy only",
        ),
    ],
)
def test_the_population_stops_the_foot_drop_order_checks(
    record: list[Json], condition: str
) -> None:
    decided = order_decisions(*record, order=drafts.afo())
    assert decided["add-physical-therapy"].stopped_by == condition
    assert decided["dalfampridine-contraindicated"].stopped_by == NOT_THIS
