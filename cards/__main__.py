"""`python -m cards docs`: regenerates docs/clinical.md from the card content, in place.

The same as `footdrop-cds docs`; `--check` only says whether the file is current
(exit 1 if not), `--stdout` prints the page instead of writing it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cards.catalogue import CardCatalogue
from cards.docs import DOCS_PATH, generate, regenerate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cards", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    docs = commands.add_parser("docs", help="regenerate docs/clinical.md from the card content")
    docs.add_argument("--output", type=Path, default=DOCS_PATH, help="file to write")
    mode = docs.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 if the file is out of date")
    mode.add_argument("--stdout", action="store_true", help="print the page instead")
    args = parser.parse_args(argv)
    catalogue = CardCatalogue.load()
    if args.stdout:
        sys.stdout.write(generate(catalogue))
        return 0
    output: Path = args.output
    if args.check:
        current = output.is_file() and output.read_text(encoding="utf-8") == generate(catalogue)
        print(f"{output}: {'up to date' if current else 'out of date (run footdrop-cds docs)'}")
        return 0 if current else 1
    try:
        changed = regenerate(catalogue, output)
    except FileNotFoundError as error:
        print(f"python -m cards docs: {error}; pass --output", file=sys.stderr)
        return 2
    print(f"{output}: {'regenerated' if changed else 'already up to date'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
