"""The rule trace of a response agrees with its cards (used on every traced response)."""

from __future__ import annotations

from typing import Any

from cards.catalogue import CardCatalogue
from service.cds.explain import EXPLAIN

STOPS = CardCatalogue.load().stops


def trace_of(response: dict[str, Any]) -> dict[str, Any]:
    trace: dict[str, Any] = response["extension"][EXPLAIN]
    return trace


def agrees_with_cards(response: dict[str, Any]) -> None:
    """Every card is a fired topic with its summary, about its order; every other topic
    names a worded condition."""
    cards = sorted((c["source"]["topic"]["code"], c["summary"]) for c in response["cards"])
    topics = trace_of(response)["topics"]
    assert sorted((t["topic"], t["reason"]) for t in topics if t["fired"]) == cards
    for topic in topics:
        if not topic["fired"]:
            assert topic["reason"] == STOPS.reason(topic["stopped_by"]), topic
