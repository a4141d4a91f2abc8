"""The JSON helpers every package shares: copies that never alias the original."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mappings.fhirjson import copied, without_empty_values

SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


def containers(value: Any) -> list[Any]:
    """Every object and array inside a JSON value, the value itself included."""
    if isinstance(value, dict):
        return [value, *(c for item in value.values() for c in containers(item))]
    if isinstance(value, list):
        return [value, *(c for item in value for c in containers(item))]
    return []


@given(JSON)
def test_a_copy_equals_the_original_and_shares_no_object_or_array(value: Any) -> None:
    copy_ = copied(value)
    assert copy_ == copy.deepcopy(value)
    originals = {id(c) for c in containers(value)}
    assert not originals & {id(c) for c in containers(copy_)}


def test_changing_a_copied_order_template_leaves_the_template_alone() -> None:
    template = {"code": {"coding": [{"system": "http://snomed.info/sct", "code": "1"}]}}
    draft = copied(template)
    draft["code"]["coding"][0]["code"] = "2"
    draft["code"]["coding"].append({"code": "3"})
    assert template == {"code": {"coding": [{"system": "http://snomed.info/sct", "code": "1"}]}}


@given(JSON)
def test_without_empty_values_copies_too(value: Any) -> None:
    before = copy.deepcopy(value)
    cleaned = without_empty_values(value)
    assert value == before
    assert not {id(c) for c in containers(value)} & {id(c) for c in containers(cleaned)}
