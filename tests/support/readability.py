"""What a clinician reads on a card, held to clinical-logic v3 §1 ("Show the basis",
"Cards a clinician can read in seconds"): each rule a named problem, so that one run
over every card lists every defect at once (tests/cards/test_readability.py).

`problems(card, hook, catalogue)` checks a card as the service sent it (JSON):

- no resource id (`Type/id`) anywhere a clinician reads;
- the summary under 140 characters, whole: it is one of its template's summary
  variants with every placeholder filled (so no fixed word is cut off), and it
  never ends in an ellipsis;
- `info` and `warning` detail at most 80 words before "Why this card";
- one link, "How this recommendation works"; no reference link both in the
  detail and among the links, and each reference once in the detail;
- no parentheses inside parentheses in the summary (a record pasted in, not plain
  words); units as a clinician writes them ("kg/m²", not "kg/m2");
- no UCUM annotation or other curly braces, no code-system notation (`http://`,
  `urn:`, `system|code`) outside the Markdown link targets of the references;
- "Why this card": each record once (listed once, and not restated by the rule
  or the computation after the list), the content version and the disclaimer;
- with the patient's features, only references behind what the card says for this
  patient: no disc-herniation summary [4] on a first-line card when only another
  cause is coded, no stroke or central-FES source without a central cause;
- a contraindication summary says "contraindicated"; a red-flag card for a new
  bilateral foot drop says "bilateral" (`bilateral_trigger`); an order-sign card
  never says "selected".
"""

from __future__ import annotations

import re
import string
from typing import Any

from cards.catalogue import DETAIL_WORD_LIMIT, CardCatalogue, resource_references, word_count
from cards.model import SUMMARY_LIMIT
from service.clinical.features import PatientFeatures
from service.clinical.shared import OTHER_CAUSES, SPINAL_CAUSES

Json = dict[str, Any]

WHY = "\n\n---\n\n### Why this card\n\n"
ONE_LINK = "How this recommendation works"
#: Topics whose summary names a contraindication.
CONTRAINDICATION_TOPICS = frozenset({"dalfampridine-contraindicated"})
RED_FLAG = "red-flag-urgent-evaluation"
_LINK_TARGET = re.compile(r"\]\((https?://[^)\s]+)\)")
_NOTATION = re.compile(r"https?://|urn:|\b\w+\|\w+")
_ELLIPSIS = ("…", "...")
#: A unit as a code, not as a clinician writes it ("kg/m2" for kg/m², "[lb_av]", "umol/L").
_UNIT_CODE = re.compile(r"\d\s*(?:mL/min/1\.73_?m2|kg/m2|umol/L|\[[a-z_]+\]|10\*\d/uL)")
#: Parentheses inside parentheses: a record pasted into a summary, not plain words.
_NESTED = re.compile(r"\([^()]*\(")
_SELECTED = re.compile(r"\bselected\b", re.IGNORECASE)
#: "- [4] [Title](url)…" lines of the Evidence list.
_CITED = re.compile(r"^- \[([^\]]+)\] \[", re.MULTILINE)
#: Cards about the spinal pathway itself, for which the disc-herniation summary [4] is
#: always behind what they say (cauda equina decompression, discectomy, lumbar imaging).
SPINAL_TOPICS = frozenset(
    {
        RED_FLAG,
        "stat-imaging",
        "stat-referral",
        "disc-surgery-referral",
        "fusion-not-indicated",
        "localization-workup",
    }
)
#: Sources about central foot drop (stroke rehabilitation, FES of central origin).
CENTRAL_REFERENCES = frozenset({"AHA-ASA-2016", "NICE-IPG278"})


def readable_texts(card: Json) -> dict[str, str]:
    """Every text of the card a clinician reads, by where it is."""
    texts = {
        "summary": card["summary"],
        "detail": card.get("detail", ""),
        "source.label": card["source"]["label"],
    }
    for i, suggestion in enumerate(card.get("suggestions", [])):
        texts[f"suggestions[{i}].label"] = suggestion["label"]
        for j, action in enumerate(suggestion.get("actions", [])):
            texts[f"suggestions[{i}].actions[{j}].description"] = action["description"]
    for i, reason in enumerate(card.get("overrideReasons", [])):
        texts[f"overrideReasons[{i}].display"] = reason.get("display", "")
    for i, link in enumerate(card.get("links", [])):
        texts[f"links[{i}].label"] = link["label"]
    return texts


def summary_pattern(text: str) -> re.Pattern[str]:
    """A summary variant as a pattern: its fixed words literal, each placeholder one or
    more characters."""
    parts = []
    for literal, name, _, _ in string.Formatter().parse(text):
        parts.append(re.escape(literal))
        if name is not None:
            parts.append(".+")
    return re.compile("".join(parts), re.DOTALL)


def problems(
    card: Json,
    hook: str,
    catalogue: CardCatalogue,
    *,
    bilateral_trigger: bool = False,
    features: PatientFeatures | None = None,
) -> list[str]:
    """Every way this card breaks §1, in words; empty when it reads as it should.

    With the patient's `features`, references must also be behind what the card says
    for this patient (`unrelated_references`)."""
    found: list[str] = []
    topic = card["source"]["topic"]["code"]
    summary, detail = card["summary"], card.get("detail", "")
    texts = readable_texts(card)
    for where, text in texts.items():
        refs = resource_references(text)
        if refs:
            found.append(f"resource id {refs} in {where}")
        if "{" in text or "}" in text:
            found.append(f"curly braces (UCUM annotation?) in {where}: {_around(text, '{}')}")
        notation = _NOTATION.findall(_LINK_TARGET.sub("]()", text))
        if notation:
            found.append(f"code-system notation {notation} in {where}")
        units = _UNIT_CODE.findall(text)
        if units:
            found.append(f"units as codes {units} in {where}")
    if len(summary) >= SUMMARY_LIMIT:
        found.append(f"summary is {len(summary)} characters (limit {SUMMARY_LIMIT - 1})")
    if summary.rstrip().endswith(_ELLIPSIS):
        found.append(f"summary ends in an ellipsis: {summary!r}")
    if _NESTED.search(summary):
        found.append(f"summary nests parentheses (a record pasted in?): {summary!r}")
    template = catalogue.templates.get(topic)
    if template is None:
        found.append(f"no template for topic {topic!r}")
    elif not any(summary_pattern(v.text).fullmatch(summary) for v in template.summary):
        found.append(f"summary is none of its template's variants (cut?): {summary!r}")
    if WHY not in detail:
        found.append("no 'Why this card' section")
        body, why = detail, ""
    else:
        body, why = detail.split(WHY, 1)
    if card["indicator"] in ("info", "warning") and word_count(body) > DETAIL_WORD_LIMIT:
        found.append(f"{word_count(body)} words before 'Why this card' (limit {DETAIL_WORD_LIMIT})")
    found += _link_problems(card, detail)
    found += _why_problems(why, catalogue)
    if topic in CONTRAINDICATION_TOPICS and "contraindicated" not in summary.lower():
        found.append(f"contraindication summary without 'contraindicated': {summary!r}")
    if bilateral_trigger and topic == RED_FLAG and "bilateral" not in summary.lower():
        found.append(f"new bilateral foot drop, summary without 'bilateral': {summary!r}")
    if features is not None:
        found += [
            f"cites [{ref}] ({catalogue.content.references[ref].title}), unrelated here: {why}"
            for ref, why in unrelated_references(topic, detail, features)
        ]
    if hook == "order-sign":
        for where, text in texts.items():
            if _SELECTED.search(text):
                found.append(f"'selected' at order-sign in {where}: {_around(text, 'selected')}")
    return found


def _has(features: PatientFeatures, names: tuple[str, ...]) -> bool:
    return any(getattr(features, name) for name in names)


def unrelated_references(
    topic: str, detail: str, features: PatientFeatures
) -> list[tuple[str, str]]:
    """References a card cites that nothing recorded for this patient puts behind it: the
    disc-herniation summary [4] on a first-line card when only a peripheral or central
    cause is coded, the stroke and central-FES sources without a central cause."""
    cited = set(_CITED.findall(detail))
    unrelated = []
    if "4" in cited and topic not in SPINAL_TOPICS:
        spinal = _has(features, SPINAL_CAUSES)
        if not spinal and _has(features, OTHER_CAUSES):
            unrelated.append(("4", "no spinal cause is coded, and another cause is"))
    for ref in CENTRAL_REFERENCES & cited:
        if not features.central_cause:
            unrelated.append((ref, "no central cause is coded"))
    return unrelated


def _link_problems(card: Json, detail: str) -> list[str]:
    found = []
    links = card.get("links", [])
    if len(links) != 1:
        found.append(f"{len(links)} links (one: {ONE_LINK!r})")
    for link in links:
        if link["label"] != ONE_LINK:
            found.append(f"link {link['label']!r} is not {ONE_LINK!r}")
        if link["url"] in detail:
            found.append(f"link {link['url']} is also in the detail")
    targets = _LINK_TARGET.findall(detail)
    repeated = sorted({url for url in targets if targets.count(url) > 1})
    if repeated:
        found.append(f"references listed more than once in the detail: {repeated}")
    return found


def _why_problems(why: str, catalogue: CardCatalogue) -> list[str]:
    if not why:
        return []
    found = []
    content = catalogue.content
    records = why.split(f"**{content.why.data_used}**", 1)[-1].strip().split("\n\n", 1)[0]
    lines = [line for line in records.splitlines() if line.startswith("- ")]
    repeated = sorted({line for line in lines if lines.count(line) > 1})
    if repeated:
        found.append(f"records listed more than once in 'Why this card': {repeated}")
    rest = why.replace(records, "", 1)
    restated = sorted({line[2:] for line in lines if line[2:] in rest})
    if restated:
        found.append(f"records restated after the data used in 'Why this card': {restated}")
    if content.version_line not in why:
        found.append("no content version in 'Why this card'")
    if not why.rstrip().endswith(content.disclaimer):
        found.append(f"'Why this card' does not end with {content.disclaimer!r}")
    return found


def _around(text: str, needle: str) -> str:
    """A few words of `text` around the first of `needle`'s characters or the word."""
    index = (
        text.find(needle)
        if len(needle) > 2
        else min((i for i in (text.find(c) for c in needle) if i >= 0), default=0)
    )
    return repr(text[max(0, index - 30) : index + 30])
