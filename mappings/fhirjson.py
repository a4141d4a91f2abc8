"""FHIR resources as the JSON the EHR sent, shared by every package.

The service keeps resources as parsed JSON (`JsonObject`) rather than strict
models: a field that strict parsing rejects must not hide the rest of a record
(a red flag or a contraindication). Readers that pick fields out of it live in
`service.fhir.readers`; this module only names the shape.
"""

from __future__ import annotations

from typing import Any

JsonObject = dict[str, Any]


def copied(value: Any) -> Any:
    """A copy of a JSON value: new objects and arrays, the immutable scalars shared.

    What `copy.deepcopy` gives for JSON, at about a quarter of its cost (no memo, no dispatch).
    """
    if isinstance(value, dict):
        return {key: copied(item) for key, item in value.items()}
    if isinstance(value, list):
        return [copied(item) for item in value]
    return value


def without_empty_values(value: Any) -> Any:
    """A copy of a JSON value without null, "", [] or {} anywhere (CDS Hooks G-2)."""
    empty: tuple[Any, ...] = (None, "", [], {})
    if isinstance(value, dict):
        pairs = ((key, without_empty_values(item)) for key, item in value.items())
        return {key: item for key, item in pairs if item not in empty}
    if isinstance(value, list):
        return [item for item in map(without_empty_values, value) if item not in empty]
    return value
