"""docs/clinical.md is the generator's output for the shipped content (clinical-logic §6),
with an anchor per topic, and reads as a web page; the command line keeps it in step."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cards.__main__ import main
from cards.catalogue import CardCatalogue
from cards.docs import as_html, generate

DOCS = Path(__file__).resolve().parents[2] / "docs" / "clinical.md"
ANCHOR = re.compile(r'<a id="(topic-[a-z0-9-]+)"></a>')


def test_committed_docs_match_the_content(catalogue: CardCatalogue) -> None:
    assert DOCS.read_text() == generate(catalogue), "run: python -m cards docs"


def test_docs_describe_every_card_order_and_code_gap(catalogue: CardCatalogue) -> None:
    text = generate(catalogue)
    for template in catalogue.templates.values():
        assert f"(`{template.topic}`)" in text
        assert template.rule in text and template.indicator_policy in text
        for variant in template.summary:
            assert variant.text in text
    for order_id, order in catalogue.orders.items():
        assert f"### `{order_id}`" in text
        if order.gap:
            assert order.gap in text
    for heading in ("Intended use", "Intended users", "Population", "Inputs", "Known limitations"):
        assert f"## {heading}" in text
    for name, fact in catalogue.content.facts.items():
        assert f"| `{{{name}}}` | {fact.about} |" in text


def test_each_topic_has_one_anchor_and_no_other_html(catalogue: CardCatalogue) -> None:
    """The target of every card's link (`#topic-<code>`); the page has no other raw HTML."""
    text = generate(catalogue)
    anchors = ANCHOR.findall(text)
    assert sorted(anchors) == sorted(f"topic-{topic}" for topic in catalogue.templates)
    assert not re.search(r"<[A-Za-z/!?]", ANCHOR.sub("", text))


def test_the_page_renders_as_html_with_tables_and_anchors(catalogue: CardCatalogue) -> None:
    html = as_html(generate(catalogue))
    assert html.startswith("<!DOCTYPE html>") and '<meta name="viewport"' in html
    assert "<title>Foot-drop CDS: clinical logic</title>" in html
    assert html.count("<table>") >= 5 and "|---|" not in html
    for topic in catalogue.templates:
        assert f'<h3><a id="topic-{topic}"></a>' in html
    assert "<script" not in html and "http://" not in html.split("</style>")[0]


def test_the_command_regenerates_the_page_in_place(
    catalogue: CardCatalogue, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "clinical.md"
    page.write_text("stale\n")
    assert main(["docs", "--check", "--output", str(page)]) == 1
    assert main(["docs", "--output", str(page)]) == 0
    assert page.read_text() == generate(catalogue)
    assert main(["docs", "--output", str(page)]) == 0
    assert main(["docs", "--check", "--output", str(page)]) == 0
    said = capsys.readouterr().out.splitlines()
    assert [line.split(": ", 1)[1] for line in said] == [
        "out of date: run python -m cards docs",
        "regenerated",
        "already up to date",
        "up to date",
    ]


def test_the_command_shows_each_card_as_a_clinician_sees_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["show", "orthosis", "--base-url", "https://cds.example.org"]) == 0
    out = capsys.readouterr().out
    assert out.count("orthosis · ") == 2  # warning and info, without flags
    assert "SUMMARY (54 characters): Left foot drop, no orthosis on record: consider an AFO" in out
    assert "LINK: How this recommendation works → https://cds.example.org/docs/clinical#" in out
    assert main(["show", "orthosis", "--every-situation"]) == 0
    assert capsys.readouterr().out.count("orthosis · ") == 2 * 20
