"""Card content, loaded and checked once at start-up.

Clinical content lives in data files a clinician can review: one card template
per topic (`templates/<topic>.toml`), one FHIR order body per orderable item
(`orders/<id>.json`) and the shared wording, evidence and version
(`content.toml`). This module turns them into typed objects and refuses bad
content with a message naming the file, so that a wording or code mistake stops
the service at start-up instead of reaching a patient's chart.

    CardCatalogue.load()
      ├─ content.toml          -> Content (version, source label, notes, flags, references)
      ├─ override_reasons.toml -> ReasonVocabulary (HL7 standard codes, our codes mapped)
      ├─ orders/<id>.json      -> OrderTemplate   (body parses as R4 once filled in)
      └─ templates/<topic>.toml -> CardTemplate   (orders, references and flags it names exist)
"""

from __future__ import annotations

import copy
import json
import re
import string
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from fhir.resources.R4B import get_fhir_model_class
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cards.model import SUMMARY_LIMIT
from cards.reasons import ReasonMeaning, ReasonVocabulary
from mappings.fhirjson import JsonObject, without_empty_values

#: Characters reserved for each filled-in fact when a summary is checked at load;
#: the renderer shortens longer facts to fit (see `cards.render`).
SUMMARY_FACT_ROOM = 12
#: Fields of a created order that the renderer fills in for the patient and request.
RENDERER_FIELDS = frozenset({"id", "status", "subject", "encounter", "requester", "authoredOn"})
#: Resource types an order template may draft.
ORDERABLE_TYPES = frozenset({"ServiceRequest", "DeviceRequest", "MedicationRequest"})
HOOKS = Literal["patient-view", "order-select", "order-sign"]
_Model = TypeVar("_Model", bound=BaseModel)

_NAME = r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$"
_RAW_HTML = re.compile(r"<[A-Za-z/!?]")
_CITATION = re.compile(r"\[([^\[\]]+)\](?!\()")


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
    """Reference ids cited inline as `[4]` or `[1, 4]`."""
    return [ref.strip() for group in _CITATION.findall(text) for ref in group.split(",")]


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


class DetailBlock(_Content):
    """A paragraph of the detail; with `when`, shown only when the rules set that flag."""

    text: str = Field(min_length=1)
    when: str | None = None
    facts: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _facts_need_flag(self) -> DetailBlock:
        if self.facts and self.when is None:
            raise ValueError(
                "paragraph facts belong to a `when` paragraph; else declare them on top"
            )
        return self


class OverrideReason(_Content):
    code: str = Field(pattern=_NAME)
    display: str = Field(min_length=1)


class CardTemplate(_Content):
    """One card's wording. The rules decide whether it shows and its indicator."""

    topic: str = Field(pattern=_NAME)
    display: str = Field(min_length=1)
    hooks: tuple[HOOKS, ...] = Field(min_length=1)
    snoozable: bool = False
    """Overriding the card hides its topic for the patient for a while (patient-view only,
    never at indicator critical); the card then says so."""
    basis: str = Field(min_length=1)
    indicator_policy: str = Field(min_length=1)
    rule: str = Field(min_length=1)
    summary: str = Field(min_length=1)
    facts: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    selection_behavior: Literal["any", "at-most-one"] | None = None
    detail: tuple[DetailBlock, ...] = Field(min_length=1)
    suggestions: tuple[SuggestionTemplate, ...] = ()
    override_reasons: tuple[OverrideReason, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> CardTemplate:
        self._check_summary()
        self._check_suggestions()
        self._check_facts()
        texts = [self.summary, self.rule, *(block.text for block in self.detail)]
        for text in texts:
            if _RAW_HTML.search(text):
                raise ValueError(f"raw HTML is not allowed in card text: {text[:60]!r}")
            unknown = [ref for ref in citations(text) if ref not in self.references]
            if unknown:
                raise ValueError(f"cites {unknown} which are not in `references`: {text[:60]!r}")
        _unique("override reason code", (reason.code for reason in self.override_reasons))
        if self.snoozable and self.hooks != ("patient-view",):
            raise ValueError("only patient-view cards can be snoozed, never order-select or -sign")
        return self

    def snoozes_at(self, indicator: str) -> bool:
        """Whether overriding this card at `indicator` snoozes its topic (never critical)."""
        return self.snoozable and indicator != "critical"

    def _check_summary(self) -> None:
        summary = self.summary
        if "\n" in summary or not summary.endswith(".") or ". " in summary:
            raise ValueError(f"summary must be one sentence ending in a full stop: {summary!r}")
        budget = len(re.sub(r"\{\w+\}", "x" * SUMMARY_FACT_ROOM, summary))
        if budget >= SUMMARY_LIMIT:
            raise ValueError(
                f"summary is {budget} characters with {SUMMARY_FACT_ROOM} per fact "
                f"(limit {SUMMARY_LIMIT - 1}): {summary!r}"
            )

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
        declared = set(self.facts)
        used: set[str] = set()
        for text in (self.summary, self.rule):
            _declared(placeholders(text), declared, text)
            used.update(placeholders(text))
        for block in self.detail:
            names = placeholders(block.text)
            _declared(names, declared | set(block.facts), block.text)
            unused = set(block.facts) - set(names)
            if unused:
                raise ValueError(f"paragraph declares facts it does not use: {sorted(unused)}")
            used.update(names)
        if declared - used:
            raise ValueError(f"declared facts are not used: {sorted(declared - used)}")

    def blocks_for(self, flags: Iterable[str]) -> tuple[DetailBlock, ...]:
        """The detail paragraphs shown for these flags, in template order."""
        active = set(flags)
        return tuple(block for block in self.detail if block.when is None or block.when in active)

    def suggestion(self, suggestion_id: str) -> SuggestionTemplate | None:
        return next((s for s in self.suggestions if s.id == suggestion_id), None)

    def flags(self) -> set[str]:
        return {block.when for block in self.detail if block.when is not None}

    def orders(self) -> set[str]:
        return {
            action.order
            for suggestion in self.suggestions
            for action in suggestion.actions
            if action.order is not None
        }


def _declared(names: list[str], declared: set[str], text: str) -> None:
    missing = [name for name in names if name not in declared]
    if missing:
        raise ValueError(f"placeholders {missing} are not declared in `facts`: {text[:60]!r}")


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


class SourceLabel(_Content):
    label: str = Field(min_length=1)


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
    title: str = Field(min_length=1)
    citation: str = Field(min_length=1)
    url: str = Field(pattern=r"^https://\S+$")


class OfferedReasons(_Content):
    offered: tuple[str, ...] = Field(min_length=1)
    """Standard override reasons (codes of override_reasons.toml) offered on every card."""


class Content(_Content):
    version: str = Field(min_length=1)
    date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    status: str = Field(min_length=1)
    topic_system: str = Field(min_length=1)
    override_reason_system: str = Field(min_length=1)
    disclaimer: str = Field(min_length=1)
    snooze: str = Field(min_length=1)
    override_reasons: OfferedReasons
    source: SourceLabel
    why: WhyLabels
    notes: dict[str, str]
    flags: dict[str, str]
    references: dict[str, Reference]

    @model_validator(mode="after")
    def _label_is_not_a_guideline(self) -> Content:
        if "clinical practice guideline" in self.source.label.lower():
            raise ValueError("source.label must not call the source a clinical practice guideline")
        if placeholders(self.snooze) != ["days"]:
            raise ValueError("snooze must name the number of days once, as {days}")
        return self


@dataclass(frozen=True)
class CardCatalogue:
    """Every card template and order template, checked against each other."""

    directory: Path
    content: Content
    reasons: ReasonVocabulary
    templates: Mapping[str, CardTemplate]
    orders: Mapping[str, OrderTemplate]

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
            directory=root, content=content, reasons=reasons, templates=templates, orders=orders
        )

    def override_reasons(self, template: CardTemplate) -> list[tuple[str, str, str]]:
        """(system, code, display) of a card's override reasons: its own, then the standard."""
        own = [
            (self.content.override_reason_system, reason.code, reason.display)
            for reason in template.override_reasons
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
    """Checks across files: names match, and every order, reference and flag exists."""
    if template.topic != path.stem:
        raise ValueError(f"topic {template.topic!r} differs from the file name")
    unknown_refs = sorted(set(template.references) - set(content.references))
    if unknown_refs:
        raise ValueError(f"references {unknown_refs} are not in content.toml")
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
