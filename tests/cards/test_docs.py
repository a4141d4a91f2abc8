"""docs/clinical.md is the generator's output for the shipped content (clinical-logic §6)."""

from __future__ import annotations

from pathlib import Path

from cards.__main__ import main
from cards.catalogue import CardCatalogue
from cards.docs import generate

DOCS = Path(__file__).resolve().parents[2] / "docs" / "clinical.md"


def test_committed_docs_match_the_content(catalogue: CardCatalogue) -> None:
    assert DOCS.read_text() == generate(catalogue), "run: footdrop-cds docs"


def test_docs_describe_every_card_order_and_code_gap(catalogue: CardCatalogue) -> None:
    text = generate(catalogue)
    for template in catalogue.templates.values():
        assert f"(`{template.topic}`)" in text
        assert template.rule in text and template.indicator_policy in text
    for order_id, order in catalogue.orders.items():
        assert f"### `{order_id}`" in text
        if order.gap:
            assert order.gap in text
    for heading in ("Intended use", "Intended users", "Population", "Inputs", "Known limitations"):
        assert f"## {heading}" in text


def test_the_command_prints_the_docs(catalogue: CardCatalogue, capsys: object) -> None:
    assert main(["docs", "--stdout"]) == 0
    assert capsys.readouterr().out == generate(catalogue)  # type: ignore[attr-defined]
