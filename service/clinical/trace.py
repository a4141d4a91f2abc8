"""The rule trace: for every topic, what was decided and what the decision read.

The trace is not computed beside the rules: `patient_view.decide` and
`order_checks.decide` run each rule once and keep its `Outcome` (a
`Recommendation`, or the `Stopped` condition that kept it from firing) as a
`Decision`; the cards are the decisions that fired. The population check and
the pipeline's own suppressions (a critical card withholds the others, a
snoozed topic, an order-sign repeat) turn a decision into a `Stopped` one,
keeping the records it rested on.

What a decision read is observed, not declared: when the trace is wanted, each
rule runs on `watch`ed features, which note every feature the rule reads (its
properties included), so the features listed are exactly those the rule looked
at, and the records are theirs (`Type/id`), the outcome's own evidence first.
Watching changes no value and no outcome; it is left out when nobody reads the
trace, since noting every read triples the rules' few hundred microseconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, fields, replace
from functools import cache
from typing import Any

from service.clinical.features.model import (
    Evidence,
    FootDrop,
    PatientFeatures,
    Progression,
    Recorded,
    RenalAssessment,
)
from service.clinical.recommendation import (
    Outcome,
    Recommendation,
    Stopped,
    most_urgent_first,
)

# Conditions of the population (§1) and of the pipeline; the rules name their own.
NO_FOOT_DROP = "no-foot-drop"
NOT_ADULT = "not-adult"
AGE_UNKNOWN = "age-unknown"
PERONEAL_PALSY_ONLY = "peroneal-palsy-only"
WITHHELD_BESIDE_CRITICAL = "withheld-beside-critical"
SNOOZED = "snoozed"
SHOWN_AT_ORDER_SELECT = "shown-at-order-select"

#: Features a rule may read (not the request time).
FEATURES = frozenset(f.name for f in fields(PatientFeatures)) - {"now"}
#: Features that are facts of the Patient resource.
_OF_PATIENT = frozenset({"patient", "age_years", "sex"})


class WatchedFeatures(PatientFeatures):
    """The same features, noting each one read: made by `watch`, read by `traced`."""

    _reads: list[str]

    def __getattribute__(self, name: str) -> Any:
        if name in FEATURES:
            object.__getattribute__(self, "_reads").append(name)
        return object.__getattribute__(self, name)

    def reads_since(self, mark: int) -> tuple[str, ...]:
        """Features read after `mark` (a length of the log), each once, in first-read order."""
        reads: list[str] = object.__getattribute__(self, "_reads")
        return tuple(dict.fromkeys(reads[mark:]))

    @property
    def mark(self) -> int:
        return len(object.__getattribute__(self, "_reads"))


def watch(features: PatientFeatures) -> WatchedFeatures:
    """`features` with the same values, noting what the rules read."""
    if isinstance(features, WatchedFeatures):
        return features
    watched = object.__new__(WatchedFeatures)
    object.__getattribute__(watched, "__dict__").update(vars(features))
    object.__setattr__(watched, "_reads", [])
    return watched


@dataclass(frozen=True, slots=True)
class Decision:
    """One topic's outcome (for the order checks: about one order), with what it read."""

    topic: str
    outcome: Outcome
    features: PatientFeatures
    read: tuple[str, ...] = ()
    """Feature names, in the order first read."""
    order: str | None = None
    """`Type/id` of the order checked (order hooks)."""

    @property
    def fired(self) -> bool:
        return isinstance(self.outcome, Recommendation)

    @property
    def stopped_by(self) -> str | None:
        return self.outcome.condition if isinstance(self.outcome, Stopped) else None

    @property
    def records(self) -> tuple[str, ...]:
        """`Type/id` of every record the decision rested on or read, its own first."""
        own = (e.reference for e in self.outcome.evidence)
        read = (ref for name in self.read for ref in _records(self.features, name))
        return tuple(dict.fromkeys([*own, *read]))

    def stop(self, condition: str) -> Decision:
        """This decision suppressed by `condition`, still citing what it rested on."""
        return replace(self, outcome=Stopped(condition, self.outcome.evidence))


@cache
def rule_topic(rule: Callable[..., Any]) -> str:
    """A rule's topic is its name: `physical_therapy` decides `physical-therapy`."""
    return rule.__name__.replace("_", "-")


def traced(
    topic: str,
    features: PatientFeatures,
    decide: Callable[[], Outcome],
    *,
    before: Sequence[str] = (),
    order: str | None = None,
) -> Decision:
    """Run one rule and keep its outcome with the features it read (after `before`, what
    the population check read for it) when `features` are watched."""
    watched = features if isinstance(features, WatchedFeatures) else None
    mark = watched.mark if watched is not None else 0
    outcome = decide()
    read = watched.reads_since(mark) if watched is not None else ()
    return Decision(topic, outcome, features, tuple(dict.fromkeys([*before, *read])), order)


def stopped(
    topics: Iterable[str], condition: str, features: PatientFeatures, read: Sequence[str]
) -> list[Decision]:
    """Topics whose rules did not run: the population stopped them all at once."""
    return [Decision(topic, Stopped(condition), features, tuple(read)) for topic in topics]


def cards(decisions: Iterable[Decision]) -> list[Recommendation]:
    """The decisions that fired, most urgent first: what the response shows."""
    return most_urgent_first(d.outcome for d in decisions if isinstance(d.outcome, Recommendation))


def _records(features: PatientFeatures, name: str) -> Iterator[str]:
    if name in _OF_PATIENT:
        patient = object.__getattribute__(features, "patient")
        yield from ([patient.reference] if patient is not None else [])
        return
    yield from _references(object.__getattribute__(features, name))


def _references(value: object) -> Iterator[str]:
    match value:
        case Evidence():
            yield value.reference
        case Recorded():
            yield value.evidence.reference
        case FootDrop():
            yield from _references(value.findings)
        case Progression():
            yield from _references(value.structured + value.text)
        case RenalAssessment():
            yield from _references(value.evidence)
        case tuple():
            for item in value:
                yield from _references(item)
        case _:
            return
