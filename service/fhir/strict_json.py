"""Strict RFC 8259 JSON, for every document the service receives.

Python's json module accepts NaN, Infinity, numbers of any size and duplicate
keys, and recurses as deep as the document goes. Each is a way to make two
readers of one document disagree (duplicate keys), to crash arithmetic later
(1e999999 is infinity; a 5,000-digit integer trips Python's int limit) or to
exhaust the stack (an extension nested 400 deep). All are refused here, at the
door, with a `JsonRejected` that names the problem but never the content.
"""

from __future__ import annotations

import json
import math
from typing import Any

#: Longest integer literal accepted; FHIR integers are 32-bit, decimals have ≤ 18 digits.
MAX_NUMBER_DIGITS = 100
#: Default nesting limit: real FHIR resources nest about 10 deep, a Bundle adds 3.
DEFAULT_MAX_DEPTH = 64


class JsonRejected(ValueError):
    """The document is not strict JSON (or exceeds a limit); the message has no content."""


def _refuse_constant(name: str) -> Any:
    raise JsonRejected(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if len(text) > MAX_NUMBER_DIGITS or not math.isfinite(value):
        raise JsonRejected("number out of range")
    return value


def _bounded_int(text: str) -> int:
    if len(text) > MAX_NUMBER_DIGITS:
        raise JsonRejected("number out of range")
    return int(text)


def loads(data: bytes | str, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """Parse strict JSON no deeper than `max_depth` containers; else `JsonRejected`.

    Depth is computed bottom-up as objects are built (lists have no hook, so a
    list's depth is found by walking it once, iteratively), so the check adds a
    fraction of the parse time instead of a second pass over the text.
    """
    depths: dict[int, int] = {}

    def list_depth(items: list[Any]) -> int:
        deepest = 0
        stack = [(items, 1)]
        while stack:
            current, level = stack.pop()
            deepest = max(deepest, level)
            for child in current:
                if isinstance(child, list):
                    if level + 1 > max_depth:
                        raise JsonRejected("nested too deeply")
                    stack.append((child, level + 1))
                elif isinstance(child, dict):
                    deepest = max(deepest, level + depths.get(id(child), 1))
        return deepest

    def unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        deepest = 0
        for key, value in pairs:
            if key in result:
                raise JsonRejected("duplicate key")
            result[key] = value
            if isinstance(value, dict):
                deepest = max(deepest, depths.get(id(value), 1))
            elif isinstance(value, list) and value:
                deepest = max(deepest, list_depth(value))
        if deepest + 1 > max_depth:
            raise JsonRejected("nested too deeply")
        depths[id(result)] = deepest + 1
        return result

    try:
        parsed = json.loads(
            data,
            object_pairs_hook=unique_object,
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
            parse_int=_bounded_int,
        )
    except RecursionError:
        raise JsonRejected("nested too deeply") from None
    except JsonRejected:
        raise
    except (ValueError, UnicodeDecodeError):
        raise JsonRejected("not valid JSON") from None
    if isinstance(parsed, list) and list_depth(parsed) > max_depth:
        raise JsonRejected("nested too deeply")
    return parsed


def load_object(data: bytes | str, max_depth: int = DEFAULT_MAX_DEPTH) -> dict[str, Any]:
    """Parse a strict JSON object; any other document or any deviation is `JsonRejected`."""
    parsed = loads(data, max_depth)
    if not isinstance(parsed, dict):
        raise JsonRejected("not a JSON object")
    return parsed
