"""The card gallery: every card topic as an EHR shows it, from example patients.

Each example is a reviewable data file (`gallery/<name>.json`): a CDS Hooks
request for one service, the request time it is run at, and the topics it must
show. The service runs each example through its real pipeline and hands the
cards here (this package never imports the service); this module lays them out
as an EHR would — the summary coloured by indicator, the detail rendered as
GitHub-flavoured Markdown, a button per suggestion, the link — so a clinician
can review all card content on one page.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from cards.catalogue import ContentError, read_toml
from cards.model import BASIS_EXTENSION, Card
from cards.web import html_page, markdown_html

GALLERY = Path(__file__).parent / "gallery"


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GalleryExample(_Data):
    """One example patient and the hook call an EHR would make for them."""

    title: str = Field(min_length=1)
    about: str = Field(min_length=1)
    service: str = Field(min_length=1)
    now: AwareDatetime
    """The request time the example is run at, so that its cards never change with the date."""
    expect: tuple[str, ...] = Field(min_length=1)
    """Topics this example must show (a test holds it to this)."""
    request: dict[str, object]


class GalleryPage(_Data):
    """The words of the page around the cards (`gallery/page.toml`)."""

    title: str
    intro: str
    index_heading: str
    examples_heading: str
    request_time: str
    no_cards: str
    source: str
    override_reasons: str
    basis: str


@dataclass(frozen=True)
class Shown:
    """An example and the cards the service gave for it."""

    name: str
    example: GalleryExample
    cards: Sequence[Card]

    @property
    def anchor(self) -> str:
        return f"example-{self.name}"


def load_examples(directory: Path = GALLERY) -> list[tuple[str, GalleryExample]]:
    """Every example, by file name; a bad file raises `ContentError` naming it."""
    examples = []
    for path in sorted(directory.glob("*.json")):
        try:
            examples.append(
                (path.stem, GalleryExample.model_validate(json.loads(path.read_text())))
            )
        except ValueError as error:
            raise ContentError(f"{path}: {error}") from error
    if not examples:
        raise ContentError(f"{directory}: no example files")
    return examples


def gallery_html(shown: Sequence[Shown], directory: Path = GALLERY) -> str:
    """The whole gallery page: an index of topics, then each example with its cards."""
    page = read_toml(directory / "page.toml", GalleryPage)
    first_seen: dict[str, str] = {}
    for item in shown:
        for number, card in enumerate(item.cards, start=1):
            first_seen.setdefault(_topic(card), f"card-{item.name}-{number}")
    index = "".join(
        f'<li><a href="#{anchor}">{escape(topic)}</a></li>'
        for topic, anchor in sorted(first_seen.items())
    )
    sections = "".join(_example(item, page) for item in shown)
    body = (
        f"<h1>{escape(page.title)}</h1>\n{markdown_html(page.intro)}"
        f'<nav class="toc"><h2>{escape(page.index_heading)}</h2><ul>{index}</ul></nav>\n'
        f"<h2>{escape(page.examples_heading)}</h2>\n{sections}"
    )
    return html_page(page.title, body)


def _example(item: Shown, page: GalleryPage) -> str:
    example = item.example
    when = page.request_time.format(
        service=example.service, time=example.now.isoformat(timespec="minutes")
    )
    cards = "".join(
        card_html(card, f"card-{item.name}-{number}", page)
        for number, card in enumerate(item.cards, start=1)
    )
    return (
        f'<section class="example" id="{item.anchor}">\n'
        f"<h3>{escape(example.title)}</h3>\n<p>{escape(example.about)}</p>\n"
        f'<p class="meta">{escape(when)}</p>\n'
        f"{cards or f'<p>{escape(page.no_cards)}</p>'}</section>\n"
    )


def card_html(card: Card, anchor: str, words: GalleryPage) -> str:
    """One card as an EHR shows it."""
    buttons = "".join(
        f'<button type="button" class="suggestion{" recommended" if s.isRecommended else ""}">'
        f"{escape(s.label)}</button>"
        for s in card.suggestions or []
    )
    links = "".join(
        f'<a class="card-link" href="{escape(link.url)}">{escape(link.label)}</a>'
        for link in card.links or []
    )
    reasons = "; ".join(reason.display or reason.code for reason in card.overrideReasons or [])
    basis = ", ".join((card.extension or {}).get(BASIS_EXTENSION, []))
    meta = [f"{words.source}: {card.source.label}"]
    if reasons:
        meta.append(f"{words.override_reasons}: {reasons}")
    if basis:
        meta.append(f"{words.basis}: {basis}")
    return (
        f'<article class="card {card.indicator}" id="{anchor}" data-topic="{escape(_topic(card))}" '
        f'data-indicator="{card.indicator}">\n'
        f'<header><span class="indicator">{card.indicator}</span>'
        f'<p class="summary">{escape(card.summary)}</p></header>\n'
        f'<div class="detail">{markdown_html(card.detail or "")}</div>\n'
        + (f'<div class="suggestions">{buttons}</div>\n' if buttons else "")
        + f'<div class="links">{links}</div>\n'
        + "".join(f'<p class="source">{escape(line)}</p>\n' for line in meta)
        + "</article>\n"
    )


def _topic(card: Card) -> str:
    return card.source.topic.code if card.source.topic else ""
