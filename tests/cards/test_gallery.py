"""The card gallery's examples and layout (the service runs them: tests/http/test_pages.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cards.catalogue import CardCatalogue, ContentError
from cards.gallery import Shown, gallery_html, load_examples
from cards.preview import previews


def test_the_examples_cover_every_topic(catalogue: CardCatalogue) -> None:
    expected = {topic for _, example in load_examples() for topic in example.expect}
    assert expected == set(catalogue.templates)


def test_a_bad_example_names_its_file(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text('{"title": "no request"}')
    with pytest.raises(ContentError, match=r"bad\.json"):
        load_examples(tmp_path)


def test_cards_are_laid_out_as_an_ehr_shows_them(catalogue: CardCatalogue) -> None:
    template = catalogue.templates["orthosis"]
    [preview, *_] = previews(template, catalogue, "https://cds.example.org/docs/clinical")
    card = preview.card.model_copy(update={"summary": "<b>Left</b> & right"})
    name, example = load_examples()[0]
    html = gallery_html([Shown(name, example, [card])])
    assert '<article class="card warning" id="card-' in html and 'data-topic="orthosis"' in html
    assert '<p class="summary">&lt;b&gt;Left&lt;/b&gt; &amp; right</p>' in html
    assert "<h3>Why this card</h3>" in html and "<strong>" in html and "**" not in html
    assert html.count('<button type="button" class="suggestion') == 3
    assert '<button type="button" class="suggestion recommended">Orthotist referral' in html
    assert (
        '<a class="card-link" href="https://cds.example.org/docs/clinical#topic-orthosis">'
        "How this recommendation works</a>"
    ) in html
