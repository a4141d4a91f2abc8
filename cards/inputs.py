"""What the cards step consumes, declared here so that `cards` never imports `service`.

The rules hand over recommendations (topic, indicator, chosen suggestions, facts,
flags, notes and evidence); the pipeline hands over the request's order context
(patient, encounter, user, request time and the draft or recorded orders an
update or delete acts on). Any object with these attributes will do: the
service's own dataclasses satisfy these protocols structurally.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Literal, Protocol

from mappings.fhirjson import JsonObject

Indicator = Literal["info", "warning", "critical"]

#: Between the items of a fact that lists several (findings, contraindications): a
#: summary too long for all of them keeps the leading whole items and says how many
#: it left out ("… and 2 more"), never cutting an item.
FACT_ITEM_SEPARATOR = "; "


class CitedRecord(Protocol):
    """One record a card rests on.

    A clinician reads it in "Why this card" as its display, date and value; its
    `Type/id` goes only into the card's basis extension, never into text.
    """

    @property
    def resource_type(self) -> str: ...
    @property
    def resource_id(self) -> str: ...
    @property
    def display(self) -> str: ...
    @property
    def date(self) -> str | None: ...
    @property
    def value(self) -> str | None: ...


class ChosenSuggestion(Protocol):
    """A suggestion of the card template the rules chose, and the order it acts on."""

    @property
    def suggestion_id(self) -> str: ...
    @property
    def target(self) -> str | None: ...
    @property
    def recommended(self) -> bool: ...


class CardRequest(Protocol):
    """One card's worth of decision, before wording."""

    @property
    def topic(self) -> str: ...
    @property
    def indicator(self) -> Indicator: ...
    @property
    def suggestions(self) -> Sequence[ChosenSuggestion]: ...
    @property
    def evidence(self) -> Sequence[CitedRecord]: ...
    @property
    def facts(self) -> Mapping[str, str]:
        """Plain words for the templates' `{name}` placeholders; a fact listing several
        items joins them with `FACT_ITEM_SEPARATOR`, most important first."""
        ...

    @property
    def flags(self) -> frozenset[str]: ...
    @property
    def notes(self) -> Sequence[str]: ...
    @property
    def about_order(self) -> str | None: ...


class OrderContext(Protocol):
    """The request a card's suggestions are drafted for."""

    @property
    def patient_id(self) -> str: ...
    @property
    def encounter_id(self) -> str | None: ...
    @property
    def user_id(self) -> str | None: ...
    @property
    def now(self) -> datetime: ...
    def order_json(self, reference: str) -> JsonObject | None:
        """A copy of the complete order `Type/id` (a draft, or one already recorded)."""
        ...
