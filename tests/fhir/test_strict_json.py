"""The strict JSON parser: what it refuses, and that it reads every other document as json does.

Depth and duplicate keys are checked on the text (service/fhir/strict_json.py), so
the cases that could fool a text check are here: brackets and quotes inside
strings, escaped quotes and backslashes next to each other, duplicates deep
inside lists, documents deeper than orjson writes back. The parse pauses the
cyclic collector, process-wide: that it always turns it back on is here too.
"""

from __future__ import annotations

import gc
import json
import threading
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.fhir.strict_json import (
    DEFAULT_MAX_DEPTH,
    CollectorPause,
    JsonRejected,
    load_object,
    loads,
)
from tests.support.collector import collections_started

#: Strings made of what a text check could trip on.
TRICKY_TEXT = st.text(alphabet='"\\[]{}:,ab\n\u00e9\U0001f9b6', max_size=8)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | TRICKY_TEXT
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(TRICKY_TEXT, children, max_size=4)
    ),
    max_leaves=30,
)


def nested(depth: int) -> bytes:
    """Containers `depth` deep, objects and lists alternating."""
    text = "1"
    for level in range(depth):
        text = f'{{"k": {text}}}' if level % 2 else f"[{text}]"
    return text.encode()


def reason(document: bytes | str, max_depth: int = DEFAULT_MAX_DEPTH) -> str:
    with pytest.raises(JsonRejected) as refused:
        loads(document, max_depth)
    return str(refused.value)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_any_json_document_reads_as_json_reads_it(value: Any) -> None:
    for text in (json.dumps(value), json.dumps(value, ensure_ascii=False, indent=1)):
        assert loads(text) == json.loads(text)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(TRICKY_TEXT, JSON_VALUES, min_size=1, max_size=4), JSON_VALUES, st.data())
def test_a_duplicate_key_anywhere_is_refused(obj: dict[str, Any], other: Any, data: Any) -> None:
    key = data.draw(st.sampled_from(sorted(obj)))
    members = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in obj.items()]
    members.insert(
        data.draw(st.integers(0, len(members))), f"{json.dumps(key)}: {json.dumps(other)}"
    )
    duplicated = "{" + ", ".join(members) + "}"
    for document in (duplicated, f'[1, {{"x": [{duplicated}]}}, "\\\\"]'):
        assert reason(document) == "duplicate key"


@pytest.mark.parametrize(
    "document",
    [
        b'{"a": 1, "a": 1}',
        b'{"a": "x\\\\", "a": "y"}',  # an escaped backslash just before a closing quote
        b'{"a": "\\"", "b": {"c": "[", "c": "]"}}',
        b'[{"k": [1, {"x": 1, "y": {}, "x": {}}]}]',
        '{"é": 1, "é": 2}'.encode(),
    ],
)
def test_duplicate_keys_are_refused(document: bytes) -> None:
    assert reason(document) == "duplicate key"


@pytest.mark.parametrize(
    "document", ["NaN", "[Infinity]", '{"a": -Infinity}', "[nan]", "[01]", "[1,]", '{"a" 1}', "[]x"]
)
def test_what_json_allows_and_rfc_8259_does_not_is_refused(document: str) -> None:
    assert reason(document) == "not valid JSON"


@pytest.mark.parametrize("number", ["1e999999", "-1e400", "9" * 5000, "-" + "9" * 400])
def test_numbers_beyond_a_double_are_refused(number: str) -> None:
    assert reason(f'{{"value": {number}}}') == "number out of range"


def test_integers_stay_exact_to_64_bits_and_larger_ones_are_finite_floats() -> None:
    assert loads(f"[{2**63 - 1}, {-(2**63)}, {2**64 - 1}]") == [2**63 - 1, -(2**63), 2**64 - 1]
    (big,) = loads("[" + "9" * 300 + "]")
    assert isinstance(big, float) and big == 1e300


@pytest.mark.parametrize("document", [b"\xff{}", b'{"a": "\xc3"}', b"\xef\xbb\xbf{}", '["\ud800"]'])
def test_text_that_is_not_utf_8_is_refused(document: bytes | str) -> None:
    assert reason(document) == "not valid JSON"


def test_a_lone_surrogate_escape_is_refused() -> None:
    assert reason(b'["\\ud800"]') == "not valid JSON"


def test_depth_is_counted_in_containers_up_to_the_limit() -> None:
    assert loads(nested(DEFAULT_MAX_DEPTH)) is not None
    assert reason(nested(DEFAULT_MAX_DEPTH + 1)) == "nested too deeply"
    assert loads(nested(20), max_depth=20) is not None
    assert reason(nested(21), max_depth=20) == "nested too deeply"
    assert reason(b"[" * 100_000 + b"]" * 100_000) == "nested too deeply"


def test_brackets_and_quotes_inside_strings_are_not_structure() -> None:
    inside = '"[[[[{{{{", "]]]]}}}}", "\\"[[[", "\\\\", "{\\"a\\": [1]}"'
    assert loads(f'{{"a": [{inside}], "b": {{"c": "]"}}}}', max_depth=2) == {
        "a": ["[[[[{{{{", "]]]]}}}}", '"[[[', "\\", '{"a": [1]}'],
        "b": {"c": "]"},
    }
    assert reason(f'{{"a": [[{inside}]]}}', max_depth=2) == "nested too deeply"


def test_documents_deeper_than_orjson_writes_are_still_checked_for_duplicates() -> None:
    deep = b"[" * 300 + b'{"a": 1, "b": 2}' + b"]" * 300
    assert loads(deep, max_depth=500) is not None
    assert reason(deep.replace(b'"b"', b'"a"'), max_depth=500) == "duplicate key"


def test_only_an_object_is_a_load_object_document() -> None:
    assert load_object(b'{"a": [1, "x"]}') == {"a": [1, "x"]}
    for document in (b"[]", b'"x"', b"1", b"null"):
        with pytest.raises(JsonRejected, match="not a JSON object"):
            load_object(document)


# -- the collector is paused during a parse, and only then -------------------------------


#: Enough containers to set off many automatic collections (the default threshold is 700).
MANY_CONTAINERS = json.dumps([{"resourceType": "Observation", "code": [{}]} for _ in range(5_000)])


@pytest.fixture
def collections() -> Iterator[list[int]]:
    with collections_started(this_thread_only=True) as started:
        yield started


def test_a_parse_sets_off_no_collections_and_leaves_the_collector_as_it_was(
    collections: list[int],
) -> None:
    assert gc.isenabled()
    thresholds = gc.get_threshold()
    expected = orjson.loads(MANY_CONTAINERS)
    assert len(collections) > 1, "the document is too small to show anything"
    collections.clear()
    parsed = loads(MANY_CONTAINERS)
    # Once the collector is back on, the allocations counted during the pause may start one
    # collection (of whichever generation is due by then): never the many of an unpaused parse.
    assert len(collections) <= 1
    assert parsed == expected
    assert gc.isenabled() and gc.get_threshold() == thresholds


@pytest.mark.parametrize("document", ['{"a": 1, "a": 2}', "[1, 2", nested(DEFAULT_MAX_DEPTH + 1)])
def test_a_refused_document_leaves_the_collector_enabled(document: str | bytes) -> None:
    with pytest.raises(JsonRejected):
        loads(document)
    assert gc.isenabled()


def test_nested_pauses_enable_the_collector_once_the_outermost_ends() -> None:
    pause = CollectorPause()
    with pause.paused():
        with pause.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_overlapping_pauses_of_two_threads_enable_it_when_the_last_ends() -> None:
    """The order that leaves a naive save-and-restore disabled for good: A pauses, B pauses
    (seeing it off), A ends (restoring on), B ends (restoring off)."""
    pause = CollectorPause()
    b_paused, a_ended = threading.Event(), threading.Event()
    seen_after_a: list[bool] = []

    def b() -> None:
        with pause.paused():
            b_paused.set()
            a_ended.wait(timeout=30)
            seen_after_a.append(gc.isenabled())

    thread = threading.Thread(target=b)
    with pause.paused():
        thread.start()
        b_paused.wait(timeout=30)
    a_ended.set()
    thread.join(timeout=30)
    assert seen_after_a == [False]  # B still parsing: still paused
    assert gc.isenabled()


def test_a_process_that_turned_the_collector_off_keeps_it_off() -> None:
    gc.disable()
    try:
        loads(MANY_CONTAINERS)
        assert not gc.isenabled()
    finally:
        gc.enable()
