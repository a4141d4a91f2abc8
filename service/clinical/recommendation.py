"""The hand-off from rules (which decide) to cards (which word).

A `Recommendation` carries no wording and no FHIR: a topic code, an indicator,
named facts for the card template's placeholders, flags that switch optional
paragraphs of the template on, the template suggestions to offer and the
patient data behind the decision. `cards.render` turns it into a CDS Hooks card.

A rule that does not fire says why: a `Stopped` names the first condition that
stopped it (a code worded in `cards/stop_reasons.toml`) and the records behind
that condition. The rule trace (`service.clinical.trace`) is made of both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from service.clinical.features.model import Evidence

Indicator = Literal["info", "warning", "critical"]

#: Most urgent first: the order cards are returned in.
INDICATOR_RANK: Mapping[str, int] = {"critical": 0, "warning": 1, "info": 2}


def most_urgent_first(recommendations: Iterable[Recommendation]) -> list[Recommendation]:
    """Critical, then warning, then info; stable within a level (the rules' own order)."""
    return sorted(recommendations, key=lambda rec: INDICATOR_RANK[rec.indicator])


@dataclass(frozen=True)
class SuggestedAction:
    """A suggestion the card template defines, chosen by a rule.

    `suggestion_id` names a suggestion in the card template. `target` is the
    `Type/id` of the draft order an update or delete acts on.
    """

    suggestion_id: str
    target: str | None = None
    recommended: bool = False


@dataclass(frozen=True)
class Recommendation:
    """One card's worth of decision, before wording."""

    topic: str
    indicator: Indicator
    suggestions: tuple[SuggestedAction, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    facts: Mapping[str, str] = field(default_factory=dict)
    flags: frozenset[str] = frozenset()
    notes: tuple[str, ...] = ()
    """Ids of "missing or assumed" statements (approximate onset, eGFR used in place
    of CrCl, ...); worded in the card catalogue."""
    about_order: str | None = None
    """`Type/id` of the draft order an order-select / order-sign card is about."""


@dataclass(frozen=True)
class Stopped:
    """A topic that did not fire: the first condition that stopped it.

    `condition` is a code of `cards/stop_reasons.toml`, where it is worded for the
    trace and the docs. `evidence` is the records the condition rests on (the
    orthosis in use, the contraindicating finding); empty when it is an absence.
    """

    condition: str
    evidence: tuple[Evidence, ...] = ()


Outcome = Recommendation | Stopped
"""What one rule decides for one topic (and, for the order checks, one order)."""
