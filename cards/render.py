"""Recommendations in, CDS Hooks cards out.

The rules decide (`Recommendation`); the catalogue words (`CardTemplate`); this
module joins the two for one patient, one hook and one request. It owns what
varies per request: fresh uuids, the summary variant and paragraphs for the
card's flags, hook and indicator, the patient's facts in the text, complete FHIR
drafts for this patient, and the "Why this card" section that lets the
clinician review the basis of every card. It never emits a broken action: a
suggestion whose target order is missing is left out.

Text a clinician reads never carries a resource id: records are shown by their
display, date and value, their `Type/id` travels in the card's basis extension,
and a fact that names a cited record's `Type/id` loses it. Every value passes
through the one unit-display table. A summary that would be too long keeps whole
items of its longest facts and says how many it left out ("… and 2 more"): it is
never cut mid-word and never ends in an ellipsis.

When the deployment snoozes (`snooze_days`), a card whose template is snoozable
and whose indicator is not critical says in "Why this card", just before the
content version, that overriding it hides the topic for this patient for that
many days (there, not among the paragraphs before it, which keep to the word
limit).

A mismatch between rules and content (an unknown topic, suggestion or note, a
declared fact the rules did not give, an indicator or hook the template does
not declare) is a programming error and raises `RenderError`; tests catch it
before release.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC
from functools import cache, lru_cache
from uuid import UUID

from cards.catalogue import (
    ActionTemplate,
    CardCatalogue,
    CardTemplate,
    Content,
    Situation,
    TemplateWordings,
    Wording,
    plain_name,
)
from cards.inputs import (
    FACT_ITEM_SEPARATOR,
    CardRequest,
    ChosenSuggestion,
    CitedRecord,
    OrderContext,
)
from cards.model import (
    BASIS_EXTENSION,
    RESOURCE_REFERENCE,
    SUMMARY_LIMIT,
    Action,
    Card,
    Coding,
    Link,
    Source,
    Suggestion,
)
from mappings.fhirjson import JsonObject, copied

#: Users who may be the requester of an order (CDS Hooks userId is `Type/id`).
_REQUESTER_TYPES = frozenset({"Practitioner", "PractitionerRole"})
#: Characters that would change the meaning of patient text inside Markdown.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|~#])")


class RenderError(RuntimeError):
    """The rules asked for something the card content does not define."""


def render(
    recommendations: Sequence[CardRequest],
    data: OrderContext,
    catalogue: CardCatalogue,
    *,
    hook: str,
    docs_url: str,
    snooze_days: int | None = None,
) -> list[Card]:
    """Word each recommendation as a card, in the order the rules gave them.

    `docs_url` is the absolute URL of the documentation page: the card's
    `source.url`, and with the topic's anchor its one link. `snooze_days`: the
    deployment snoozes overridden topics for that many days (None: it does not).
    """
    uuids = _fresh_uuids(sum(1 + len(rec.suggestions) for rec in recommendations))
    return [
        _card(rec, data, catalogue, hook, docs_url, snooze_days, uuids) for rec in recommendations
    ]


def _fresh_uuids(count: int) -> Iterator[str]:
    """`count` random (version 4) uuids, one per card and suggestion, from one read of the
    system's random source: `uuid4` reads it once per uuid, a system call each."""
    random = os.urandom(16 * count)
    return (str(UUID(bytes=random[i : i + 16], version=4)) for i in range(0, len(random), 16))


def _card(
    rec: CardRequest,
    data: OrderContext,
    catalogue: CardCatalogue,
    hook: str,
    docs_url: str,
    snooze_days: int | None,
    uuids: Iterator[str],
) -> Card:
    wordings = catalogue.wordings.get(rec.topic)
    if wordings is None:
        raise RenderError(f"no card template for topic {rec.topic!r}")
    template = wordings.template
    situation = _situation(template, rec, hook)
    wording = wordings.wording(situation)
    content = catalogue.content
    basis = _basis(rec)
    facts = _facts(template, wording.facts, rec, basis, catalogue)
    reasons = [_coding(*reason) for reason in wording.override_reasons]
    suggestions = _suggestions(wordings, rec, data, catalogue, uuids)
    topic = _coding(content.topic_system, template.topic, template.display)
    return Card(
        uuid=next(uuids),
        summary=_summary(wording, facts, content),
        detail=_detail(template, wording, rec, facts, catalogue, snooze_days),
        indicator=rec.indicator,
        source=_source(content.sources[template.source].label_for(situation), docs_url, topic),
        suggestions=suggestions or None,
        selectionBehavior=template.selection_behavior if suggestions else None,
        overrideReasons=reasons or None,
        links=[_link(content.link.label, f"{docs_url}#{content.link.anchor_for(template.topic)}")],
        extension={BASIS_EXTENSION: basis} if basis else None,
    )


# A card's source, topic, override reasons and link come from the content and the
# deployment's documentation URL only: one immutable object each, shared by every card.
@cache
def _coding(system: str, code: str, display: str) -> Coding:
    return Coding(system=system, code=code, display=display)


@lru_cache(maxsize=1024)
def _source(label: str, url: str, topic: Coding) -> Source:
    return Source(label=label, url=url, topic=topic)


@lru_cache(maxsize=1024)
def _link(label: str, url: str) -> Link:
    return Link(label=label, url=url)


def _situation(template: CardTemplate, rec: CardRequest, hook: str) -> Situation:
    """The card's flags, hook and indicator, which the template must declare."""
    if hook not in template.hooks:
        raise RenderError(f"card {template.topic!r} is not worded for the {hook} hook")
    if rec.indicator not in template.indicators:
        raise RenderError(f"card {template.topic!r} is not worded as {rec.indicator!r}")
    clashes = template.exclusive_violations(rec.flags)
    if clashes:
        raise RenderError(f"card {template.topic!r}: flags {clashes} exclude each other")
    return Situation(frozenset(rec.flags), hook, rec.indicator)


def _facts(
    template: CardTemplate,
    needed: Sequence[str],
    rec: CardRequest,
    basis: Sequence[str],
    catalogue: CardCatalogue,
) -> dict[str, str]:
    """The facts the shown texts need (`Wording.facts`), as a clinician reads them.

    Whitespace is normalised, units read as the unit table says, and the
    `Type/id` of any record or order of this card, SNOMED CT semantic tags and code
    notation in names are taken out (`plain_name`).
    """
    missing = [name for name in needed if not rec.facts.get(name, "").strip()]
    if missing:
        raise RenderError(f"card {template.topic!r} needs facts {missing} that the rules omitted")
    references = _references(rec, basis)
    return {
        name: catalogue.units.humanise(plain_name(_without_references(rec.facts[name], references)))
        for name in needed
    }


def _references(rec: CardRequest, basis: Sequence[str]) -> list[str]:
    """`Type/id` of every record and order this card names: its `basis` and its targets."""
    targets = [chosen.target for chosen in rec.suggestions if chosen.target]
    return _valid_references([*basis, *targets])


def _without_references(text: str, references: Sequence[str]) -> str:
    """The text without these references: "X (Condition/c1, 2026-01-02)" → "X (2026-01-02)"."""
    for ref in references:
        if ref not in text:
            continue  # each pattern below matches the reference itself
        quoted = re.escape(ref)
        text = re.sub(rf"\s*\(\s*{quoted}\s*\)", "", text)
        text = re.sub(rf"\(\s*{quoted}\s*[,;]\s*", "(", text)
        text = re.sub(rf"[,;]?\s*{quoted}(?![\w\-.])", "", text)
    return " ".join(text.split())


def _summary(wording: Wording, facts: Mapping[str, str], content: Content) -> str:
    """Fill the summary; if it would be too long, facts over their declared length keep
    their leading whole items and say how many they left out (`fitted`).

    The catalogue checked that the summary fits with every fact at its
    `max_length`, so a summary fitted this way always fits; it is never cut
    mid-word and never ends in an ellipsis. The detail keeps the facts whole.
    """
    text = wording.summary
    values = {name: facts[name] for name in wording.summary_facts}
    if len(text.format_map(values)) >= SUMMARY_LIMIT:
        values = {name: fitted(value, name, content) for name, value in values.items()}
    return sentence_start(text.format_map(values))


def fitted(value: str, fact: str, content: Content) -> str:
    """`value` within its fact's `max_length`: whole leading items and "and N more", or,
    when not even the first item fits, the fact's brief wording."""
    limit = content.facts[fact].max_length
    if len(value) <= limit:
        return value
    items = [item.strip() for item in value.split(FACT_ITEM_SEPARATOR) if item.strip()]
    for kept in range(len(items) - 1, 0, -1):
        more = content.summary.more.format(n=len(items) - kept)
        candidate = f"{FACT_ITEM_SEPARATOR.join(items[:kept])} {more}"
        if len(candidate) <= limit:
            return candidate
    return content.brief(fact)


def sentence_start(text: str) -> str:
    """A capital first letter ("left foot drop …" → "Left foot drop …"), except for words
    written with a capital inside ("eGFR")."""
    if text[:1].islower() and not text[1:2].isupper():
        return text[0].upper() + text[1:]
    return text


def _detail(
    template: CardTemplate,
    wording: Wording,
    rec: CardRequest,
    facts: Mapping[str, str],
    catalogue: CardCatalogue,
    snooze_days: int | None,
) -> str:
    """The shown paragraphs, action first, then "Why this card" ending in the disclaimer."""
    escaped = {name: _markdown_text(value) for name, value in facts.items()}
    body = [text.format_map(escaped) for text in wording.body]
    basis = [text.format_map(escaped) for text in wording.basis]
    rule = wording.rule.format_map(escaped)
    snoozes = snooze_days is not None and template.snoozes_at(rec.indicator)
    snooze = [catalogue.content.snooze.format(days=snooze_days)] if snoozes else []
    why = _why(template, rec, basis, rule, wording.cited, snooze, catalogue)
    return "\n\n".join([*body, *why])


def _why(
    template: CardTemplate,
    rec: CardRequest,
    basis: Sequence[str],
    rule: str,
    cited: Sequence[str],
    snooze: Sequence[str],
    catalogue: CardCatalogue,
) -> list[str]:
    """The basis of the card, so the clinician can review it independently: the records
    used (each once), what the card computed from them, what is missing or assumed, the
    rule, the references its own sentences cite (`cited`: from the content, never from
    filled-in patient text, in which "[None]" is no reference), what overriding it does
    (`snooze`), the content version and the disclaimer."""
    content = catalogue.content
    why = content.why
    records = [f"- {_record_line(item, catalogue)}" for item in _each_once(rec.evidence)]
    parts = ["---", f"### {why.heading}", f"**{why.data_used}**", "\n".join(records) or why.no_data]
    parts += basis
    unknown = [note for note in rec.notes if note not in content.notes]
    if unknown:
        raise RenderError(f"card {template.topic!r}: no wording for notes {unknown}")
    if rec.notes:
        notes = dict.fromkeys(rec.notes)
        parts += [f"**{why.missing}**", "\n".join(f"- {content.notes[note]}" for note in notes)]
    parts.append(f"**{why.rule}** {rule}")
    if cited:
        lines = [
            f"- [{ref_id}] {ref.linked_title}, {ref.citation}"
            for ref_id, ref in ((ref_id, content.references[ref_id]) for ref_id in cited)
        ]
        parts += [f"**{why.evidence}**", "\n".join(lines)]
    parts += [*snooze, content.version_line, content.disclaimer]
    return parts


def _each_once(records: Iterable[CitedRecord]) -> list[CitedRecord]:
    """Each record once: the same `Type/id` (or, without an id, the same words) is one record."""
    seen: dict[tuple[str, ...], CitedRecord] = {}
    for item in records:
        reference = f"{item.resource_type}/{item.resource_id}"
        key = (
            (reference,)
            if RESOURCE_REFERENCE.match(reference)
            else (item.resource_type, item.display, item.date or "", item.value or "")
        )
        seen.setdefault(key, item)
    return list(seen.values())


def _record_line(item: CitedRecord, catalogue: CardCatalogue) -> str:
    """ "Display: value (date)", as the record says it, units as a clinician writes them; a
    record without a name by its kind ("Observation")."""
    line = _markdown_text(plain_name(item.display) or item.resource_type)
    if item.value:
        line += f": {_markdown_text(catalogue.units.humanise(item.value))}"
    if item.date:
        line += f" ({_markdown_text(item.date)})"
    return line


def _basis(rec: CardRequest) -> list[str]:
    """The records this card rests on, as `Type/id`, for the basis extension."""
    refs = [f"{item.resource_type}/{item.resource_id}" for item in rec.evidence]
    return _valid_references([*refs, *([rec.about_order] if rec.about_order else [])])


def _valid_references(refs: Iterable[str]) -> list[str]:
    """Each well-formed `Type/id` once (a record without an id has none)."""
    return [ref for ref in dict.fromkeys(refs) if RESOURCE_REFERENCE.match(ref)]


def _markdown_text(value: str) -> str:
    """Patient-derived text shown literally in Markdown (no emphasis, links or HTML)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(value.split()))


def _suggestions(
    wordings: TemplateWordings,
    rec: CardRequest,
    data: OrderContext,
    catalogue: CardCatalogue,
    uuids: Iterator[str],
) -> list[Suggestion]:
    """Suggestions the rules chose, each with all its actions, or left out.

    When the rules mark any suggestion recommended, their choice replaces the
    template's defaults.
    """
    template = wordings.template
    rules_choose = any(chosen.recommended for chosen in rec.suggestions)
    built: list[Suggestion] = []
    for chosen in rec.suggestions:
        suggestion = wordings.suggestions.get(chosen.suggestion_id)
        if suggestion is None:
            raise RenderError(f"card {template.topic!r} has no suggestion {chosen.suggestion_id!r}")
        actions = [
            _action(action, chosen, rec.about_order, data, catalogue)
            for action in suggestion.actions
        ]
        complete = [action for action in actions if action is not None]
        if len(complete) != len(actions):
            continue
        recommended = chosen.recommended if rules_choose else suggestion.recommended
        built.append(
            Suggestion(
                label=suggestion.label,
                uuid=next(uuids),
                isRecommended=True if recommended else None,
                actions=complete,
            )
        )
    recommended_count = sum(item.isRecommended is True for item in built)
    if template.selection_behavior == "at-most-one" and recommended_count > 1:
        raise RenderError(f"card {template.topic!r}: more than one recommended under at-most-one")
    return built


def _action(
    action: ActionTemplate,
    chosen: ChosenSuggestion,
    about_order: str | None,
    data: OrderContext,
    catalogue: CardCatalogue,
) -> Action | None:
    """One CDS Hooks action, or None when its target order is not in the request.

    Without a target of its own, an update or delete acts on the order the card is about.
    """
    if action.type == "create":
        resource = _new_order(catalogue.orders[action.order_id].resource, action.set_fields, data)
        return Action(type="create", description=action.description, resource=resource)
    reference = chosen.target or about_order
    target = _target(reference, data)
    if target is None:
        return None
    if action.type == "delete":
        return Action(type="delete", description=action.description, resourceId=reference)
    order = catalogue.orders[action.order_id]
    if target.get("resourceType") != order.resource_type:
        return None
    for name in action.remove:
        target.pop(name, None)
    for name in action.copy_fields:
        target[name] = copied(order.resource[name])
    target.update(copied(action.set_fields))
    return Action(type="update", description=action.description, resource=target)


def _new_order(template: JsonObject, set_fields: JsonObject, data: OrderContext) -> JsonObject:
    """A complete R4 draft for this patient, encounter, user and request time."""
    resource: JsonObject = {"resourceType": template["resourceType"], "status": "draft"}
    resource.update(copied(template))
    resource.update(copied(set_fields))
    resource["subject"] = {"reference": f"Patient/{data.patient_id}"}
    if data.encounter_id:
        resource["encounter"] = {"reference": f"Encounter/{data.encounter_id}"}
    if data.user_id and data.user_id.split("/", 1)[0] in _REQUESTER_TYPES:
        resource["requester"] = {"reference": data.user_id}
    now = data.now if data.now.tzinfo else data.now.replace(tzinfo=UTC)
    resource["authoredOn"] = now.isoformat(timespec="seconds")
    return resource


def _target(reference: str | None, data: OrderContext) -> JsonObject | None:
    """A copy of the complete order an update or delete acts on, if the request has it."""
    return data.order_json(reference) if reference else None
