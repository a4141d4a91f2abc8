"""The example requests in examples/ work as their README says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support.spec_checks import check_response

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize(
    ("name", "service", "expected"),
    [
        ("patient-view.json", "footdrop-patient-view", {"orthosis", "physical-therapy"}),
        (
            "order-select.json",
            "footdrop-order-select",
            {"dalfampridine-contraindicated", "add-physical-therapy"},
        ),
    ],
)
def test_example_gives_the_cards_its_readme_names(
    client: TestClient, name: str, service: str, expected: set[str]
) -> None:
    body = json.loads((EXAMPLES / name).read_text())
    response = client.post(f"/cds-services/{service}", json=body)
    assert response.status_code == 200
    check_response(response.json())
    assert expected <= {c["source"]["topic"]["code"] for c in response.json()["cards"]}
