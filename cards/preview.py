"""Every card a template can produce, rendered by the real renderer without a patient.

For review and for tests: one synthetic request per situation (flags, hook,
indicator) of a template, with every fact at its documented example (or at
values the caller gives, such as the declared worst cases), every suggestion
that needs no existing order, and one sample record, so the whole card —
summary, detail, "Why this card", link and source — is what the service would
send.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cards.catalogue import CardCatalogue, CardTemplate, Situation
from cards.inputs import ChosenSuggestion, CitedRecord, Indicator
from cards.model import Card
from cards.render import render
from mappings.fhirjson import JsonObject

#: When synthetic drafts are written (a fixed time: previews never change with the date).
PREVIEW_TIME = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class SampleRecord:
    resource_type: str = "Condition"
    resource_id: str = "preview-foot-drop"
    display: str = "Foot drop, left foot"
    date: str | None = "2025-12-01"
    value: str | None = None


@dataclass(frozen=True)
class SampleSuggestion:
    suggestion_id: str
    target: str | None = None
    recommended: bool = False


@dataclass(frozen=True)
class PreviewRequest:
    """A `CardRequest` for one situation of one template."""

    topic: str
    indicator: Indicator
    suggestions: Sequence[ChosenSuggestion]
    facts: Mapping[str, str]
    flags: frozenset[str]
    evidence: Sequence[CitedRecord] = (SampleRecord(),)
    notes: Sequence[str] = ()
    about_order: str | None = None


@dataclass(frozen=True)
class NoPatient:
    """An `OrderContext` without drafts: updates and deletes have no target and are left out."""

    patient_id: str = "preview-patient"
    encounter_id: str | None = None
    user_id: str | None = None
    now: datetime = PREVIEW_TIME

    def order_json(self, reference: str) -> JsonObject | None:
        return None


@dataclass(frozen=True)
class Preview:
    situation: Situation
    card: Card


def previews(
    template: CardTemplate,
    catalogue: CardCatalogue,
    docs_url: str,
    *,
    facts: Mapping[str, str] | None = None,
    every_situation: bool = True,
) -> Iterator[Preview]:
    """The template's card in each situation (or, without `every_situation`, only in
    those without flags), with these facts or else the documented examples."""
    examples = {name: catalogue.content.facts[name].example for name in template.facts}
    values = facts if facts is not None else examples
    chosen = [
        SampleSuggestion(suggestion.id)
        for suggestion in template.suggestions
        if all(action.type == "create" for action in suggestion.actions)
    ]
    for situation in template.situations():
        if not every_situation and situation.flags:
            continue
        request = PreviewRequest(
            topic=template.topic,
            indicator=situation.indicator,
            suggestions=chosen,
            facts=values,
            flags=situation.flags,
        )
        [card] = render([request], NoPatient(), catalogue, hook=situation.hook, docs_url=docs_url)
        yield Preview(situation, card)
