"""Pages for people over the real ASGI stack: the documentation as HTML or Markdown, and the
card gallery, whose example patients run through the service's own pipeline."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from cards.catalogue import CardCatalogue
from cards.gallery import load_examples
from service.http.pages import prefers_markdown
from tests.support.ehr import SignedClient
from tests.support.gallery import ExampleClient, example_client
from tests.support.spec_checks import check_card

BASE = "https://cds.example.org"
TOPICS = set(CardCatalogue.load().templates)
EXAMPLES = dict(load_examples())


@pytest.fixture
def pages(client_factory: Callable[..., TestClient]) -> TestClient:
    return client_factory(public_base_url=BASE)


@pytest.mark.parametrize(
    ("accept", "markdown"),
    [
        ("", False),
        ("*/*", False),
        ("text/html,application/xhtml+xml,*/*;q=0.8", False),
        ("text/markdown", True),
        ("text/markdown, text/html;q=0.5", True),
        ("text/html, text/markdown", False),
        ("text/*;q=0.5, text/markdown;q=0.9", True),
        ("text/markdown;q=0", False),
    ],
)
def test_markdown_only_when_preferred(accept: str, markdown: bool) -> None:
    assert prefers_markdown(accept) is markdown


def test_the_docs_page_is_html_for_a_browser(pages: TestClient) -> None:
    response = pages.get("/docs/clinical", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "Accept" in response.headers["vary"]
    html = response.text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert sorted(re.findall(r'<a id="topic-([a-z0-9-]+)"></a>', html)) == sorted(TOPICS)
    assert "<table>" in html and "<script" not in html and "<link" not in html


@pytest.mark.parametrize(
    ("path", "headers"),
    [("/docs/clinical", {"Accept": "text/markdown"}), ("/docs/clinical.md", {})],
)
def test_the_docs_page_as_markdown(pages: TestClient, path: str, headers: dict[str, str]) -> None:
    response = pages.get(path, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/markdown; charset=utf-8"
    assert response.text.startswith("# Foot-drop CDS: clinical logic")


def test_the_docs_pages_need_no_token(signed_client_factory: Callable[..., SignedClient]) -> None:
    """Public pages: a browser following a card's link carries no JWT."""
    client = signed_client_factory().client
    assert client.get("/cds-services").status_code == 401
    for path in ("/docs/clinical", "/docs/clinical.md", "/docs/cards"):
        assert client.get(path).status_code == 200, path


def test_the_gallery_shows_every_topic_as_the_service_answers(pages: TestClient) -> None:
    response = pages.get("/docs/cards")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    html = response.text
    shown = re.findall(
        r'<article class="card (\w+)" id="card-([\w-]+)" data-topic="([\w-]+)"', html
    )
    assert {topic for _, _, topic in shown} == TOPICS
    for name, example in EXAMPLES.items():
        in_section = html.split(f'id="example-{name}"')[1].split("</section>")[0]
        assert set(example.expect) <= set(re.findall(r'data-topic="([\w-]+)"', in_section))
    links = re.findall(
        r'<a class="card-link" href="([^"]+)">How this recommendation works</a>', html
    )
    assert len(links) == len(shown)
    assert all(re.fullmatch(rf"{BASE}/docs/clinical#topic-[a-z0-9-]+", link) for link in links)


@pytest.fixture(scope="module")
def examples() -> Iterator[ExampleClient]:
    with example_client(public_base_url=BASE) as client:
        yield client


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_each_example_gives_its_cards_through_the_hook(examples: ExampleClient, name: str) -> None:
    """The same request, posted by an EHR at the example's time, gives the gallery's cards."""
    example = EXAMPLES[name]
    response = examples.post(example)
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    assert set(example.expect) <= {card["source"]["topic"]["code"] for card in cards}
    for card in cards:
        check_card(card)
