"""End-to-end vignettes as data: load, check and expand `tests/vignettes/<hook>/*.yaml`.

A vignette file is written for a clinician to review (tests/vignettes/README.md);
this module turns it into a hook request at the fixed request time `NOW` and
compares the service's cards with what the file expects. Every mistake in a file
(an unknown key or topic, a resource that is not valid FHIR R4, a selection that
names no draft) is a `VignetteError` that starts with the file's path.
"""

from __future__ import annotations

import copy
import re
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from fhir.resources.R4B import get_fhir_model_class
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from cards.catalogue import CardCatalogue
from service.clinical.thresholds import ClinicalThresholds
from tests.conftest import PREFETCH_KEYS
from tests.support.clinical import PATIENT_ID, TODAY

Json = dict[str, Any]
Hook = Literal["patient-view", "order-select", "order-sign"]

VIGNETTE_DIR = Path(__file__).resolve().parents[1] / "vignettes"
#: "-10d" is ten days before the request time, "-6w" six weeks; "+3d" is after it.
RELATIVE_DATE = re.compile(r"^([+-])(\d+)([dw])$")
_DAYS_PER_UNIT = {"d": 1, "w": 7}
#: Resources whose patient reference is not called `subject`.
_PATIENT_FIELD = {"AllergyIntolerance": "patient", "Device": "patient"}


class VignetteError(ValueError):
    """A vignette file that cannot be run as written; the message starts with its path."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExpectedCard(_Strict):
    topic: str
    indicator: Literal["info", "warning", "critical"]
    suggestions: tuple[str, ...] = ()
    recommended: tuple[str, ...] = ()
    not_suggested: tuple[str, ...] = ()
    summary_contains: tuple[str, ...] = ()
    detail_contains: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> ExpectedCard:
        if set(self.recommended) - set(self.suggestions):
            raise ValueError("every `recommended` suggestion must also be under `suggestions`")
        if set(self.suggestions) & set(self.not_suggested):
            raise ValueError("a suggestion cannot be both expected and `not_suggested`")
        return self


class Expectation(_Strict):
    cards: tuple[ExpectedCard, ...]
    absent: tuple[str, ...] = ()
    nothing_else: bool = False
    stopped: dict[str, str] = Field(default_factory=dict)
    """Topic -> the stopping condition the rule trace must name for it (not shown)."""

    @model_validator(mode="after")
    def _consistent(self) -> Expectation:
        topics = [card.topic for card in self.cards]
        if len(set(topics)) != len(topics):
            raise ValueError(f"a topic is expected twice: {topics}")
        both = set(topics) & (set(self.absent) | set(self.stopped))
        if both:
            raise ValueError(f"topics both expected and absent or stopped: {sorted(both)}")
        return self


class Context(_Strict):
    draftOrders: tuple[Json, ...] = ()
    selections: tuple[str, ...] = ()


class Vignette(_Strict):
    title: str = Field(min_length=1)
    question: str = Field(min_length=1)
    basis: str = Field(min_length=1)
    hook: Hook
    patient: Json
    record: tuple[Json, ...] = ()
    context: Context = Context()
    clinical: dict[str, Any] = {}
    """Clinical settings of the site (`CDS_CLINICAL__<NAME>`, by lower-case name) for this
    vignette, e.g. `{label_jurisdiction: EU}`; none: the defaults."""
    expect: Expectation

    @field_validator("clinical")
    @classmethod
    def _clinical_settings(cls, value: dict[str, Any]) -> dict[str, Any]:
        ClinicalThresholds(**value)  # an unknown name or a bad value fails here
        return value

    @model_validator(mode="after")
    def _fits_hook(self) -> Vignette:
        if self.patient.get("resourceType") != "Patient":
            raise ValueError("patient must be a Patient resource (resourceType: Patient)")
        drafts, selections = self.context.draftOrders, self.context.selections
        if self.hook == "patient-view" and (drafts or selections):
            raise ValueError("patient-view has no draftOrders or selections")
        if self.hook != "patient-view" and not drafts:
            raise ValueError(f"{self.hook} needs context.draftOrders")
        if self.hook == "order-sign" and selections:
            raise ValueError("order-sign has no selections: it checks every draft")
        if self.hook == "order-select" and not selections:
            raise ValueError("order-select needs context.selections")
        references = {f"{d.get('resourceType')}/{d.get('id')}" for d in drafts}
        unknown = [s for s in selections if s not in references]
        if unknown:
            raise ValueError(f"selections {unknown} name no draft (drafts: {sorted(references)})")
        return self

    def request_context(self) -> Json:
        """The hook's own context keys (userId and patientId are added by the runner)."""
        if self.hook == "patient-view":
            return {}
        entries = [{"resource": draft} for draft in self.context.draftOrders]
        context: Json = {
            "draftOrders": {"resourceType": "Bundle", "type": "collection", "entry": entries}
        }
        if self.context.selections:
            context["selections"] = list(self.context.selections)
        return context


class _Loader(yaml.SafeLoader):
    """YAML that keeps dates as written ("1964-03-01" stays a string, as FHIR JSON has it)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def vignette_files(directory: Path = VIGNETTE_DIR) -> list[Path]:
    return sorted(directory.glob("*/*.yaml"))


@lru_cache(maxsize=1)
def catalogue() -> CardCatalogue:
    return CardCatalogue.load()


def load(path: Path, today: date = TODAY) -> Vignette:
    """Read, check and expand one vignette file; every problem names the file."""
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
        vignette = Vignette.model_validate(raw)
        if path.parent.name != vignette.hook:
            raise ValueError(f"a {vignette.hook} vignette belongs in {vignette.hook}/")
        _check_topics(vignette, catalogue())
        return _expanded(vignette, today)
    except ValidationError as error:
        raise VignetteError(f"{path}: {_described(error)}") from None
    except (OSError, yaml.YAMLError, ValueError) as error:
        raise VignetteError(f"{path}: {error}") from None


def _described(error: ValidationError) -> str:
    """One line per problem, saying where it is ("expect.cards.0.indicator: ...")."""
    return "; ".join(
        f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
        for problem in error.errors()
    )


def _check_topics(vignette: Vignette, cards: CardCatalogue) -> None:
    """Topics and suggestion ids must exist, for a card this hook can show."""
    expect = vignette.expect
    for topic in [*(card.topic for card in expect.cards), *expect.absent, *expect.stopped]:
        template = cards.templates.get(topic)
        if template is None:
            raise ValueError(f"no card topic {topic!r} in cards/templates")
        if vignette.hook not in template.hooks:
            raise ValueError(f"card {topic!r} is never shown at {vignette.hook}")
    unknown_stops = sorted(set(expect.stopped.values()) - set(cards.stops.root))
    if unknown_stops:
        raise ValueError(f"no stopping condition {unknown_stops[0]!r} in cards/stop_reasons.toml")
    for card in vignette.expect.cards:
        template = cards.templates[card.topic]
        named = {*card.suggestions, *card.not_suggested}
        unknown = sorted(s for s in named if template.suggestion(s) is None)
        if unknown:
            known = [s.id for s in template.suggestions]
            raise ValueError(f"card {card.topic!r} has no suggestions {unknown} (it has {known})")


def _expanded(vignette: Vignette, today: date) -> Vignette:
    """Relative dates made absolute, ids and patient references filled in, all valid R4."""
    patient = {"id": PATIENT_ID, **expand_dates(vignette.patient, today)}
    record = [_completed(r, f"{i + 1}", today) for i, r in enumerate(vignette.record)]
    drafts = [
        _completed(d, f"draft-{i + 1}", today) for i, d in enumerate(vignette.context.draftOrders)
    ]
    unserved = sorted({r["resourceType"] for r in record} - set(PREFETCH_KEYS))
    if unserved:
        raise ValueError(f"the services never query {unserved}: use only {sorted(PREFETCH_KEYS)}")
    for resource in [patient, *record, *drafts]:
        _check_fhir(resource)
    return vignette.model_copy(
        update={
            "patient": patient,
            "record": tuple(record),
            "context": vignette.context.model_copy(update={"draftOrders": tuple(drafts)}),
        }
    )


def _completed(resource: Json, number: str, today: date) -> Json:
    kind = resource.get("resourceType")
    if not isinstance(kind, str):
        raise ValueError(f"a resource without resourceType: {resource}")
    filled = expand_dates(resource, today)
    filled.setdefault("id", f"{kind.lower()}-{number}")
    filled.setdefault(_PATIENT_FIELD.get(kind, "subject"), {"reference": f"Patient/{PATIENT_ID}"})
    return filled


def _check_fhir(resource: Json) -> None:
    name = f"{resource['resourceType']}/{resource.get('id')}"
    try:
        model = get_fhir_model_class(resource["resourceType"])
    except KeyError:
        raise ValueError(f"{name}: no such FHIR R4 resource type") from None
    try:
        model.model_validate(resource)
    except ValidationError as error:
        raise ValueError(f"{name} is not valid FHIR R4: {_described(error)}") from None


def expand_dates(value: Any, today: date) -> Any:
    """A copy of `value` with every relative date ("-10d", "-6w") as an ISO date."""
    if isinstance(value, dict):
        return {key: expand_dates(item, today) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [expand_dates(item, today) for item in value]
    if isinstance(value, str) and (match := RELATIVE_DATE.match(value)):
        sign, amount, unit = match.groups()
        days = int(amount) * _DAYS_PER_UNIT[unit] * (1 if sign == "+" else -1)
        return (today + timedelta(days=days)).isoformat()
    return copy.deepcopy(value)


def unmet(expect: Expectation, cards: list[Json], trace: Json | None = None) -> list[str]:
    """What the response fails of the expectation (and its rule trace), in words a reviewer
    can act on."""
    by_topic: dict[str, list[Json]] = {}
    for card in cards:
        by_topic.setdefault(_topic(card), []).append(card)
    shown = ", ".join(f"{_topic(card)} ({card['indicator']})" for card in cards)
    problems: list[str] = []
    for expected in expect.cards:
        candidates = by_topic.get(expected.topic, [])
        if not candidates:
            problems.append(f"expected card {expected.topic!r}, got: {shown or 'no card'}")
            continue
        # Several cards of one topic (one per side or per draft): one must match.
        found = [_card_problems(expected, card) for card in candidates]
        if all(found):
            problems += found[0]
    problems += [f"card {topic!r} must not appear" for topic in expect.absent if topic in by_topic]
    if expect.nothing_else:
        expected_topics = {card.topic for card in expect.cards}
        extra = [topic for topic in by_topic if topic not in expected_topics]
        problems += [f"no other card expected, got {topic!r}" for topic in extra]
    for topic, condition in expect.stopped.items():
        traced = [t for t in (trace or {}).get("topics", []) if t["topic"] == topic]
        named = sorted({str(t.get("stopped_by")) for t in traced if not t["fired"]})
        if topic in by_topic or any(t["fired"] for t in traced):
            problems.append(f"card {topic!r} must not appear (stopped by {condition!r})")
        elif condition not in named:
            problems.append(f"{topic!r} must be stopped by {condition!r}, the trace says {named}")
    return problems


def _topic(card: Json) -> str:
    topic: str = card["source"]["topic"]["code"]
    return topic


def _card_problems(expected: ExpectedCard, card: Json) -> list[str]:
    template = catalogue().templates[expected.topic]

    def label(suggestion_id: str) -> str:
        found = template.suggestion(suggestion_id)
        assert found is not None  # checked at load
        return found.label

    offered = {s["label"]: bool(s.get("isRecommended")) for s in card.get("suggestions", [])}
    problems = []
    if card["indicator"] != expected.indicator:
        problems.append(
            f"card {expected.topic!r} is {card['indicator']!r}, expected {expected.indicator!r}"
        )
    problems += [
        f"card {expected.topic!r} does not suggest {s!r}"
        for s in expected.suggestions
        if label(s) not in offered
    ]
    problems += [
        f"card {expected.topic!r} does not mark {s!r} recommended"
        for s in expected.recommended
        if not offered.get(label(s))
    ]
    problems += [
        f"card {expected.topic!r} must not suggest {s!r}"
        for s in expected.not_suggested
        if label(s) in offered
    ]
    problems += [
        f"card {expected.topic!r} summary {card['summary']!r} does not say {words!r}"
        for words in expected.summary_contains
        if words not in card["summary"]
    ]
    problems += [
        f"card {expected.topic!r} detail does not say {words!r}"
        for words in expected.detail_contains
        if words not in card.get("detail", "")
    ]
    return problems
