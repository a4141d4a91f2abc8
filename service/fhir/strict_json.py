"""Strict RFC 8259 JSON, for every document the service receives.

Python's json module accepts NaN, Infinity, numbers of any size and duplicate
keys, and recurses as deep as the document goes. Each is a way to make two
readers of one document disagree (duplicate keys), to crash arithmetic later
(1e999999 is infinity; a 5,000-digit integer trips Python's int limit) or to
exhaust the stack (an extension nested 400 deep). All are refused here, at the
door, with a `JsonRejected` that names the problem but never the content.

The document is parsed by orjson, in C: it refuses NaN, Infinity, invalid
UTF-8 and lone surrogates, never makes a number that is not finite (a literal
beyond the double range is refused) and never a Python integer beyond 64 bits
(a larger integer literal becomes a float), and stops at 1,024 levels. The rest
is checked on the text with C-speed byte operations, never a Python loop over
the document's values:

- **depth**: the text less its strings is its skeleton of brackets; removing
  every empty pair `[]` / `{}` removes exactly the innermost containers, so the
  number of rounds until nothing is left is the nesting depth;
- **duplicate keys**: orjson keeps the last of two equal keys, so a document
  with a duplicate parses to fewer strings (keys and string values) than its
  text holds; the strings of the parsed document are counted on its
  re-serialisation by orjson (by a walk beyond the 254 levels orjson writes),
  those of the text on the text.

The parse runs with the cyclic garbage collector paused: a parsed document is dicts,
lists, strings and numbers with no cycle among them, so the collections its
allocations would set off find nothing, and at 10,000 resources they were nearly
half the parse (they walk every object the parse has made so far).
"""

from __future__ import annotations

import gc
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson

#: Default nesting limit: real FHIR resources nest about 10 deep, a Bundle adds 3.
DEFAULT_MAX_DEPTH = 64
#: orjson writes documents up to this depth; deeper ones (CDS_MAX_JSON_DEPTH allows 500) are
#: counted by a walk instead.
ORJSON_MAX_WRITE_DEPTH = 254

_OPEN, _CLOSE, _QUOTE, _BACKSLASH = b"[", b"]", b'"', b"\\"
#: Bytes of a text kept in its skeleton: quotes and brackets, `{}` written as `[]`.
_SKELETON = bytes.maketrans(b"{}", _OPEN + _CLOSE)
_NOT_SKELETON = bytes(byte for byte in range(256) if byte not in b'"[]{}')
_STRING = re.compile(rb'"[^"]*"')


class JsonRejected(ValueError):
    """The document is not strict JSON (or exceeds a limit); the message has no content."""


class CollectorPause:
    """Automatic collections off while any thread parses, back on when the last one ends.

    `gc.disable()` is process-wide, so the pauses of threads parsing at once are
    counted under a lock: the collector is re-enabled once, by the last, and only if
    it was enabled before the first (a process that turned it off keeps it off).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = 0
        self._reenable = False

    @contextmanager
    def paused(self) -> Iterator[None]:
        with self._lock:
            if self._active == 0:
                self._reenable = gc.isenabled()
                gc.disable()
            self._active += 1
        try:
            yield
        finally:
            with self._lock:
                self._active -= 1
                if self._active == 0 and self._reenable:
                    gc.enable()


#: The pause every parse of this process takes.
COLLECTOR = CollectorPause()


def _unescaped(text: bytes) -> bytes:
    """A valid JSON text less its escaped backslashes and quotes: every `"` left delimits."""
    if _BACKSLASH not in text or _BACKSLASH + _QUOTE not in text:
        return text  # no quote follows a backslash: none is escaped
    return text.replace(_BACKSLASH * 2, b"").replace(_BACKSLASH + _QUOTE, b"")


def _strings(unescaped: bytes) -> int:
    """How many strings (keys and values) a valid JSON text holds, given `_unescaped`."""
    return unescaped.count(_QUOTE) // 2


def _depth(unescaped: bytes, max_depth: int) -> int:
    """The nesting depth of a valid JSON text, given `_unescaped`; `JsonRejected` past
    `max_depth`."""
    skeleton = unescaped.translate(_SKELETON, _NOT_SKELETON)
    # Two adjacent quotes are an empty string, or the end of one string and the start of
    # the next with no bracket between them: dropping them leaves every bracket inside a
    # string inside one, and every other outside.
    skeleton = skeleton.replace(_QUOTE * 2, b"")
    if _QUOTE in skeleton:  # strings holding brackets: rare in real records
        skeleton = _STRING.sub(b"", skeleton)
    depth = 0
    while skeleton:
        depth += 1
        if depth > max_depth:
            raise JsonRejected("nested too deeply")
        skeleton = skeleton.replace(_OPEN + _CLOSE, b"")
    return depth


def loads(data: bytes | str, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """Parse strict JSON no deeper than `max_depth` containers; else `JsonRejected`."""
    if isinstance(data, str):
        try:
            data = data.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate
            raise JsonRejected("not valid JSON") from None
    try:
        with COLLECTOR.paused():
            parsed = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        reason = str(error)
        if reason.startswith("number is infinity"):
            raise JsonRejected("number out of range") from None
        if reason.startswith("depth limit exceeded"):
            raise JsonRejected("nested too deeply") from None
        raise JsonRejected("not valid JSON") from None
    if not isinstance(parsed, dict | list):
        return parsed
    text = _unescaped(data)
    if _depth(text, max_depth) > ORJSON_MAX_WRITE_DEPTH:
        parsed_strings = _strings_in(parsed)
    else:
        parsed_strings = _strings(_unescaped(orjson.dumps(parsed)))
    if parsed_strings != _strings(text):  # only a duplicate key loses strings
        raise JsonRejected("duplicate key")
    return parsed


def _strings_in(parsed: dict[str, Any] | list[Any]) -> int:
    """How many strings (keys and values) a parsed document holds, walked in Python."""
    count, stack = 0, [parsed]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            count += len(node)
            node = list(node.values())
        for child in node:
            if isinstance(child, str):
                count += 1
            elif isinstance(child, dict | list):
                stack.append(child)
    return count


def load_object(data: bytes | str, max_depth: int = DEFAULT_MAX_DEPTH) -> dict[str, Any]:
    """Parse a strict JSON object; any other document or any deviation is `JsonRejected`."""
    parsed = loads(data, max_depth)
    if not isinstance(parsed, dict):
        raise JsonRejected("not a JSON object")
    return parsed
