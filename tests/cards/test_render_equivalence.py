"""Every card and rule trace the service gives for every vignette, gallery example and
examples/ request, byte for byte, against `expected_answers.json.gz`.

The renderer precompiles at load what depends on the content only, and the order rules
decide the red flag alone (issue 15); this test holds both to the cards and traces of the
per-call code they replaced: the file was written by main before those changes, and must
be rewritten only by a deliberate content, wording or rule change
(`python -m tests.cards.test_render_equivalence --write`); a failure shows the case's
difference. Compressed: 1.2 MB of JSON, 67 kB stored. Uuids are fresh on every response
and left out.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cards.gallery import load_examples
from service.app import create_app
from service.cds.explain import EXPLAIN
from service.cli.demo import EXAMPLE_DATE
from service.clinical.thresholds import ClinicalThresholds
from tests.conftest import full_prefetch, hook_request, make_settings
from tests.support.clinical import NOW
from tests.support.vignettes import VIGNETTE_DIR, load, vignette_files

Json = dict[str, Any]
EXPECTED = Path(__file__).with_name("expected_answers.json.gz")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SERVICE = {
    "patient-view": "footdrop-patient-view",
    "order-select": "footdrop-order-select",
    "order-sign": "footdrop-order-sign",
}


def _without_uuids(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_uuids(item) for key, item in value.items() if key != "uuid"}
    if isinstance(value, list):
        return [_without_uuids(item) for item in value]
    return value


class _Apps:
    """One started app per clinical settings, its clock set to each request's time."""

    def __init__(self, stack: contextlib.ExitStack) -> None:
        self._stack = stack
        self._clients: dict[str, TestClient] = {}
        self.now = NOW

    def answer(self, body: Json, now: datetime, clinical: Json) -> Json:
        """The cards and rule trace of the response, uuids out, at request time `now`."""
        key = json.dumps(clinical, sort_keys=True)
        if key not in self._clients:
            settings = make_settings(clinical=ClinicalThresholds(**clinical), explain=True)
            app = create_app(settings, lambda: self.now)
            self._clients[key] = self._stack.enter_context(TestClient(app))
        self.now = now
        explained = {**body, "extension": {**body.get("extension", {}), EXPLAIN: True}}
        url = f"/cds-services/{SERVICE[body['hook']]}"
        response = self._clients[key].post(url, json=explained)
        assert response.status_code == 200, response.text
        sent = response.json()
        answer: Json = _without_uuids({"cards": sent["cards"], "trace": sent["extension"]})
        return answer


def _text(answer: Json) -> str:
    """The answer as JSON text, keys in the order sent: equal text is equal bytes."""
    return json.dumps(answer, ensure_ascii=False)


def _cases() -> Iterator[tuple[str, Json, datetime, Json]]:
    """(name, request, request time, clinical settings) of every input with known cards."""
    for path in vignette_files():
        vignette = load(path)
        prefetch = full_prefetch(*vignette.record, patient_resource=vignette.patient)
        body = hook_request(vignette.hook, prefetch=prefetch, context=vignette.request_context())
        name = f"vignette/{path.relative_to(VIGNETTE_DIR).with_suffix('')}"
        yield name, body, NOW, vignette.clinical
    for name, example in load_examples():
        yield f"gallery/{name}", example.request, example.now, {}
    for path in sorted(EXAMPLES.glob("*.json")):
        body = json.loads(path.read_text())
        day = date.fromisoformat(body["extension"][EXAMPLE_DATE])
        yield f"examples/{path.stem}", body, datetime.combine(day, time(12), tzinfo=UTC), {}


CASES = {name: (body, now, clinical) for name, body, now, clinical in _cases()}


def _expected() -> dict[str, Json]:
    expected: dict[str, Json] = json.loads(gzip.decompress(EXPECTED.read_bytes()))
    return expected


def test_every_input_is_in_the_expected_cards() -> None:
    assert sorted(_expected()) == sorted(CASES)


@pytest.fixture(scope="module")
def apps() -> Iterator[_Apps]:
    with contextlib.ExitStack() as stack:
        yield _Apps(stack)


@pytest.mark.parametrize("name", sorted(CASES))
def test_cards_and_trace_are_byte_identical(name: str, apps: _Apps) -> None:
    body, now, clinical = CASES[name]
    assert _text(apps.answer(body, now, clinical)) == _text(_expected()[name])


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    with contextlib.ExitStack() as stack:
        runner = _Apps(stack)
        written = {name: runner.answer(*case) for name, case in CASES.items()}
    text = json.dumps(written, ensure_ascii=False, separators=(",", ":"))
    EXPECTED.write_bytes(gzip.compress(text.encode(), compresslevel=9, mtime=0))
