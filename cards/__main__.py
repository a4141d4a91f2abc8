"""Command line for the card content.

    python -m cards docs            regenerate docs/clinical.md in place
    python -m cards docs --check    exit 1 if docs/clinical.md is out of date
    python -m cards show [TOPIC…]   print each card as a clinician sees it

`show` renders every template with the real renderer and the example facts of
content.toml, once per hook and indicator (`--every-situation`: also for each
combination of its flags). Cards for example patients, run through the whole
service, are on its card gallery page (/docs/cards).
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from cards.catalogue import DETAIL_WORD_LIMIT, CardCatalogue, word_count
from cards.docs import DOCS_PATH, generate, regenerate
from cards.preview import Preview, previews


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cards", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    docs = commands.add_parser("docs", help="regenerate docs/clinical.md from the card content")
    docs.add_argument("--output", type=Path, default=DOCS_PATH, help="the file to write")
    docs.add_argument("--check", action="store_true", help="exit 1 if the file is out of date")
    show = commands.add_parser("show", help="print each card as a clinician sees it")
    show.add_argument("topics", nargs="*", help="card topics (default: all)")
    show.add_argument("--every-situation", action="store_true", help="each flag combination too")
    show.add_argument(
        "--base-url", default="http://127.0.0.1:8080", help="CDS_PUBLIC_BASE_URL for the links"
    )
    args = parser.parse_args(argv)
    catalogue = CardCatalogue.load()
    if args.command == "docs":
        return _docs(catalogue, args.output, check=args.check)
    unknown = sorted(set(args.topics) - set(catalogue.templates))
    if unknown:
        parser.error(f"unknown topics {unknown}; known: {', '.join(sorted(catalogue.templates))}")
    for topic in args.topics or sorted(catalogue.templates):
        template = catalogue.templates[topic]
        docs_url = f"{args.base_url.rstrip('/')}/docs/clinical"
        for preview in previews(
            template, catalogue, docs_url, every_situation=args.every_situation
        ):
            sys.stdout.write(_as_text(topic, preview))
    return 0


def _docs(catalogue: CardCatalogue, output: Path, *, check: bool) -> int:
    if check:
        current = output.is_file() and output.read_text(encoding="utf-8") == generate(catalogue)
        print(f"{output}: {'up to date' if current else 'out of date: run python -m cards docs'}")
        return 0 if current else 1
    changed = regenerate(catalogue, output)
    print(f"{output}: {'regenerated' if changed else 'already up to date'}")
    return 0


def _as_text(topic: str, preview: Preview) -> str:
    """One card for a terminal: what an EHR shows, then the parts it keeps behind a click."""
    card, situation = preview.card, preview.situation
    flags = ", ".join(sorted(situation.flags)) or "none"
    detail = card.detail or ""
    body = detail.split("\n\n---\n\n", 1)[0]
    words = word_count(body)
    limit = f" (limit {DETAIL_WORD_LIMIT})" if card.indicator != "critical" else ""
    lines = [
        "=" * 78,
        f"{topic} · {card.indicator} · {situation.hook} · flags: {flags}",
        f"SUMMARY ({len(card.summary)} characters): {card.summary}",
        f"DETAIL ({words} words before Why this card{limit}):",
        textwrap.indent(detail, "    "),
    ]
    lines += [f"SUGGESTION: [{s.label}]" for s in card.suggestions or []]
    lines += [f"LINK: {link.label} → {link.url}" for link in card.links or []]
    lines.append(f"SOURCE: {card.source.label} ({card.source.url})")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
