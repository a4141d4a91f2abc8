"""The CDS Hooks 2.0 card objects this package produces (§3 of the spec).

Strict models, serialised without `None`: the spec forbids null and empty
values in a response (G-2). The card is the output of the cards step, so its
type lives here; the protocol layer wraps cards in its response.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: CDS Hooks: a summary is one sentence of fewer than 140 characters.
SUMMARY_LIMIT = 140
#: Card extension (CDS Hooks 2.0 `extension`, reverse-domain key) listing the records a
#: card rests on as `Type/id` references: for audit and analytics, never shown as text.
BASIS_EXTENSION = "org.footdrop-cds.basis"
#: Extensions a card may carry; anything else is refused, as any other unknown field is.
CARD_EXTENSIONS = frozenset({BASIS_EXTENSION})
RESOURCE_REFERENCE = re.compile(r"^[A-Za-z]+/[A-Za-z0-9\-.]{1,64}$")


class _Outbound(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Shared(_Outbound):
    """Immutable: the renderer hands the same one to every card that shows it."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Coding(_Shared):
    system: str
    code: str
    display: str | None = None


class Source(_Shared):
    label: str
    url: str | None = None
    topic: Coding | None = None


class Action(_Outbound):
    type: Literal["create", "update", "delete"]
    description: str
    resource: dict[str, Any] | None = None
    resourceId: str | None = None


class Suggestion(_Outbound):
    label: str
    uuid: str
    isRecommended: bool | None = None
    actions: list[Action] | None = None


class Link(_Shared):
    label: str
    url: str
    type: Literal["absolute", "smart"] = "absolute"


class Card(_Outbound):
    uuid: str
    summary: str = Field(max_length=SUMMARY_LIMIT - 1)
    detail: str | None = None
    indicator: Literal["info", "warning", "critical"]
    source: Source
    suggestions: list[Suggestion] | None = None
    selectionBehavior: Literal["at-most-one", "any"] | None = None
    overrideReasons: list[Coding] | None = None
    links: list[Link] | None = None
    extension: dict[str, list[str]] | None = None

    @model_validator(mode="after")
    def _selection_behavior_with_suggestions(self) -> Card:
        if self.suggestions and self.selectionBehavior is None:
            raise ValueError("selectionBehavior is required when suggestions are present")
        return self

    @model_validator(mode="after")
    def _known_extensions(self) -> Card:
        for key, references in (self.extension or {}).items():
            if key not in CARD_EXTENSIONS:
                raise ValueError(f"unknown card extension {key!r}")
            if not references or not all(RESOURCE_REFERENCE.match(ref) for ref in references):
                raise ValueError(f"{key} holds a non-empty list of Type/id references")
        return self
