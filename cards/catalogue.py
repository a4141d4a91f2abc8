"""Card content, loaded and checked once at start-up.

Clinical content lives in data files a clinician can review: one card template
per topic (`templates/<topic>.toml`), one FHIR order body per orderable item
(`orders/<id>.json`) and the shared wording, evidence, sources, units and
version (`content.toml`). This module turns them into typed objects and refuses
bad content with a message naming the file, so that a wording or code mistake
stops the service at start-up instead of reaching a patient's chart.

    CardCatalogue.load()
      ├─ content.toml          -> Content (version, sources, link, units, notes, flags, references)
      ├─ override_reasons.toml -> ReasonVocabulary (HL7 standard codes, our codes mapped)
      ├─ orders/<id>.json      -> OrderTemplate   (body parses as R4 once filled in)
      └─ templates/<topic>.toml -> CardTemplate   (orders, references and flags it names exist)

Each card's wording in each situation it can be shown in (`Wording`: the texts as
cited there, the facts they need, the references they cite) is worked out here too,
once, so that rendering a card only fills in the patient's facts.

What a card may show is checked here for every situation it can be shown in
(each combination of its flags, hooks and indicators, with every fact at its
declared worst-case length), so that the rules of clinical-logic §1 hold by
construction: summaries under 140 characters, the action first, `info` and
`warning` detail within `DETAIL_WORD_LIMIT` words before "Why this card".
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import string
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal, TypeVar

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.resource import Resource
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cards.inputs import Indicator
from cards.model import SUMMARY_LIMIT
from cards.reasons import ReasonMeaning, ReasonVocabulary
from cards.stops import StopReasons
from mappings.fhirjson import JsonObject, without_empty_values

#: clinical-logic v3 §1: `info` and `warning` cards stay under about 80 words before
#: "Why this card" (critical cards may say more).
DETAIL_WORD_LIMIT = 80
#: Indicators the word limit applies to.
WORD_LIMITED: frozenset[str] = frozenset({"info", "warning"})
#: Fields of a created order that the renderer fills in for the patient and request.
RENDERER_FIELDS = frozenset({"id", "status", "subject", "encounter", "requester", "authoredOn"})
#: Resource types an order template may draft.
ORDERABLE_TYPES = frozenset({"ServiceRequest", "DeviceRequest", "MedicationRequest"})
Hook = Literal["patient-view", "order-select", "order-sign"]
_Model = TypeVar("_Model", bound=BaseModel)

_NAME = r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$"
_RAW_HTML = re.compile(r"<[A-Za-z/!?]")
_CITATION = re.compile(r"\[([^\[\]]+)\](?!\()")
_CITATION_GROUP = re.compile(r"(\s?)\[([^\[\]]+)\](?!\()")
_SENTENCE_BREAK = re.compile(r"[.!?]\s")
_REFERENCE = re.compile(r"\b([A-Z][A-Za-z]+)/[A-Za-z0-9\-.]{1,64}")
#: Code-system notation a summary must not carry: URIs, `system|code`, SNOMED CT ids,
#: ICD-10 codes.
_CODE_NOTATION = re.compile(
    r"\b(?:https?|urn):\S+|\S+\|\S+|\b\d{6,18}\b|\b[A-Z]\d{2}(?:\.[0-9A-Z]{1,4})?\b"
)
#: SNOMED CT semantic tags that record displays carry ("Retention of urine (disorder)").
_SEMANTIC_TAG = re.compile(
    r"\s*\((?:disorder|finding|procedure|situation|observable entity|regime/therapy|"
    r"morphologic abnormality|body structure|qualifier value|event|product|substance|"
    r"physical object|record artifact)\)(?=$|[\s,;:)])",
    re.IGNORECASE,
)
#: Code notation in a record's name: "(M21.371)", "[SNOMED 6077001]", "ICD-10 G40.909: ".
_CODE_IN_NAME = re.compile(
    r"\s*[\[(](?:(?:SNOMED(?: CT)?|SCT|ICD-?10(?:-CM)?|LOINC|CPT|RxNorm)[ :]*[\w.\-]+"
    r"|[A-Z]\d{2}\.[0-9A-Z]{1,4}|\d{6,18})[\])]"
    r"|^(?:SNOMED(?: CT)?|ICD-?10(?:-CM)?|LOINC)[ :]+[\w.\-]+[ :\-]+",
    re.IGNORECASE,
)
#: A UCUM annotation such as `{score}` or `{1.73_m2}`, as it would reach a reader.
UCUM_ANNOTATION = re.compile(r"\{[^{}\s]*\}")
#: How a cut text ends; no summary may.
ELLIPSES = ("…", "...")
_WORD = re.compile(r"\S*\w\S*")


class ContentError(ValueError):
    """Card content that must not ship; the message names the file."""


class _Content(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def placeholders(text: str) -> list[str]:
    """Names of the `{fact}` placeholders in a text; only bare names are allowed."""
    names = []
    for _, name, spec, conversion in string.Formatter().parse(text):
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise ValueError(f"placeholder {{{name}}} must be a bare fact name")
        names.append(name)
    return names


def citations(text: str) -> list[str]:
    """Reference ids cited inline as `[4]` or `[1, 4]`, in order of appearance."""
    return [ref.strip() for group in _CITATION.findall(text) for ref in group.split(",")]


def only_citing(text: str, keep: Callable[[str], bool]) -> str:
    """The text with the citations of references not kept taken out: "[1, 4]" → "[1]"; a
    group left empty goes, with the space before it."""

    def group(match: re.Match[str]) -> str:
        kept = [ref.strip() for ref in match.group(2).split(",") if keep(ref.strip())]
        return f"{match.group(1)}[{', '.join(kept)}]" if kept else ""

    return _CITATION_GROUP.sub(group, text)


def word_count(text: str) -> int:
    """Words a reader reads: whitespace-separated tokens with a letter or digit."""
    return len(_WORD.findall(text))


@cache
def is_resource_type(name: str) -> bool:
    try:
        return issubclass(get_fhir_model_class(name), Resource)
    except (ValueError, KeyError):
        return False


def resource_references(text: str) -> list[str]:
    """`Type/id` references of FHIR resources in a text (never shown to a clinician)."""
    return [m.group(0) for m in _REFERENCE.finditer(text) if is_resource_type(m.group(1))]


def plain_name(text: str) -> str:
    """A record's name as a clinician reads it: without SNOMED CT semantic tags ("(disorder)")
    or code notation, whitespace collapsed. Words are never changed otherwise."""
    text = _CODE_IN_NAME.sub("", _SEMANTIC_TAG.sub("", text))
    return " ".join(text.split()).strip(" ,;:")


def code_notation(text: str) -> list[str]:
    """Code-system notation in a text (URIs, `system|code`, SNOMED CT or ICD-10 codes)."""
    return _CODE_NOTATION.findall(text)


class FactSpec(_Content):
    """A fact the rules hand over for `{name}` placeholders (content.toml [facts]).

    `max_length` and `max_words` are the worst case the summaries and details are
    built for: summaries are checked at load with every fact at `max_length`
    characters, details with every fact at `max_words` words. When a summary with
    the facts the rules gave would reach 140 characters, each fact longer than its
    `max_length` keeps its leading whole items (`FACT_ITEM_SEPARATOR`) and says how
    many it left out (`[summary] more`); when not even its first item fits, it
    reads as its `brief` (else `[summary] brief`). A summary is never cut within an
    item, never mid-word and never ends in an ellipsis; the detail keeps the fact
    whole.
    """

    about: str = Field(min_length=1)
    example: str = Field(min_length=1)
    max_length: int = Field(ge=1, le=SUMMARY_LIMIT)
    max_words: int = Field(ge=1)
    brief: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _example_fits(self) -> FactSpec:
        if len(self.example) > self.max_length or word_count(self.example) > self.max_words:
            raise ValueError(f"example {self.example!r} is longer than max_length or max_words")
        if self.brief is not None and len(self.brief) > self.max_length:
            raise ValueError(f"brief {self.brief!r} is longer than max_length")
        return self

    def worst_case(self, *, words: bool = False) -> str:
        """A value of `max_length` characters, or (`words`) of `max_words` words."""
        if words:
            return " ".join(["x"] * self.max_words)
        return "x" * self.max_length


@dataclass(frozen=True)
class Situation:
    """What decides which summary and paragraphs a card shows."""

    flags: frozenset[str]
    hook: str
    indicator: Indicator


class Shown(_Content):
    """When a summary variant or paragraph is shown; every condition given must hold.

    `when`: all these flags are set; `unless`: none of them is; `hooks` and
    `indicators`: the card is shown at one of these hooks, with one of these
    indicators. No condition: always.
    """

    when: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()
    hooks: tuple[Hook, ...] = ()
    indicators: tuple[Indicator, ...] = ()

    @field_validator("when", "unless", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value

    def applies(self, situation: Situation) -> bool:
        return (
            set(self.when) <= situation.flags
            and not set(self.unless) & situation.flags
            and (not self.hooks or situation.hook in self.hooks)
            and (not self.indicators or situation.indicator in self.indicators)
        )

    @property
    def conditional(self) -> bool:
        return bool(self.when or self.unless or self.hooks or self.indicators)

    def flags(self) -> set[str]:
        return {*self.when, *self.unless}

    def describe(self) -> str:
        """The conditions in words, for the documentation page."""
        parts = [f"flag `{flag}`" for flag in self.when]
        parts += [f"not flag `{flag}`" for flag in self.unless]
        if self.hooks:
            parts.append("at " + " or ".join(self.hooks))
        if self.indicators:
            parts.append("when " + " or ".join(self.indicators))
        return ", ".join(parts) or "always"


class SummaryVariant(Shown):
    text: str = Field(min_length=1)


class DetailBlock(Shown):
    """A paragraph of the detail.

    `action`: it states the recommendation; a card's first paragraph must be one,
    in every situation. `section = "basis"`: it belongs to "Why this card" (a
    computation behind the card, such as a creatinine clearance estimate), shown
    after the patient data used.
    """

    text: str = Field(min_length=1)
    action: bool = False
    section: Literal["body", "basis"] = "body"

    @model_validator(mode="after")
    def _action_in_body(self) -> DetailBlock:
        if self.action and self.section == "basis":
            raise ValueError("an `action` paragraph belongs to the body, not the basis")
        return self


class ActionTemplate(_Content):
    """One action of a suggestion.

    create: a new draft from `order`, with `set` fields overriding the template.
    update: the target order, complete, with `remove`d fields dropped, `copy`
    fields taken from `order` and `set` fields set; `order` also names the
    resource type the target must have. delete: the target, by `resourceId`.
    """

    type: Literal["create", "update", "delete"]
    description: str = Field(min_length=1)
    order: str | None = None
    set_fields: dict[str, Any] = Field(default_factory=dict, alias="set")
    copy_fields: tuple[str, ...] = Field(default=(), alias="copy")
    remove: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _shape(self) -> ActionTemplate:
        changes = bool(self.set_fields or self.copy_fields or self.remove)
        if self.type == "delete" and (self.order or changes):
            raise ValueError("a delete action removes its target: no order, set, copy or remove")
        if self.type != "delete" and self.order is None:
            raise ValueError(f"a {self.type} action needs an order template")
        if self.type == "create" and (self.copy_fields or self.remove):
            raise ValueError("a create action only sets fields on its order template")
        if self.type == "update" and not (self.set_fields or self.copy_fields):
            raise ValueError("an update action must set or copy at least one field")
        owned = RENDERER_FIELDS & {*self.set_fields, *self.copy_fields, *self.remove}
        if owned:
            raise ValueError(f"fields {sorted(owned)} are filled in by the renderer")
        return self

    @property
    def order_id(self) -> str:
        """The order template of a create or update action (required at load)."""
        if self.order is None:
            raise ValueError(f"a {self.type} action has no order template")
        return self.order


class SuggestionTemplate(_Content):
    id: str = Field(pattern=_NAME)
    label: str = Field(min_length=1)
    recommended: bool = False
    actions: tuple[ActionTemplate, ...] = Field(min_length=1)


class OverrideReason(Shown):
    """A card's own override reason, offered when its conditions hold (none: always)."""

    code: str = Field(pattern=_NAME)
    display: str = Field(min_length=1)


class CardTemplate(_Content):
    """One card's wording. The rules decide whether it shows and its indicator."""

    topic: str = Field(pattern=_NAME)
    display: str = Field(min_length=1)
    hooks: tuple[Hook, ...] = Field(min_length=1)
    indicators: tuple[Indicator, ...] = Field(min_length=1)
    snoozable: bool = False
    """Overriding the card hides its topic for the patient for a while (patient-view only,
    never at indicator critical); the card then says so."""
    source: str = Field(pattern=_NAME)
    basis: str = Field(min_length=1)
    indicator_policy: str = Field(min_length=1)
    rule: str = Field(min_length=1)
    summary: tuple[SummaryVariant, ...] = Field(min_length=1)
    facts: tuple[str, ...] = ()
    """Facts the texts use; each is described once in content.toml [facts]."""
    exclusive: tuple[tuple[str, ...], ...] = ()
    cite_when: dict[str, str] = Field(default_factory=dict)
    """Reference id → the flag without which the card does not cite it: a source behind
    the card's words for some patients only (the disc-herniation summary on first-line
    cards, behind them only when a spinal cause is possible)."""
    selection_behavior: Literal["any", "at-most-one"] | None = None
    detail: tuple[DetailBlock, ...] = Field(min_length=1)
    suggestions: tuple[SuggestionTemplate, ...] = ()
    override_reasons: tuple[OverrideReason, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> CardTemplate:
        self._check_conditions()
        self._check_suggestions()
        self._check_facts()
        for text in self.texts():
            if _RAW_HTML.search(text):
                raise ValueError(f"raw HTML is not allowed in card text: {text[:60]!r}")
            if resource_references(text):
                raise ValueError(f"resource ids are not allowed in card text: {text[:60]!r}")
        if "\n" in self.rule or _SENTENCE_BREAK.search(self.rule):
            raise ValueError(f"the rule is one plain sentence (v3 §1): {self.rule[:60]!r}")
        for variant in self.summary:
            if "\n" in variant.text or _SENTENCE_BREAK.search(variant.text):
                raise ValueError(f"a summary is one sentence on one line: {variant.text!r}")
            if variant.text.rstrip().endswith(ELLIPSES):
                raise ValueError(f"a summary never ends in an ellipsis: {variant.text!r}")
            if code_notation(variant.text):
                raise ValueError(f"a summary carries code notation {code_notation(variant.text)}")
        uncited = sorted(set(self.cite_when) - set(self.cited()))
        if uncited:
            raise ValueError(f"cite_when names references {uncited} that no text cites")
        _unique("override reason code", (reason.code for reason in self.override_reasons))
        if self.snoozable and self.hooks != ("patient-view",):
            raise ValueError("only patient-view cards can be snoozed, never order-select or -sign")
        return self

    def snoozes_at(self, indicator: str) -> bool:
        """Whether overriding this card at `indicator` snoozes its topic (never critical)."""
        return self.snoozable and indicator != "critical"

    def check_lengths(self, facts: Mapping[str, FactSpec]) -> None:
        """With every fact at its worst case: each summary variant under 140 characters;
        in every situation the action first and `info`/`warning` detail within the limit."""
        longest = {name: facts[name].worst_case() for name in self.facts}
        most_words = {name: facts[name].worst_case(words=True) for name in self.facts}
        for variant in self.summary:
            length = len(variant.text.format_map(longest))
            if length >= SUMMARY_LIMIT:
                raise ValueError(
                    f"summary is {length} characters with every fact at its max_length "
                    f"(limit {SUMMARY_LIMIT - 1}): {variant.text!r}"
                )
        for situation in self.situations():
            blocks = [block for block in self.blocks_for(situation) if block.section == "body"]
            where = f"flags {sorted(situation.flags)} at {situation.hook}, {situation.indicator}"
            if not blocks or not blocks[0].action:
                raise ValueError(f"with {where} the first paragraph must be an `action` one")
            if situation.indicator in WORD_LIMITED:
                words = sum(word_count(block.text.format_map(most_words)) for block in blocks)
                if words > DETAIL_WORD_LIMIT:
                    raise ValueError(
                        f"with {where} the detail has {words} words before 'Why this card' "
                        f"(limit {DETAIL_WORD_LIMIT}, facts at max_words)"
                    )

    def _check_conditions(self) -> None:
        if self.summary[-1].conditional:
            raise ValueError("the last summary variant must have no condition (the default)")
        for shown in (*self.summary, *self.detail, *self.override_reasons):
            if not set(shown.hooks) <= set(self.hooks):
                raise ValueError(f"hooks {shown.hooks} are not all among the card's {self.hooks}")
            if not set(shown.indicators) <= set(self.indicators):
                raise ValueError(
                    f"indicators {shown.indicators} are not all among {self.indicators}"
                )
        for group in self.exclusive:
            unknown = set(group) - self.flags()
            if len(group) < 2 or unknown:
                raise ValueError(f"exclusive group {group}: two or more of the card's flags")

    def _check_suggestions(self) -> None:
        if self.suggestions and self.selection_behavior is None:
            raise ValueError("selection_behavior is required when there are suggestions")
        if self.selection_behavior and not self.suggestions:
            raise ValueError("selection_behavior without suggestions")
        _unique("suggestion id", (suggestion.id for suggestion in self.suggestions))
        recommended = sum(suggestion.recommended for suggestion in self.suggestions)
        if self.selection_behavior == "at-most-one" and recommended > 1:
            raise ValueError("at most one suggestion may be recommended under at-most-one")
        for suggestion in self.suggestions:
            fixed = [suggestion.label, *(action.description for action in suggestion.actions)]
            if any(placeholders(text) for text in fixed):
                raise ValueError(f"suggestion {suggestion.id}: labels and descriptions are fixed")

    def _check_facts(self) -> None:
        _unique("fact", self.facts)
        used: set[str] = set()
        for text in self.texts():
            names = placeholders(text)
            missing = [name for name in names if name not in self.facts]
            if missing:
                raise ValueError(
                    f"placeholders {missing} are not declared in `facts`: {text[:60]!r}"
                )
            used.update(names)
        unused = set(self.facts) - used
        if unused:
            raise ValueError(f"declared facts are not used: {sorted(unused)}")

    def texts(self) -> list[str]:
        """Every text of the card that can carry placeholders or citations."""
        return [self.rule, *(v.text for v in self.summary), *(b.text for b in self.detail)]

    def situations(self) -> Iterator[Situation]:
        """Every combination of flags (at most one of each exclusive group), hook and indicator."""
        flags = sorted(self.flags())
        for size in range(len(flags) + 1):
            for combination in itertools.combinations(flags, size):
                chosen = frozenset(combination)
                if any(len(chosen & set(group)) > 1 for group in self.exclusive):
                    continue
                for hook in self.hooks:
                    for indicator in self.indicators:
                        yield Situation(chosen, hook, indicator)

    def summary_for(self, situation: Situation) -> SummaryVariant:
        """The first summary variant whose conditions hold (the last one always does)."""
        return next(variant for variant in self.summary if variant.applies(situation))

    def blocks_for(self, situation: Situation) -> tuple[DetailBlock, ...]:
        """The detail paragraphs shown in this situation, in template order."""
        return tuple(block for block in self.detail if block.applies(situation))

    def exclusive_violations(self, flags: Iterable[str]) -> list[tuple[str, ...]]:
        active = set(flags)
        return [group for group in self.exclusive if len(active & set(group)) > 1]

    def suggestion(self, suggestion_id: str) -> SuggestionTemplate | None:
        return next((s for s in self.suggestions if s.id == suggestion_id), None)

    def flags(self) -> set[str]:
        shown = (*self.summary, *self.detail, *self.override_reasons)
        return set().union(*(item.flags() for item in shown)) | set(self.cite_when.values())

    def citing(self, text: str, flags: Iterable[str]) -> str:
        """The text as shown with these flags: references of `cite_when` whose flag is not
        set are not cited."""
        active = set(flags)
        return only_citing(text, lambda ref: self.cite_when.get(ref, None) in active | {None})

    def cited(self) -> list[str]:
        """Every reference any text of the card cites, in order of first citation."""
        return list(dict.fromkeys(ref for text in self.texts() for ref in citations(text)))

    def orders(self) -> set[str]:
        return {
            action.order
            for suggestion in self.suggestions
            for action in suggestion.actions
            if action.order is not None
        }


def _unique(what: str, values: Iterable[str]) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"duplicate {what} {value!r}")
        seen.add(value)


class OrderSource(_Content):
    """A row of the verified code table an order's codes come from."""

    row: str = Field(min_length=1)
    display: str = Field(min_length=1)
    confidence: Literal["V", "V-ICD", "B", "U"]
    system: str | None = None
    code: str | None = None
    note: str | None = None


class OrderTemplate(_Content):
    """A FHIR R4 request body without the patient-specific fields."""

    title: str = Field(min_length=1)
    sources: tuple[OrderSource, ...] = Field(min_length=1)
    gap: str | None = None
    resource: JsonObject

    @model_validator(mode="after")
    def _check(self) -> OrderTemplate:
        if self.resource.get("resourceType") not in ORDERABLE_TYPES:
            raise ValueError(f"resourceType must be one of {sorted(ORDERABLE_TYPES)}")
        owned = RENDERER_FIELDS & set(self.resource)
        if owned:
            raise ValueError(f"fields {sorted(owned)} are filled in by the renderer")
        if without_empty_values(self.resource) != self.resource:
            raise ValueError("null or empty values are not allowed in an order body")
        verified = {
            (source.system, source.code): source
            for source in self.sources
            if source.confidence in ("V", "V-ICD")
        }
        for coding in codings(self.resource):
            source = verified.get((coding.get("system"), coding.get("code")))
            if source is None:
                raise ValueError(f"coding {coding} has no source row of confidence V or V-ICD")
            if "display" in coding and coding["display"] != source.display:
                raise ValueError(f"coding display {coding['display']!r} differs from its source")
        check_fhir(self.resource)
        return self

    @property
    def resource_type(self) -> str:
        return str(self.resource["resourceType"])


def codings(value: object) -> Iterator[JsonObject]:
    """Every Coding in a FHIR JSON value (Quantities, which carry a `value`, excluded)."""
    if isinstance(value, dict):
        if "system" in value and "code" in value and "value" not in value:
            yield value
        for item in value.values():
            yield from codings(item)
    elif isinstance(value, list):
        for item in value:
            yield from codings(item)


def check_fhir(resource: JsonObject) -> None:
    """Parse an order body with the R4B models, as a draft for an example patient."""
    probe = copy.deepcopy(resource)
    probe.setdefault("status", "draft")
    probe.setdefault("subject", {"reference": "Patient/example"})
    try:
        get_fhir_model_class(probe["resourceType"]).model_validate(probe)
    except ValidationError as error:
        raise ValueError(f"not a valid R4 {probe['resourceType']}: {error}") from None


class SourceVariant(Shown):
    """A source label shown in place of the default when its conditions hold."""

    label: str = Field(min_length=1)


class SourceLabel(_Content):
    """What a card draws on (`source.label`): `label`, or the first of `variants` that
    applies (the EU dalfampridine label where the site follows it)."""

    label: str = Field(min_length=1)
    variants: tuple[SourceVariant, ...] = ()

    @model_validator(mode="after")
    def _not_a_guideline(self) -> SourceLabel:
        if any("clinical practice guideline" in label.lower() for label in self.labels()):
            raise ValueError("source.label must not call the source a clinical practice guideline")
        return self

    def labels(self) -> list[str]:
        return [self.label, *(variant.label for variant in self.variants)]

    def label_for(self, situation: Situation) -> str:
        return next((v.label for v in self.variants if v.applies(situation)), self.label)


class LinkLabel(_Content):
    """The card's one link: its label and the anchor of its topic on the documentation page."""

    label: str = Field(min_length=1)
    anchor: str = Field(pattern=r"^[a-z-]*\{topic\}[a-z-]*$")

    def anchor_for(self, topic: str) -> str:
        return self.anchor.format(topic=topic)


class WhyLabels(_Content):
    """Headings of the "Why this card" section."""

    heading: str
    data_used: str
    no_data: str
    missing: str
    rule: str
    evidence: str
    version: str


class Reference(_Content):
    """A reference cited by id. `url`: its stable link; none when the clinical logic names
    a source without giving one (no link is invented; the docs list it as a limitation)."""

    title: str = Field(min_length=1)
    citation: str = Field(min_length=1)
    url: str | None = Field(default=None, pattern=r"^https://\S+$")

    @property
    def linked_title(self) -> str:
        """The title as Markdown: a link when there is one."""
        return f"[{self.title}]({self.url})" if self.url else self.title


class OfferedReasons(_Content):
    offered: tuple[str, ...] = Field(min_length=1)
    """Standard override reasons (codes of override_reasons.toml) offered on every card."""


class UnitDisplay(_Content):
    """How a value with this unit reads: `{value}` is the number; `one` for a value of 1."""

    text: str = Field(pattern=r"\{value\}")
    one: str | None = Field(default=None, pattern=r"\{value\}")

    def show(self, value: str) -> str:
        single = self.one is not None and value in ("1", "1.0")
        return (self.one if single and self.one else self.text).format(value=value)


class SummaryWording(_Content):
    """How a summary fact too long for the summary reads (`FactSpec`)."""

    more: str = Field(min_length=1)
    """After the items kept: how many were left out, as `{n}`."""
    brief: str = Field(min_length=1)
    """In place of a fact of which not even one item fits, unless the fact has its own."""

    @model_validator(mode="after")
    def _more_names_the_count(self) -> SummaryWording:
        if placeholders(self.more) != ["n"] or placeholders(self.brief):
            raise ValueError("`more` names the count once, as {n}; `brief` has no placeholder")
        return self


class Content(_Content):
    version: str = Field(min_length=1)
    date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    status: str = Field(min_length=1)
    topic_system: str = Field(min_length=1)
    override_reason_system: str = Field(min_length=1)
    disclaimer: str = Field(min_length=1)
    snooze: str = Field(min_length=1)
    override_reasons: OfferedReasons
    sources: dict[str, SourceLabel]
    link: LinkLabel
    why: WhyLabels
    units: dict[str, UnitDisplay]
    summary: SummaryWording
    facts: dict[str, FactSpec]
    notes: dict[str, str]
    flags: dict[str, str]
    references: dict[str, Reference]

    @model_validator(mode="after")
    def _snooze_names_the_days(self) -> Content:
        if placeholders(self.snooze) != ["days"]:
            raise ValueError("snooze must name the number of days once, as {days}")
        return self

    @model_validator(mode="after")
    def _briefs_fit(self) -> Content:
        for name, spec in self.facts.items():
            if spec.brief is None and len(self.summary.brief) > spec.max_length:
                raise ValueError(f"facts.{name}: [summary] brief is longer than its max_length")
        return self

    def brief(self, fact: str) -> str:
        """What a summary says in place of `fact` when not even one of its items fits."""
        return self.facts[fact].brief or self.summary.brief

    @model_validator(mode="after")
    def _source_flags_described(self) -> Content:
        for key, source in self.sources.items():
            unknown = sorted(set().union(*(v.flags() for v in source.variants)) - set(self.flags))
            if unknown:
                raise ValueError(f"sources.{key}: flags {unknown} are not described in [flags]")
        return self

    @property
    def version_line(self) -> str:
        return self.why.version.format(version=self.version, date=self.date, status=self.status)


class Units:
    """The one unit-display table (`content.toml` [units]) applied to every value shown.

    A number followed by a unit of the table reads as the table says ("4 {score}"
    → "MRC grade 4"); a UCUM annotation the table does not know loses its braces,
    so none reaches a reader.
    """

    def __init__(self, table: Mapping[str, UnitDisplay]) -> None:
        self.table = table
        codes = "|".join(re.escape(code) for code in sorted(table, key=len, reverse=True))
        self._pattern = re.compile(
            rf"(?<![\w.])(?P<value>[-+]?\d+(?:\.\d+)?)\s*(?P<unit>{codes})(?![\w/{{\[])"
        )

    def humanise(self, text: str) -> str:
        if self.table:
            text = self._pattern.sub(
                lambda m: self.table[m.group("unit")].show(m.group("value")), text
            )
        return UCUM_ANNOTATION.sub(lambda m: m.group(0)[1:-1].replace("_", " "), text)


@dataclass(frozen=True)
class Wording:
    """What a card shows in one situation before the patient's facts are filled in.

    It depends on the content only, so the catalogue works it out once for every
    situation a card can be shown in (`CardTemplate.situations`), and a hook call
    only looks it up: the texts as cited in that situation, the facts they need and
    the references they cite.
    """

    summary: str
    """The summary variant shown (citations are never in a summary)."""
    summary_facts: tuple[str, ...]
    facts: tuple[str, ...]
    """Every fact the summary, rule and paragraphs need, each once, in order of first use."""
    body: tuple[str, ...]
    """The paragraphs before "Why this card", as cited here."""
    basis: tuple[str, ...]
    """The paragraphs of "Why this card" (`section = "basis"`), as cited here."""
    rule: str
    cited: tuple[str, ...]
    """Reference ids the shown paragraphs and rule cite, each once, in order of first citation."""
    override_reasons: tuple[tuple[str, str, str], ...]
    """(system, code, display): the card's own reasons that apply here, then the standard."""


@dataclass(frozen=True)
class TemplateWordings:
    """A card template's `Wording` in each situation, and its suggestions by id."""

    template: CardTemplate
    flags: frozenset[str]
    """The flags any of its wording depends on; other flags of a request change nothing."""
    by_situation: Mapping[Situation, Wording]
    suggestions: Mapping[str, SuggestionTemplate]

    def wording(self, situation: Situation) -> Wording:
        """The wording in a situation the template declares (its hook, indicator and flags
        at most one of each exclusive group, which the renderer checks first)."""
        own = Situation(situation.flags & self.flags, situation.hook, situation.indicator)
        return self.by_situation[own]


@dataclass(frozen=True)
class CardCatalogue:
    """Every card template and order template, checked against each other."""

    directory: Path
    content: Content
    reasons: ReasonVocabulary
    templates: Mapping[str, CardTemplate]
    orders: Mapping[str, OrderTemplate]
    units: Units
    stops: StopReasons
    """Why a topic did not fire, per stopping condition (the rule trace, the docs)."""
    wordings: Mapping[str, TemplateWordings] = field(init=False, repr=False, compare=False)
    """Each template's wording per situation, worked out whenever a catalogue is built (a
    copy with other templates included) so that rendering only fills in facts."""

    def __post_init__(self) -> None:
        wordings = {topic: self._wordings(t) for topic, t in self.templates.items()}
        object.__setattr__(self, "wordings", wordings)

    def _wordings(self, template: CardTemplate) -> TemplateWordings:
        return TemplateWordings(
            template=template,
            flags=frozenset(template.flags()),
            by_situation={s: self._wording(template, s) for s in template.situations()},
            suggestions={suggestion.id: suggestion for suggestion in template.suggestions},
        )

    def _wording(self, template: CardTemplate, situation: Situation) -> Wording:
        variant = template.summary_for(situation)
        blocks = template.blocks_for(situation)
        texts = [variant.text, template.rule, *(block.text for block in blocks)]

        def cited(text: str) -> str:
            return template.citing(text, situation.flags)

        rule = cited(template.rule)
        shown = [*(cited(block.text) for block in blocks), rule]
        return Wording(
            summary=variant.text,
            summary_facts=tuple(placeholders(variant.text)),
            facts=tuple(dict.fromkeys(name for text in texts for name in placeholders(text))),
            body=tuple(cited(block.text) for block in blocks if block.section == "body"),
            basis=tuple(cited(block.text) for block in blocks if block.section == "basis"),
            rule=rule,
            cited=tuple(dict.fromkeys(ref for text in shown for ref in citations(text))),
            override_reasons=tuple(self.override_reasons(template, situation)),
        )

    @classmethod
    def load(cls, directory: Path | None = None) -> CardCatalogue:
        """Load and check all content; raises `ContentError` naming the bad file."""
        root = directory or Path(__file__).parent
        content = read_toml(root / "content.toml", Content)
        orders: dict[str, OrderTemplate] = {}
        for path in _files(root / "orders", "*.json"):
            with _in_file(path):
                orders[path.stem] = OrderTemplate.model_validate(json.loads(path.read_text()))
        templates: dict[str, CardTemplate] = {}
        for path in _files(root / "templates", "*.toml"):
            template = read_toml(path, CardTemplate)
            with _in_file(path):
                _check_links(path, template, content, orders)
                templates[template.topic] = template
        used = set().union(*(template.orders() for template in templates.values()))
        unused = sorted(set(orders) - used)
        if unused:
            raise ContentError(f"{root / 'orders' / unused[0]}.json: no template suggests it")
        reasons_path = root / "override_reasons.toml"
        reasons = read_toml(reasons_path, ReasonVocabulary)
        with _in_file(reasons_path):
            _check_reasons(reasons, content, templates)
        return cls(
            directory=root,
            content=content,
            reasons=reasons,
            templates=templates,
            orders=orders,
            units=Units(content.units),
            stops=_stops(root / "stop_reasons.toml", templates),
        )

    def override_reasons(
        self, template: CardTemplate, situation: Situation | None = None
    ) -> list[tuple[str, str, str]]:
        """(system, code, display) of a card's override reasons: its own (those that apply
        in `situation`; all without one), then the standard."""
        own = [
            (self.content.override_reason_system, reason.code, reason.display)
            for reason in template.override_reasons
            if situation is None or reason.applies(situation)
        ]
        standard = [
            (self.reasons.standard_system, code, self.reasons.standard[code].display)
            for code in self.content.override_reasons.offered
        ]
        return own + standard

    def reason_meaning(self, system: str, code: str) -> ReasonMeaning | None:
        """What an override reason a client reported stands for (None: not one we know)."""
        displays: dict[str, str] = {}
        for template in self.templates.values():
            for reason in template.override_reasons:
                displays.setdefault(reason.code, reason.display)
        return self.reasons.meaning(system, code, self.content.override_reason_system, displays)


def _check_reasons(
    reasons: ReasonVocabulary, content: Content, templates: Mapping[str, CardTemplate]
) -> None:
    """Offered codes exist; each of our codes is mapped, and offered unless it is retired."""
    unknown = [code for code in content.override_reasons.offered if code not in reasons.standard]
    if unknown:
        raise ValueError(f"content.toml offers {unknown}, which are not standard codes")
    offered = {reason.code for t in templates.values() for reason in t.override_reasons}
    for code in sorted(offered - set(reasons.local)):
        raise ValueError(f"our override reason {code!r} has no mapping to a standard code")
    for code, local in reasons.local.items():
        if local.display is None and code not in offered:
            raise ValueError(f"local.{code}: no template offers it; retire it with a display")
        if local.display is not None and code in offered:
            raise ValueError(f"local.{code}: retired, yet a template offers it")


def _check_links(
    path: Path, template: CardTemplate, content: Content, orders: Mapping[str, OrderTemplate]
) -> None:
    """Checks across files: names match, and every order, reference, flag and source exists."""
    if template.topic != path.stem:
        raise ValueError(f"topic {template.topic!r} differs from the file name")
    if template.source not in content.sources:
        raise ValueError(f"source {template.source!r} is not in content.toml [sources]")
    unknown_facts = sorted(set(template.facts) - set(content.facts))
    if unknown_facts:
        raise ValueError(f"facts {unknown_facts} are not described in content.toml [facts]")
    template.check_lengths(content.facts)
    for text in template.texts():
        unknown_refs = [ref for ref in citations(text) if ref not in content.references]
        if unknown_refs:
            raise ValueError(f"cites {unknown_refs}, not in content.toml: {text[:60]!r}")
    unknown_flags = sorted(template.flags() - set(content.flags))
    if unknown_flags:
        raise ValueError(f"flags {unknown_flags} are not described in content.toml")
    for suggestion in template.suggestions:
        for action in suggestion.actions:
            if action.order is None:
                continue
            order = orders.get(action.order)
            if order is None:
                raise ValueError(f"suggestion {suggestion.id}: no order template {action.order!r}")
            missing = [name for name in action.copy_fields if name not in order.resource]
            if missing:
                raise ValueError(f"suggestion {suggestion.id}: {action.order} lacks {missing}")
            probe = {k: v for k, v in order.resource.items() if k not in action.remove}
            probe.update(action.set_fields)
            try:
                check_fhir(probe)
            except ValueError as error:
                raise ValueError(f"suggestion {suggestion.id}: {error}") from None


def _files(directory: Path, pattern: str) -> list[Path]:
    paths = sorted(directory.glob(pattern))
    if not paths:
        raise ContentError(f"{directory}: no {pattern} files")
    return paths


def _stops(path: Path, templates: Mapping[str, CardTemplate]) -> StopReasons:
    """The stopping conditions; each topic a condition names must be a card's."""
    stops = read_toml(path, StopReasons)
    with _in_file(path):
        for code, stop in stops.root.items():
            unknown = sorted(set(stop.topics) - set(templates))
            if unknown:
                raise ValueError(f"{code}: no card topic {unknown[0]!r}")
    return stops


def read_toml(path: Path, model: type[_Model]) -> _Model:
    """Read one TOML content file into its model; errors name the file."""
    with _in_file(path), path.open("rb") as handle:
        return model.model_validate(tomllib.load(handle))


@contextmanager
def _in_file(path: Path) -> Iterator[None]:
    """Re-raise any content problem as a `ContentError` that names the file."""
    try:
        yield
    except (ValidationError, ValueError, OSError, tomllib.TOMLDecodeError) as error:
        raise ContentError(f"{path}: {error}") from error
