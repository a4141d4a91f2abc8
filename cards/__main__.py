"""Command line for the card content: `python -m cards docs` prints docs/clinical.md."""

from __future__ import annotations

import argparse
import sys

from cards.catalogue import CardCatalogue
from cards.docs import generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cards", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("docs", help="print docs/clinical.md generated from the card content")
    parser.parse_args(argv)
    sys.stdout.write(generate(CardCatalogue.load()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
