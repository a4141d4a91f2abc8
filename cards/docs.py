"""docs/clinical.md, generated from the card content, and the same page as HTML.

The public description of the logic (clinical-logic §6) is built from the same
files the service renders, so the page a card links to cannot drift from the
card. Each topic has its own section with the anchor `#topic-<code>` (the
target of every card's one link). Layout lives here; every clinical sentence
comes from the content files.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from cards.catalogue import (
    ActionTemplate,
    CardCatalogue,
    CardTemplate,
    Content,
    DetailBlock,
    OrderTemplate,
    SourceLabel,
    codings,
    read_toml,
)
from cards.stops import StopKind
from cards.web import html_page, markdown_html

#: Where the page lives in a source checkout (beside the `cards` package).
DOCS_PATH = Path(__file__).resolve().parents[1] / "docs" / "clinical.md"


class Documentation(BaseModel):
    """The prose of the page that belongs to no card (`documentation.toml`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str
    generated: str
    intended_use: str
    users: str
    population: str
    placeholders: str
    inputs: tuple[str, ...]
    display: tuple[str, ...]
    order_select: str
    stops: str
    validation: str
    choices: tuple[str, ...]
    limitations: tuple[str, ...]


def generate(catalogue: CardCatalogue) -> str:
    """The whole page as Markdown."""
    doc = read_toml(catalogue.directory / "documentation.toml", Documentation)
    content = catalogue.content
    templates = list(catalogue.templates.values())
    patient_view = [t for t in templates if "patient-view" in t.hooks]
    order_checks = [t for t in templates if "patient-view" not in t.hooks]
    parts = [
        f"# {doc.title}",
        doc.generated,
        content.version_line,
        "## Intended use",
        doc.intended_use,
        "## Intended users",
        doc.users,
        "## Population",
        doc.population,
        "## Inputs",
        _bullets(doc.inputs),
        "## How cards are shown",
        _bullets(doc.display),
        "## At a glance",
        _overview(templates, catalogue),
        "## Patient-view cards",
        doc.placeholders,
        *(_card(t, catalogue) for t in patient_view),
        "## Order-select and order-sign checks",
        doc.order_select,
        *(_card(t, catalogue) for t in order_checks),
        "## Why a card did not fire",
        doc.stops,
        _stops(catalogue),
        "## Sources named on cards (source.label)",
        _table(("Source", "Label"), _source_rows(content)),
        "## Facts filled in from the record",
        _facts_table(catalogue),
        "## How units read",
        _table(
            ("Unit in the record", "Shown as"),
            ((f"`{unit}`", shown.show("n")) for unit, shown in content.units.items()),
        ),
        "## Order templates",
        *(_order(order_id, order) for order_id, order in sorted(catalogue.orders.items())),
        "## Override reasons",
        _override_reasons(catalogue),
        "## Flags",
        _table(("Flag", "Meaning"), ((f"`{k}`", v) for k, v in content.flags.items())),
        "## Data missing or assumed (notes)",
        _table(("Note", "Wording"), ((f"`{k}`", v) for k, v in content.notes.items())),
        "## Evidence",
        _bullets(
            f"[{ref_id}] {ref.linked_title}, {ref.citation}"
            for ref_id, ref in content.references.items()
        ),
        "## Validation",
        doc.validation,
        "## Choices where the clinical logic is silent",
        _bullets(doc.choices),
        "## Known limitations",
        _bullets(doc.limitations),
        "## Code gaps (codes of confidence B or U, sent as text)",
        _bullets(
            f"`{order_id}`: {order.gap}"
            for order_id, order in sorted(catalogue.orders.items())
            if order.gap
        ),
    ]
    return "\n\n".join(parts) + "\n"


def as_html(markdown: str) -> str:
    """The page for a browser: the generated Markdown (trusted: its only HTML is the
    topic anchors) in the shared page shell."""
    title = markdown.splitlines()[0].lstrip("# ") if markdown else "Foot-drop CDS"
    return html_page(title, markdown_html(markdown, trusted=True))


def regenerate(catalogue: CardCatalogue, path: Path = DOCS_PATH) -> bool:
    """Write the page to `path` if it differs; True when the file changed."""
    text = generate(catalogue)
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{path.parent} does not exist: run from a source checkout")
    path.write_text(text, encoding="utf-8")
    return True


def topic_anchor(template: CardTemplate, catalogue: CardCatalogue) -> str:
    return catalogue.content.link.anchor_for(template.topic)


def _overview(templates: Iterable[CardTemplate], catalogue: CardCatalogue) -> str:
    """One row per card for review: trigger, suggested orders with their codes, evidence."""
    rows = []
    for template in templates:
        orders = []
        for suggestion in template.suggestions:
            for action in suggestion.actions:
                if action.type == "delete":
                    orders.append("remove the selected draft")
                    continue
                codes = ", ".join(
                    str(coding["code"])
                    for coding in codings(catalogue.orders[action.order_id].resource)
                )
                orders.append(f"{suggestion.label} ({codes or 'text only'})")
        refs = ", ".join(f"[{ref}]" for ref in template.cited())
        link = f"[`{template.topic}`](#{topic_anchor(template, catalogue)})"
        rows.append(
            f"| {link} | {', '.join(template.hooks)} | {template.indicator_policy} "
            f"| {template.rule} | {'; '.join(orders) or 'none (information only)'} | {refs} |"
        )
    header = "| Card | Hooks | Indicator | Trigger | Suggested orders (codes) | Evidence |"
    return "\n".join([header, "|---|---|---|---|---|---|", *rows])


def _card(template: CardTemplate, catalogue: CardCatalogue) -> str:
    content = catalogue.content
    facts = ", ".join(f"`{name}`" for name in template.facts) or "none"
    lines = [
        f"- **Hooks:** {', '.join(template.hooks)}",
        f"- **Indicator:** {template.indicator_policy}",
        f"- **Trigger:** {template.rule}",
        *_not_shown(template, catalogue),
        f"- **Source label:** {_source_label(content.sources[template.source])}",
        f"- **Basis:** {template.basis}",
        f"- **Facts:** {facts}",
    ]
    if template.exclusive:
        groups = "; ".join(
            " / ".join(f"`{flag}`" for flag in group) for group in template.exclusive
        )
        lines.append(f"- **Flags that exclude each other:** {groups}")
    if template.suggestions:
        lines.append(f"- **Suggestions** (selectionBehavior `{template.selection_behavior}`):")
        for suggestion in template.suggestions:
            mark = " (recommended)" if suggestion.recommended else ""
            actions = "; ".join(_action(action, catalogue) for action in suggestion.actions)
            lines.append(f"  - `{suggestion.id}`: {suggestion.label}{mark}. {actions}")
    if template.override_reasons:
        reasons = "; ".join(
            f"{r.display} (`{r.code}`" + (f", {r.describe()}" if r.conditional else "") + ")"
            for r in template.override_reasons
        )
        lines.append(f"- **Override reasons** ({content.override_reason_system}): {reasons}")
    if template.snoozable:
        days = content.snooze.format(days="CDS_SNOOZE_DAYS")
        where = "not when critical; said in Why this card"
        lines.append(f"- **Snoozed by an override** ({where}): {days}")
    cited = template.cited()
    if cited:
        refs = "; ".join(f"[{ref}] {content.references[ref].title}" for ref in cited)
        lines.append(f"- **Evidence:** {refs}")
    default = "otherwise" if len(template.summary) > 1 else "always"
    summaries = [
        f"{number}. *{variant.describe() if variant.conditional else default}:* {variant.text}"
        for number, variant in enumerate(template.summary, start=1)
    ]
    paragraphs = [
        f"{number}. *{_paragraph_role(block)}:* {block.text}"
        for number, block in enumerate(template.detail, start=1)
    ]
    heading = (
        f'### <a id="{topic_anchor(template, catalogue)}"></a>'
        f"{template.display} (`{template.topic}`)"
    )
    return "\n\n".join(
        [
            heading,
            "\n".join(lines),
            "**Summary** — the first that applies:",
            "\n".join(summaries),
            "**Detail** — the paragraphs that apply, in this order, then “Why this card”:",
            "\n".join(paragraphs),
        ]
    )


def _source_label(source: SourceLabel) -> str:
    """Each variant with its conditions, then the default label."""
    variants = [f"*{v.describe()}:* {v.label}" for v in source.variants]
    return "; ".join([*variants, ("*otherwise:* " if variants else "") + source.label])


def _source_rows(content: Content) -> Iterator[tuple[str, str]]:
    for key, source in content.sources.items():
        yield f"`{key}`", _source_label(source)


def _paragraph_role(block: DetailBlock) -> str:
    role = [block.describe()]
    if block.action:
        role.append("the action")
    if block.section == "basis":
        role.append("in Why this card")
    return ", ".join(role)


def _facts_table(catalogue: CardCatalogue) -> str:
    used: dict[str, list[str]] = {}
    for template in catalogue.templates.values():
        for name in template.facts:
            used.setdefault(name, []).append(f"`{template.topic}`")
    lines = [
        "| Fact | Meaning | Example | Longest (characters, words) | Cards |",
        "|---|---|---|---|---|",
    ]
    for name, fact in catalogue.content.facts.items():
        cards = ", ".join(used.get(name, [])) or "none"
        lines.append(
            f"| `{{{name}}}` | {fact.about} | {fact.example} "
            f"| {fact.max_length}, {fact.max_words} | {cards} |"
        )
    return "\n".join(lines)


def _override_reasons(catalogue: CardCatalogue) -> str:
    """The standard reasons every card offers, and how our own codes map onto standard ones."""
    reasons = catalogue.reasons
    offered = [
        (f"`{code}`", reasons.standard[code].display, f"`{reasons.category_of(code)}`")
        for code in catalogue.content.override_reasons.offered
    ]
    ours = [
        (
            f"`{code}`",
            local.relation,
            f"`{local.standard}` {reasons.standard[local.standard].display}",
        )
        for code, local in reasons.local.items()
    ]
    return "\n\n".join(
        [
            f"Offered on every card ({reasons.standard_system}):",
            _table(("Code", "Display", "Category"), offered),
            f"Our own codes ({catalogue.content.override_reason_system}) in the analytics:",
            _table(("Code", "Relation", "Standard code"), ours),
        ]
    )


def _action(action: ActionTemplate, catalogue: CardCatalogue) -> str:
    if action.type == "delete":
        return "delete the target draft (resourceId)"
    order = catalogue.orders[action.order_id]
    changes = [f"{name} {json.dumps(value)}" for name, value in action.set_fields.items()]
    if action.copy_fields:
        changes.append(f"{', '.join(action.copy_fields)} from the order template")
    if action.remove:
        changes.append(f"without {', '.join(action.remove)}")
    subject = "new" if action.type == "create" else "the target"
    text = f"{action.type} {subject} {order.resource_type} from `{action.order_id}`"
    return text + (f" with {'; '.join(changes)}" if changes else "")


def _order(order_id: str, order: OrderTemplate) -> str:
    coded = [
        f"{coding['system']} {coding['code']}"
        + (f" “{coding['display']}”" if "display" in coding else "")
        for coding in codings(order.resource)
    ]
    sources = [
        f"{source.row}: {source.confidence}" + (f" ({source.note})" if source.note else "")
        for source in order.sources
    ]
    lines = [
        f"- **Resource:** {order.resource_type}",
        f"- **Codes:** {'; '.join(coded) or 'none (text only)'}",
        f"- **Source rows:** {'; '.join(sources)}",
    ]
    if order.gap:
        lines.append(f"- **Gap:** {order.gap}")
    body = json.dumps(order.resource, indent=2, ensure_ascii=False)
    return "\n\n".join(
        [f"### `{order_id}`: {order.title}", "\n".join(lines), f"```json\n{body}\n```"]
    )


def _bullets(items: Iterable[str]) -> str:
    return "\n".join(f"- {item}" for item in items)


def _not_shown(template: CardTemplate, catalogue: CardCatalogue) -> list[str]:
    """The rule's own stopping conditions, as the rule trace names them."""
    stops = catalogue.stops.of_topic(template.topic)
    if not stops:
        return []
    return [
        "- **Not shown when** (the rule trace names the first that applies; see "
        "[Why a card did not fire](#why-a-card-did-not-fire)):",
        *(f"  - `{code}`: {stop.reason}" for code, stop in stops.items()),
    ]


def _stops(catalogue: CardCatalogue) -> str:
    """Every stopping condition the rule trace may name, by kind, with its sentence."""
    kinds: dict[StopKind, str] = {
        "population": "population",
        "rule": "rule",
        "pipeline": "response",
    }
    return _table(
        ("Condition", "Stops", "Meaning"),
        (
            (f"`{code}`", kinds[stop.kind], stop.reason)
            for kind in kinds
            for code, stop in catalogue.stops.of_kind(kind).items()
        ),
    )


def _table(header: tuple[str, ...], rows: Iterable[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
