"""The service as `uvicorn --factory service.app:create_app` starts it (developers, interop)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.uvicorn_server import uvicorn_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    with uvicorn_server(tmp_path_factory.mktemp("uvicorn")) as started:
        yield started


def test_discovery_over_a_real_socket(server: tuple[str, Path]) -> None:
    base, _ = server
    response = httpx.get(f"{base}/cds-services", timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert {s["id"] for s in response.json()["services"]} == {
        "footdrop-patient-view",
        "footdrop-order-select",
        "footdrop-order-sign",
    }


def test_start_up_says_auth_is_off(server: tuple[str, Path]) -> None:
    _, log = server
    assert "AUTH IS OFF" in log.read_text()


def test_source_url_of_cards_is_served(server: tuple[str, Path]) -> None:
    base, _ = server
    page = httpx.get(f"{base}/docs/clinical", timeout=5)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<title>Foot-drop CDS: clinical logic</title>" in page.text
    markdown = httpx.get(f"{base}/docs/clinical.md", timeout=5)
    assert markdown.text.startswith("# Foot-drop CDS: clinical logic")
