"""CDS Hooks 2.0 response checks, requirement by requirement (conformance doc §0, §3),
and the card rules of clinical-logic v3 §1 ("Cards a clinician can read in seconds").

Used on every response of the end-to-end tests, so each card the service can
produce is held to the spec and to §1 where it leaves the service.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

from cards.catalogue import (
    DETAIL_WORD_LIMIT,
    UCUM_ANNOTATION,
    code_notation,
    resource_references,
    word_count,
)
from cards.model import BASIS_EXTENSION

RESOURCE_ID = re.compile(r"^[A-Za-z]+/[A-Za-z0-9\-.]+$")


def empty_values(value: object, path: str = "$") -> list[str]:
    """Paths of every null or empty value (G-2: never null, "", [] or {})."""
    if value is None or value == "" or value == [] or value == {}:
        return [path]
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in empty_values(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in empty_values(item, f"{path}[{i}]")]
    return []


def check_response(body: dict[str, Any]) -> None:
    assert set(body) <= {"cards", "extension"} and "cards" in body
    for key in body.get("extension", {}):  # G-3: the rule trace, when asked for and allowed
        assert re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", key), key
    for key, value in body.items():  # G-2 (`cards: []` is allowed)
        if key != "cards" or value:
            assert empty_values(value, f"$.{key}") == [], empty_values(value, f"$.{key}")
    for card in body["cards"]:
        check_card(card)


def check_card(card: dict[str, Any]) -> None:
    uuid.UUID(card["uuid"])  # C-3
    assert len(card["summary"]) < 140  # C-4
    assert card["indicator"] in {"info", "warning", "critical"}  # C-6
    assert card["source"]["label"]  # C-7
    topic = card["source"]["topic"]
    assert topic["system"] == "urn:footdrop-cds:card-topic" and topic["code"]
    assert "<" not in card.get("detail", "")  # C-5: no raw HTML
    assert card["detail"].rstrip().endswith("not a diagnosis.")
    assert "Why this card" in card["detail"]
    suggestions = card.get("suggestions", [])
    if suggestions:  # C-8
        assert card["selectionBehavior"] in {"at-most-one", "any"}
    if card.get("selectionBehavior") == "at-most-one":  # C-9
        assert sum(bool(s.get("isRecommended")) for s in suggestions) <= 1
    for suggestion in suggestions:
        uuid.UUID(suggestion["uuid"])
        assert suggestion["label"]
        for action in suggestion["actions"]:
            check_action(action)
    for reason in card.get("overrideReasons", []):  # C-11
        assert reason["code"] and reason["system"] and reason["display"]
    for link in card.get("links", []):  # C-12
        assert link["type"] == "absolute" and link["url"].startswith("http")
        assert "appContext" not in link
    check_readable(card)


def check_readable(card: dict[str, Any]) -> None:
    """clinical-logic v3 §1: what a clinician reads, the one link, the basis for machines."""
    summary, detail = card["summary"], card["detail"]
    for text in (summary, detail):
        assert not resource_references(text), f"resource id in {text!r}"
        assert not UCUM_ANNOTATION.search(text.replace("\\{", "")), f"UCUM annotation: {text!r}"
    assert not code_notation(summary), summary
    body = detail.split("\n\n---\n\n### Why this card")[0]
    if card["indicator"] != "critical":
        assert word_count(body) <= DETAIL_WORD_LIMIT, f"{word_count(body)} words: {body!r}"
    topic = card["source"]["topic"]["code"]
    assert card["source"]["url"].endswith("/docs/clinical")
    [link] = card["links"]
    assert link["label"] == "How this recommendation works"
    assert link["url"] == f"{card['source']['url']}#topic-{topic}"
    for reference in card.get("extension", {}).get(BASIS_EXTENSION, []):
        assert RESOURCE_ID.match(reference), reference


def check_action(action: dict[str, Any]) -> None:
    """C-10: create/update carry a complete R4 resource; delete a `Type/id` only."""
    assert action["description"]
    if action["type"] == "delete":
        assert RESOURCE_ID.match(action["resourceId"]) and "resource" not in action
        return
    resource = action["resource"]
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    if action["type"] == "update":
        assert resource["id"]
    else:
        assert resource["status"] == "draft"
        assert resource["subject"]["reference"].startswith("Patient/")
