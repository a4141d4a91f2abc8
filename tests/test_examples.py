"""The example requests in examples/ give the cards their README names, on the day they describe.

Each file's dates were written for its `org.footdrop-cds.example-date`; the service is
run at that date, so the files keep working as time passes (`footdrop-cds demo` moves
them to today instead, tests/cli/test_demo.py).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.cli.demo import EXAMPLE_DATE
from tests.conftest import make_settings
from tests.support.spec_checks import check_response

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SERVICE = {
    "patient-view": "footdrop-patient-view",
    "order-select": "footdrop-order-select",
    "order-sign": "footdrop-order-sign",
}
EXPECTED = {
    "patient-view.json": {"orthosis", "physical-therapy", "localization-workup"},
    "patient-view-red-flag.json": {"red-flag-urgent-evaluation"},
    "patient-view-no-card.json": set(),
    "order-select.json": {"dalfampridine-contraindicated", "add-physical-therapy"},
    "order-sign.json": {"fusion-not-indicated"},
}


def test_every_example_is_listed_with_its_cards() -> None:
    assert {p.name for p in EXAMPLES.glob("*.json")} == set(EXPECTED)
    readme = (EXAMPLES / "README.md").read_text()
    for name, topics in EXPECTED.items():
        row = next(line for line in readme.splitlines() if line.startswith(f"| `{name}`"))
        for topic in topics:
            assert f"`{topic}`" in row, (name, topic)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_gives_the_cards_its_readme_names(name: str) -> None:
    body = json.loads((EXAMPLES / name).read_text())
    day = date.fromisoformat(body["extension"][EXAMPLE_DATE])
    noon = datetime.combine(day, time(12), tzinfo=UTC)
    with TestClient(create_app(make_settings(), lambda: noon)) as client:
        response = client.post(f"/cds-services/{SERVICE[body['hook']]}", json=body)
    assert response.status_code == 200, response.text
    check_response(response.json())
    assert {c["source"]["topic"]["code"] for c in response.json()["cards"]} == EXPECTED[name]
