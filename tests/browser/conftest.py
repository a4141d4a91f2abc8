"""The browser tier: Debian's Chromium, driven by Playwright for Python, against a real uvicorn.

Playwright's own browser download is never used: the system browser
(`apt-get install chromium`, /usr/bin/chromium; another with FOOTDROP_CHROMIUM)
is launched headless. Without it, or without Playwright, the tier is skipped
with the reason, unless FOOTDROP_REQUIRE_BROWSER=1 (as .ci/run sets): then it fails.
Screenshots go to FOOTDROP_SCREENSHOTS if set, else to the test's temporary directory.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.uvicorn_server import uvicorn_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM = Path(os.environ.get("FOOTDROP_CHROMIUM", "/usr/bin/chromium"))
#: Flags for a headless browser that talks to nothing but the page it is given.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _missing() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "Playwright for Python is not installed (pip install -e '.[dev]')"
    if not CHROMIUM.is_file():
        return f"no Chromium at {CHROMIUM} (apt-get install -y chromium)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Module scope: Playwright's sync API keeps an event loop running while it is open,
    which must be closed before other tests call asyncio.run."""
    missing = _missing()
    if missing:
        if os.environ.get("FOOTDROP_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tier required: {missing}")
        pytest.skip(f"browser tier skipped: {missing}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with uvicorn_server(tmp_path_factory.mktemp("browser-uvicorn")) as (base, _):
        yield base


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get("FOOTDROP_SCREENSHOTS")
    directory = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    directory.mkdir(parents=True, exist_ok=True)
    return directory
