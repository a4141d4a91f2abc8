"""Recommendations in, CDS Hooks cards out.

The rules decide (`Recommendation`); the catalogue words (`CardTemplate`); this
module joins the two for one patient and one request. It owns what varies per
request: fresh uuids, the patient's facts in the text, complete FHIR drafts for
this patient, and the "Why this card" section that lets the clinician review
the basis of every card. It never emits a broken action: a suggestion whose
target order is missing is left out.

When the deployment snoozes (`snooze_days`), a card whose template is snoozable
and whose indicator is not critical ends its text with the content's snooze
sentence: the clinician learns that overriding it hides the topic for this
patient for that many days.

A mismatch between rules and content (an unknown topic, suggestion or note, a
declared fact the rules did not give) is a programming error and raises
`RenderError`; tests catch it before release.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from datetime import UTC
from uuid import uuid4

from cards.catalogue import (
    SUMMARY_FACT_ROOM,
    ActionTemplate,
    CardCatalogue,
    CardTemplate,
    DetailBlock,
    placeholders,
)
from cards.inputs import CardRequest, ChosenSuggestion, OrderContext
from cards.model import SUMMARY_LIMIT, Action, Card, Coding, Link, Source, Suggestion
from mappings.fhirjson import JsonObject

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
    source_url: str,
    snooze_days: int | None = None,
) -> list[Card]:
    """Word each recommendation as a card, in the order the rules gave them."""
    return [_card(rec, data, catalogue, source_url, snooze_days) for rec in recommendations]


def _card(
    rec: CardRequest,
    data: OrderContext,
    catalogue: CardCatalogue,
    url: str,
    snooze_days: int | None,
) -> Card:
    template = catalogue.templates.get(rec.topic)
    if template is None:
        raise RenderError(f"no card template for topic {rec.topic!r}")
    content = catalogue.content
    blocks = template.blocks_for(rec.flags)
    facts = _facts(template, blocks, rec)
    suggestions = _suggestions(template, rec, data, catalogue)
    links = [
        Link(label=f"[{ref}] {content.references[ref].title}", url=content.references[ref].url)
        for ref in template.references
    ]
    reasons = [
        Coding(system=system, code=code, display=display)
        for system, code, display in catalogue.override_reasons(template)
    ]
    return Card(
        uuid=str(uuid4()),
        summary=_summary(template.summary, facts),
        detail=_detail(template, blocks, rec, facts, catalogue, snooze_days),
        indicator=rec.indicator,
        source=Source(
            label=content.source.label,
            url=url or None,
            topic=Coding(
                system=content.topic_system, code=template.topic, display=template.display
            ),
        ),
        suggestions=suggestions or None,
        selectionBehavior=template.selection_behavior if suggestions else None,
        overrideReasons=reasons or None,
        links=links or None,
    )


def _facts(
    template: CardTemplate, blocks: Sequence[DetailBlock], rec: CardRequest
) -> dict[str, str]:
    """The facts this card's text needs; a declared fact the rules left out is an error."""
    needed = [*template.facts, *(name for block in blocks for name in block.facts)]
    missing = [name for name in needed if not rec.facts.get(name, "").strip()]
    if missing:
        raise RenderError(f"card {template.topic!r} needs facts {missing} that the rules omitted")
    return {name: " ".join(rec.facts[name].split()) for name in needed}


def _summary(text: str, facts: Mapping[str, str]) -> str:
    """Fill the summary; shorten the longest facts with an ellipsis if it would be too long.

    The catalogue checked that the summary fits with `SUMMARY_FACT_ROOM` characters
    per fact, so shortening facts to that length always fits; the detail keeps them whole.
    """
    values = {name: facts[name] for name in placeholders(text)}
    for name in sorted(values, key=lambda key: len(values[key]), reverse=True):
        excess = len(text.format_map(values)) - (SUMMARY_LIMIT - 1)
        if excess <= 0:
            break
        keep = max(SUMMARY_FACT_ROOM - 1, len(values[name]) - excess - 1)
        values[name] = values[name][:keep].rstrip() + "…"
    return text.format_map(values)


def _detail(
    template: CardTemplate,
    blocks: Sequence[DetailBlock],
    rec: CardRequest,
    facts: Mapping[str, str],
    catalogue: CardCatalogue,
    snooze_days: int | None,
) -> str:
    """The template's paragraphs, the snooze sentence, then "Why this card"."""
    escaped = {name: _markdown_text(value) for name, value in facts.items()}
    paragraphs = [block.text.format_map(escaped) for block in blocks]
    if snooze_days is not None and template.snoozes_at(rec.indicator):
        paragraphs.append(catalogue.content.snooze.format(days=snooze_days))
    return "\n\n".join([*paragraphs, *_why(template, rec, escaped, catalogue)])


def _why(
    template: CardTemplate,
    rec: CardRequest,
    facts: Mapping[str, str],
    catalogue: CardCatalogue,
) -> list[str]:
    """The basis of the card, so the clinician can review it independently."""
    content = catalogue.content
    why = content.why
    evidence = [f"- {_markdown_text(item.describe())}" for item in rec.evidence]
    parts = ["---", f"### {why.heading}", why.data_used, "\n".join(evidence) or why.no_data]
    unknown = [note for note in rec.notes if note not in content.notes]
    if unknown:
        raise RenderError(f"card {template.topic!r}: no wording for notes {unknown}")
    if rec.notes:
        notes = dict.fromkeys(rec.notes)
        parts += [why.missing, "\n".join(f"- {content.notes[note]}" for note in notes)]
    parts.append(f"**{why.rule}** {template.rule.format_map(facts)}")
    if template.references:
        refs = [content.references[ref] for ref in template.references]
        cited = [
            f"- [{ref_id}] [{ref.title}]({ref.url}), {ref.citation}"
            for ref_id, ref in zip(template.references, refs, strict=True)
        ]
        parts += [why.evidence, "\n".join(cited)]
    parts.append(
        why.version.format(version=content.version, date=content.date, status=content.status)
    )
    parts.append(content.disclaimer)
    return parts


def _markdown_text(value: str) -> str:
    """Patient-derived text shown literally in Markdown (no emphasis, links or HTML)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(value.split()))


def _suggestions(
    template: CardTemplate, rec: CardRequest, data: OrderContext, catalogue: CardCatalogue
) -> list[Suggestion]:
    """Suggestions the rules chose, each with all its actions, or left out.

    When the rules mark any suggestion recommended, their choice replaces the
    template's defaults.
    """
    rules_choose = any(chosen.recommended for chosen in rec.suggestions)
    built: list[Suggestion] = []
    for chosen in rec.suggestions:
        suggestion = template.suggestion(chosen.suggestion_id)
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
                uuid=str(uuid4()),
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
        target[name] = copy.deepcopy(order.resource[name])
    target.update(copy.deepcopy(action.set_fields))
    return Action(type="update", description=action.description, resource=target)


def _new_order(template: JsonObject, set_fields: JsonObject, data: OrderContext) -> JsonObject:
    """A complete R4 draft for this patient, encounter, user and request time."""
    resource: JsonObject = {"resourceType": template["resourceType"], "status": "draft"}
    resource.update(copy.deepcopy(template))
    resource.update(copy.deepcopy(set_fields))
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
