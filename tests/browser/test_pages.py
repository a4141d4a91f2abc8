"""The documentation page and the card gallery in a real browser.

Each card of the gallery shows what the service sends for that example (the same
request posted at the example's time): the summary as sent and coloured by
indicator, the detail rendered from its Markdown (no Markdown syntax left), a
button per suggestion and the link; every link to the service lands on an
element that exists; both pages fit a phone and a desktop without sideways
scrolling, and are photographed for a person to look at.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urldefrag

import pytest

from cards.catalogue import CardCatalogue
from cards.gallery import load_examples
from tests.support.gallery import example_client

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

EXAMPLES = dict(load_examples())
CONTENT = CardCatalogue.load().content
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
#: The indicator colours of the page's stylesheet (info blue, warning amber, critical red).
BORDER = {"info": "rgb(31, 111, 178)", "warning": "rgb(163, 92, 0)", "critical": "rgb(179, 38, 30)"}


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=DESKTOP)
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture(scope="module")
def sent(server: str) -> dict[str, list[dict[str, Any]]]:
    """The cards the service sends for each example, posted at the example's request time
    (to an app with the same public base URL as the server the browser opens)."""
    cards = {}
    with example_client(public_base_url=server) as client:
        for name, example in EXAMPLES.items():
            response = client.post(example)
            assert response.status_code == 200
            cards[name] = response.json()["cards"]
    return cards


def _plain(markdown: str) -> list[str]:
    """The lines of a Markdown text as a reader sees them once rendered."""
    text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", markdown)
    text = re.sub(r"\\(.)", r"\1", text.replace("**", ""))
    lines = [re.sub(r"^(#+|-) ", "", line).strip() for line in text.splitlines()]
    return [" ".join(line.split()) for line in lines if line and line != "---"]


def test_each_card_renders_as_the_service_sends_it(
    page: Page, server: str, sent: dict[str, list[dict[str, Any]]]
) -> None:
    page.goto(f"{server}/docs/cards")
    for name, cards in sent.items():
        articles = page.locator(f"#example-{name} article.card")
        assert articles.count() == len(cards), name
        for number, card in enumerate(cards):
            article = articles.nth(number)
            assert article.get_attribute("data-topic") == card["source"]["topic"]["code"]
            summary = article.locator(".summary")
            assert summary.inner_text() == card["summary"] and summary.is_visible()
            colour = article.evaluate("e => getComputedStyle(e).borderLeftColor")
            assert colour == BORDER[card["indicator"]], (name, card["indicator"])
            detail = article.locator(".detail")
            shown = " ".join(detail.inner_text().split())
            for line in _plain(card["detail"]):
                assert line in shown, (name, line)
            assert not re.search(r"\*\*|^#|\]\(", detail.inner_text(), flags=re.MULTILINE)
            assert detail.locator("h3").inner_text() == CONTENT.why.heading
            assert detail.locator("p").last.inner_text() == CONTENT.disclaimer
            labels = [b.inner_text() for b in article.locator("button.suggestion").all()]
            assert labels == [s["label"] for s in card.get("suggestions", [])]
            [link] = card["links"]
            anchor = article.locator("a.card-link")
            assert anchor.inner_text() == link["label"] == "How this recommendation works"
            assert anchor.get_attribute("href") == link["url"]


def _links(page: Page) -> list[str]:
    hrefs: list[str] = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    return sorted(set(hrefs))


@pytest.mark.parametrize("path", ["/docs/cards", "/docs/clinical"])
def test_every_link_lands_on_an_existing_anchor(page: Page, server: str, path: str) -> None:
    """Every link to the service opens a page, and its #fragment names an element there."""
    page.goto(f"{server}{path}")
    targets: dict[str, set[str]] = {}
    for href in _links(page):
        if href.startswith(server):
            url, fragment = urldefrag(href)
            targets.setdefault(url, set()).add(fragment)
    assert targets, "the page links to the service"
    for url, fragments in sorted(targets.items()):
        response = page.goto(url)
        assert response is not None and response.status == 200, url
        ids = set(page.eval_on_selector_all("[id]", "els => els.map(e => e.id)"))
        missing = sorted(fragments - ids - {""})
        assert not missing, f"{url}: no element with id {missing}"
    if path == "/docs/cards":
        topics = targets[f"{server}/docs/clinical"] - {""}  # "" is the intro link
        assert topics == {f"topic-{t}" for t in CardCatalogue.load().templates}


@pytest.mark.parametrize("path", ["/docs/cards", "/docs/clinical"])
@pytest.mark.parametrize(("device", "viewport"), [("phone", PHONE), ("desktop", DESKTOP)])
def test_pages_fit_a_phone_and_a_desktop(
    browser: Browser, server: str, screenshots: Path, path: str, device: str, viewport: Any
) -> None:
    context = browser.new_context(viewport=viewport, device_scale_factor=1)
    page = context.new_page()
    try:
        page.goto(f"{server}{path}")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px on a {device}"
        size = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
        assert size >= 16
        name = path.strip("/").replace("/", "-")
        page.screenshot(path=str(screenshots / f"{name}-{device}.png"))
        if path == "/docs/clinical":
            page.goto(f"{server}{path}#topic-orthosis")
            page.screenshot(path=str(screenshots / f"{name}-topic-orthosis-{device}.png"))
        else:
            page.locator("article.card.critical").first.evaluate("e => e.scrollIntoView()")
            page.screenshot(path=str(screenshots / f"{name}-critical-{device}.png"))
    finally:
        context.close()
