"""Strict RFC 8259 JSON for the small documents of JOSE: token segments and JWK Sets.

Python's json module accepts NaN, Infinity and duplicate keys; with duplicates,
two parsers of one token could read different claims, so they are refused here.
"""

from __future__ import annotations

import json
import math
from typing import Any


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


def load_object(data: bytes) -> dict[str, Any]:
    """Parse a JSON object strictly; any other document or any deviation is a ValueError."""
    try:
        parsed = json.loads(
            data,
            object_pairs_hook=_unique_keys,
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
        )
    except RecursionError as error:
        raise ValueError("nested too deeply") from error
    if not isinstance(parsed, dict):
        raise ValueError("not a JSON object")
    return parsed
