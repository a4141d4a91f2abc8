"""``python -m mappings review [--feature X]``: the value sets as a plain table for sign-off.

Clinicians review codes, not JSON; this prints every entry with its confidence and legacy
flag so the table can be checked against codes.md line by line.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mappings.matcher import CPT, HCPCS, ICD10CM, LOCAL, LOINC, RXNORM, SNOMED, ValueSetIndex

SHORT = {SNOMED: "SCT", ICD10CM: "ICD", LOINC: "LN", RXNORM: "RX", HCPCS: "HCPCS", CPT: "CPT"}
SHORT[LOCAL] = "LOCAL"
HEADER = ("feature", "system", "code or family", "display", "confidence", "legacy")


def review_rows(index: ValueSetIndex, features: Sequence[str]) -> list[tuple[str, ...]]:
    """One row per explicit concept and per ICD family; a placeholder row for empty sets."""
    rows: list[tuple[str, ...]] = []
    for feature in features:
        entries = [(m, m.code) for m in index.concepts(feature)]
        entries += [(m, f"{m.code} (is-a)") for m in index.families(feature)]
        if not entries:
            rows.append((feature, "-", "(none: site-extensible)", "-", "-", "-"))
        for m, code in entries:
            legacy = "legacy" if m.legacy else ""
            rows.append((feature, SHORT[m.system], code, m.display, m.confidence, legacy))
    return rows


def format_table(rows: Sequence[tuple[str, ...]]) -> str:
    """Left-aligned columns separated by two spaces, with a header rule."""
    table = [HEADER, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(HEADER))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in table
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mappings", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    review = commands.add_parser("review", help="print every value set for clinical sign-off")
    review.add_argument("--feature", action="append", help="only this feature (repeatable)")
    args = parser.parse_args(argv)

    index = ValueSetIndex.load()
    features = args.feature or sorted(index.features)
    unknown = sorted(set(features) - index.features)
    if unknown:
        parser.error(f"unknown feature(s): {', '.join(unknown)}")
    print(format_table(review_rows(index, features)))
    print()
    print("systems: " + "; ".join(f"{short} = {uri}" for uri, short in SHORT.items()))
    print(
        "confidence: V verified; V-ICD checked against the CMS ICD-10-CM tabular; "
        "B believed, verify before use; U no trustworthy code. legacy: recognised only, "
        "never put on a new order."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
