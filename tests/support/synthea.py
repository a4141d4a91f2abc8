"""Realistic charts from the shared Synthea set, when it is present.

The project's suite must pass without it (a user's clone lacks `../shared`),
so tests that use these charts skip when the folder is missing. A chart is a
transaction Bundle; `as_prefetch` turns it into the prefetch an EHR would send
for our services, Observations limited to the codes the prefetch query asks for.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from tests.conftest import PREFETCH_KEYS

SYNTHEA = Path(__file__).resolve().parents[3] / "shared" / "data" / "synthea-r4"


needs_synthea = pytest.mark.skipif(not SYNTHEA.is_dir(), reason="../shared Synthea charts absent")


def chart_paths() -> list[Path]:
    return sorted(SYNTHEA.glob("*.json")) if SYNTHEA.is_dir() else []


def load_chart(path: Path) -> list[dict[str, Any]]:
    bundle = json.loads(path.read_text())
    return [entry["resource"] for entry in bundle["entry"]]


def code_filter(query: str) -> set[tuple[str, str]]:
    """(system, code) pairs of a prefetch query's `code=` parameter."""
    params = dict(p.split("=", 1) for p in query.split("?", 1)[1].split("&"))
    pairs = set()
    for token in unquote(params.get("code", "")).split(","):
        system, _, code = token.rpartition("|")
        pairs.add((system, code))
    return pairs


def _matches(resource: dict[str, Any], codes: set[tuple[str, str]]) -> bool:
    codings = resource.get("code", {}).get("coding", [])
    return any((c.get("system", ""), c.get("code", "")) in codes for c in codings)


def as_prefetch(
    resources: list[dict[str, Any]], templates: dict[str, str]
) -> tuple[str, dict[str, Any]]:
    """The patient id and the full prefetch for `resources`, per our discovery templates."""
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    prefetch: dict[str, Any] = {"patient": patient}
    for key in PREFETCH_KEYS.values():
        prefetch[key] = {"resourceType": "Bundle", "type": "searchset", "entry": []}
    filters = {key: code_filter(q) for key, q in templates.items() if "code=" in q}
    for resource in resources:
        key = PREFETCH_KEYS.get(resource["resourceType"])
        if key is None or (key in filters and not _matches(resource, filters[key])):
            continue
        prefetch[key]["entry"].append({"resource": resource})
    return patient["id"], prefetch


def iter_charts() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    for path in chart_paths():
        yield path.stem, load_chart(path)
