"""Every card every template can produce holds to clinical-logic v3 §1, whatever a
clinician edits in the content: rendered by the real renderer in every situation
(each flag combination, hook and indicator) with every fact at its declared worst case.

- summary under 140 characters without shortening, no resource ids, no code notation;
- detail: the action first; `info` and `warning` at most 80 words before "Why this card";
- no UCUM annotation and no `Type/id` anywhere a clinician reads;
- "Why this card" cites exactly the references the shown sentences cite, each once;
- one link, "How this recommendation works", to the topic's anchor on the docs page;
  `source.url` the docs page, `source.label` the template's source (the variant for the
  card's flags: the EU dalfampridine label where the site follows it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from cards.catalogue import (
    DETAIL_WORD_LIMIT,
    UCUM_ANNOTATION,
    CardCatalogue,
    CardTemplate,
    citations,
    code_notation,
    resource_references,
    word_count,
)
from cards.docs import generate
from cards.model import Card
from cards.preview import Preview, previews

DOCS_URL = "https://cds.example.org/docs/clinical"
CATALOGUE = CardCatalogue.load()
WHY = "\n\n---\n\n### Why this card\n\n"


def _worst(template: CardTemplate, *, words: bool) -> dict[str, str]:
    facts = CATALOGUE.content.facts
    return {name: facts[name].worst_case(words=words) for name in template.facts}


def _cards(template: CardTemplate, *, words: bool) -> Iterator[Preview]:
    yield from previews(template, CATALOGUE, DOCS_URL, facts=_worst(template, words=words))


def _body_and_why(card: Card) -> tuple[str, str]:
    body, why = (card.detail or "").split(WHY)
    return body, why


TEMPLATES = sorted(CATALOGUE.templates.values(), key=lambda t: t.topic)


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.topic)
def test_summaries_fit_with_every_fact_at_its_longest(template: CardTemplate) -> None:
    longest = _worst(template, words=False)
    for preview in _cards(template, words=False):
        summary = preview.card.summary
        assert len(summary) < 140
        assert summary == template.summary_for(preview.situation).text.format_map(longest)
        assert not resource_references(summary) and not code_notation(summary)
        assert not UCUM_ANNOTATION.search(summary)


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.topic)
def test_details_lead_with_the_action_within_the_word_limit(template: CardTemplate) -> None:
    wordiest = _worst(template, words=True)
    for preview in _cards(template, words=True):
        body, _ = _body_and_why(preview.card)
        first = template.blocks_for(preview.situation)[0]
        assert first.action and body.startswith(first.text.format_map(wordiest))
        if preview.card.indicator in ("info", "warning"):
            assert word_count(body) <= DETAIL_WORD_LIMIT, (preview.situation, word_count(body))


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.topic)
def test_no_ids_or_ucum_annotations_where_a_clinician_reads(template: CardTemplate) -> None:
    for preview in _cards(template, words=True):
        card = preview.card
        readable = [card.summary, card.detail or "", *(s.label for s in card.suggestions or [])]
        for text in readable:
            assert not resource_references(text), text
            assert not UCUM_ANNOTATION.search(text.replace("\\{", "")), text


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.topic)
def test_why_this_card_cites_what_the_card_says_once(template: CardTemplate) -> None:
    references = CATALOGUE.content.references
    for preview in _cards(template, words=True):
        body, why = _body_and_why(preview.card)
        listed = re.findall(r"^- \[([^\]]+)\] ", why, flags=re.MULTILINE)
        basis_and_rule = why.split("**Evidence:**")[0]
        cited = dict.fromkeys(citations(body) + citations(basis_and_rule))
        assert listed == list(cited), preview.situation
        for ref in listed:
            assert why.count(references[ref].linked_title) == 1
        assert why.endswith(f"{CATALOGUE.content.version_line}\n\n{CATALOGUE.content.disclaimer}")


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.topic)
def test_one_link_to_the_topic_anchor_and_the_source(template: CardTemplate) -> None:
    anchors = re.findall(r'<a id="([^"]+)"></a>', generate(CATALOGUE))
    for preview in _cards(template, words=False):
        card = preview.card
        assert [(link.label, link.url, link.type) for link in card.links or []] == [
            ("How this recommendation works", f"{DOCS_URL}#topic-{template.topic}", "absolute")
        ]
        assert f"topic-{template.topic}" in anchors
        assert card.source.url == DOCS_URL
        source = CATALOGUE.content.sources[template.source]
        assert card.source.label == source.label_for(preview.situation)
