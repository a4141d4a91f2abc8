"""Every patient-view topic fires, and each condition its rule can stop on is named.

For each topic: one record where the card fires, and one per stopping condition its
rule names (read from the rule's source, so a new condition without a case here
fails), each asserting that the rule trace names exactly that condition.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from service.clinical import trace
from service.clinical.thresholds import ClinicalThresholds
from tests.support.clinical import (
    CPT,
    HCPCS,
    PERONEAL,
    SCT,
    THRESHOLDS,
    condition,
    crcl,
    days_ago,
    decisions,
    device_request,
    foot_drop,
    medication_request,
    medication_statement,
    procedure,
    service_request,
    weeks_ago,
)
from tests.support.trace_checks import rule_conditions

Json = dict[str, Any]


@dataclass(frozen=True)
class Case:
    topic: str
    condition: str | None
    """None: the card fires."""
    record: Callable[[], list[Json]]
    thresholds: ClinicalThresholds = THRESHOLDS

    @property
    def id(self) -> str:
        return f"{self.topic}:{self.condition or 'fires'}"


def acute() -> Json:
    return foot_drop(onset=days_ago(10))


def palsy(onset: str | None = None) -> Json:
    return condition(PERONEAL["right"], onset=onset or days_ago(10))


def stroke() -> Json:
    return condition("I69.351", onset="2024-01-01")


def disc() -> Json:
    return condition("M51.16", onset=days_ago(60))


def emg(days: int = 3) -> Json:
    return procedure("95907", CPT, performed=days_ago(days))


def decompression() -> Json:
    return procedure(None, text="Decompression of the right common peroneal nerve")


def ms() -> Json:
    return condition("G35", onset="2012-01-01")


def old() -> Json:
    return foot_drop(onset="2024-03-01")


CASES = [
    Case(
        "red-flag-urgent-evaluation", None, lambda: [acute(), condition("R33.9", onset=days_ago(2))]
    ),
    Case("red-flag-urgent-evaluation", "no-red-flag-finding", lambda: [acute()]),
    Case("orthosis", None, lambda: [acute()]),
    Case("orthosis", "non-ambulatory", lambda: [acute(), condition("Z99.3")]),
    Case("orthosis", "orthosis-in-use", lambda: [acute(), device_request("L1930", HCPCS)]),
    Case("orthosis", "peroneal-palsy-only", lambda: [palsy()]),
    Case("physical-therapy", None, lambda: [acute()]),
    Case("physical-therapy", "non-ambulatory", lambda: [acute(), condition("Z74.01")]),
    Case("physical-therapy", "pt-since-onset", lambda: [acute(), service_request("308447003")]),
    Case("physical-therapy", "peroneal-palsy-only", lambda: [palsy()]),
    Case("localization-workup", None, lambda: [acute()]),
    Case(
        "localization-workup",
        "central-cause-explains",
        lambda: [foot_drop(onset="2025-01-01"), stroke()],
    ),
    Case(
        "localization-workup",
        "work-up-complete",
        lambda: [acute(), emg(), service_request("41333006")],
    ),
    Case("peroneal-decompression", None, lambda: [acute(), palsy()]),
    Case("peroneal-decompression", "no-peroneal-neuropathy", lambda: [acute()]),
    Case(
        "peroneal-decompression", "nerve-surgery-done", lambda: [acute(), palsy(), decompression()]
    ),
    Case(
        "peroneal-decompression",
        "traumatic-cause",
        lambda: [acute(), palsy(), condition("S82.831A", onset=days_ago(20))],
    ),
    Case(
        "peroneal-decompression",
        "onset-too-long-ago",
        lambda: [foot_drop(onset="2025-05-01"), palsy()],
    ),
    Case("peroneal-decompression", "peroneal-palsy-only", lambda: [palsy()]),
    Case(
        "nerve-injury-referral", None, lambda: [acute(), condition("S84.11XA", onset=days_ago(20))]
    ),
    Case(
        "nerve-injury-referral",
        "nerve-surgery-done",
        lambda: [acute(), condition("S84.11XA", onset=days_ago(20)), decompression()],
    ),
    Case(
        "nerve-injury-referral",
        "no-recent-nerve-injury",
        lambda: [acute(), condition("S84.11XS", onset="2024-01-01")],
    ),
    Case("nerve-injury-referral", "peroneal-palsy-only", lambda: [palsy()]),
    Case("disc-surgery-referral", None, lambda: [foot_drop(onset=weeks_ago(8)), disc()]),
    Case(
        "disc-surgery-referral",
        "red-flag-first",
        lambda: [
            foot_drop(onset=weeks_ago(8), notes=[("worsening weakness", days_ago(1))]),
            disc(),
        ],
    ),
    Case(
        "disc-surgery-referral",
        "no-recent-disc-herniation",
        lambda: [foot_drop(onset=weeks_ago(8)), condition("M51.16", onset="2023-01-01")],
    ),
    Case("disc-surgery-referral", "onset-unknown", lambda: [condition("M21.371"), disc()]),
    Case("disc-surgery-referral", "too-early", lambda: [foot_drop(onset=weeks_ago(3)), disc()]),
    Case("disc-surgery-referral", "too-late", lambda: [foot_drop(onset="2025-01-01"), disc()]),
    Case(
        "disc-surgery-referral",
        "spine-surgery-done-or-referred",
        lambda: [
            foot_drop(onset=weeks_ago(8)),
            disc(),
            procedure("89355001", performed=days_ago(10)),
        ],
    ),
    Case(
        "disc-surgery-referral",
        "other-cause-proven",
        lambda: [foot_drop(onset=weeks_ago(8)), disc(), palsy(weeks_ago(8)), emg(20)],
    ),
    Case("disc-surgery-referral", "peroneal-palsy-only", lambda: [palsy()]),
    Case("palliative-surgery", None, lambda: [old(), palsy("2024-03-01")]),
    Case("palliative-surgery", "no-peripheral-cause", lambda: [old()]),
    Case(
        "palliative-surgery",
        "central-or-progressive",
        lambda: [old(), palsy("2024-03-01"), ms()],
    ),
    Case(
        "palliative-surgery",
        "onset-not-known",
        lambda: [foot_drop(recorded="2020-01-01"), palsy("2020-01-01")],
    ),
    Case(
        "palliative-surgery",
        "not-yet-long-standing",
        lambda: [foot_drop(onset=days_ago(300)), palsy()],
    ),
    Case(
        "palliative-surgery",
        "palliative-surgery-done",
        lambda: [old(), palsy("2024-03-01"), procedure("3026000", performed="2025-01-01")],
    ),
    Case("palliative-surgery", "peroneal-palsy-only", lambda: [palsy()]),
    Case(
        "spasticity-botulinum",
        None,
        lambda: [acute(), stroke(), condition("221360009", SCT)],
    ),
    Case("spasticity-botulinum", "no-spasticity", lambda: [acute(), condition("M62.838")]),
    Case(
        "spasticity-botulinum",
        "botulinum-recent",
        lambda: [acute(), condition("G81.14"), procedure("64642", CPT, performed=days_ago(90))],
    ),
    Case(
        "spasticity-botulinum",
        "rehabilitation-referral-pending",
        lambda: [acute(), condition("G81.14"), service_request("306289000")],
    ),
    Case("spasticity-botulinum", "peroneal-palsy-only", lambda: [palsy()]),
    Case("ms-dalfampridine", None, lambda: [acute(), ms(), crcl(90)]),
    Case("ms-dalfampridine", "no-multiple-sclerosis", lambda: [acute(), crcl(90)]),
    Case(
        "ms-dalfampridine",
        "dalfampridine-known",
        lambda: [acute(), ms(), crcl(90), medication_request("897021", status="stopped")],
    ),
    Case(
        "ms-dalfampridine",
        "contraindication-recorded",
        lambda: [acute(), ms(), condition("G40.909", status="resolved", onset="1990-01-01")],
    ),
    Case(
        "ms-dalfampridine",
        "oct2-inhibitor",
        lambda: [acute(), ms(), crcl(95), medication_statement("cimetidine 400 mg")],
        ClinicalThresholds(label_jurisdiction="EU"),
    ),
    Case("ms-dalfampridine", "peroneal-palsy-only", lambda: [palsy()]),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_the_trace_names_what_stopped_the_topic_or_that_it_fired(case: Case) -> None:
    decision = decisions(*case.record(), thresholds=case.thresholds)[case.topic]
    assert decision.stopped_by == case.condition, decision.outcome
    assert decision.fired is (case.condition is None)
    assert decision.read[:1] == ("foot_drop",)


def test_every_topic_fires_and_each_of_its_conditions_has_a_case() -> None:
    covered = {(case.topic, case.condition) for case in CASES}
    named = rule_conditions()
    topics = [trace.rule_topic(rule) for rule in _patient_view_rules()]
    missing = [
        (topic, condition)
        for topic in topics
        for condition in [None, *sorted(named[topic])]
        if (topic, condition) not in covered
    ]
    assert not missing, f"no case for {missing}"


def _patient_view_rules() -> list[Callable[..., Any]]:
    from service.clinical import patient_view

    return [patient_view.red_flag_urgent_evaluation, *patient_view.CARDS]
