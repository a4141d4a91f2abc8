"""``python -m mappings review | expand``: the value sets for sign-off, and their expansions.

``review [--feature X]`` prints every reviewed entry as a plain table (clinicians review
codes, not JSON) with its confidence, whether it may be emitted, and how many codes it puts
in the expansion, so the table can be checked against codes.md and codes-v3.md line by line.

``expand [--check]`` recomputes every ``ValueSet.expansion`` (ICD-10-CM families from the
code set, published sets from ``mappings/published``) and rewrites the files that changed;
with ``--check`` it only reports them and exits 1, for CI.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mappings.matcher import (
    CPT,
    DEFAULT_DIRECTORY,
    DICOM,
    FAMILY_URL,
    HCPCS,
    ICD10CM,
    LOCAL,
    LOINC,
    PUBLISHED_URL,
    RXNORM,
    SNOMED,
    ConceptMatch,
    EntryFlags,
    read_compose,
)
from mappings.published import load_sources

SHORT = {SNOMED: "SCT", ICD10CM: "ICD", LOINC: "LN", RXNORM: "RX", HCPCS: "HCPCS", CPT: "CPT"}
SHORT.update({DICOM: "DCM", LOCAL: "LOCAL"})
HEADER = ("feature", "system", "code or family", "display", "confidence", "use", "codes")


def use_of(entry: ConceptMatch | EntryFlags) -> str:
    """'legacy' or 'recognise' (recognised, never emitted), or 'emit' (may be on an order)."""
    if entry.legacy:
        return "legacy"
    if entry.recognise_only or entry.confidence not in ("V", "V-ICD"):
        return "recognise"
    return "emit"


def review_rows(directory: Path, features: Sequence[str]) -> list[tuple[str, ...]]:
    """Per feature: its concepts, families, published includes and exclusions, then a total."""
    names = load_sources().names
    rows: list[tuple[str, ...]] = []
    for feature in features:
        data: dict[str, Any] = json.loads((directory / f"{feature}.json").read_text("utf-8"))
        rows += _feature_rows(feature, data, names)
    return rows


def _feature_rows(
    feature: str, data: Mapping[str, Any], names: Mapping[str, str]
) -> list[tuple[str, ...]]:
    compose = read_compose(feature, data["compose"])
    contains = data["expansion"]["contains"]
    origins = Counter(
        (ext["url"], ext.get("valueCode") or ext.get("valueUri"), entry["system"])
        for entry in contains
        for ext in entry["extension"]
        if ext["url"] in (FAMILY_URL, PUBLISHED_URL)
    )
    rows: list[tuple[str, ...]] = []

    def row(system: str, code: str, display: str, confidence: str, use: str, n: str) -> None:
        rows.append((feature, SHORT.get(system, system), code, display, confidence, use, n))

    for m in compose.concepts:
        row(m.system, m.code, m.display, m.confidence, use_of(m), "1")
    for m in compose.families:
        size = origins[(FAMILY_URL, m.code, m.system)]
        row(m.system, f"{m.code} (is-a)", m.display, m.confidence, use_of(m), str(size))
    for include in compose.published:
        for canonical in include.valuesets:
            size = origins[(PUBLISHED_URL, canonical, include.system)]
            code = f"published {canonical.rsplit('/', 1)[-1]}"
            name, flags = names.get(canonical, canonical), include.flags
            row(include.system, code, name, flags.confidence, use_of(flags), str(size))
    for exclude in data["compose"].get("exclude", []):
        for concept in exclude["concept"]:
            display = concept.get("display", "")
            row(exclude["system"], concept["code"], display, "-", "excluded", "-")
    if contains:
        row("-", "(expansion total)", "-", "-", "-", str(len(contains)))
    else:
        row("-", "(none: site-extensible)", "-", "-", "-", "0")
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


def review(parser: argparse.ArgumentParser, wanted: Sequence[str] | None) -> int:
    known = sorted(p.stem for p in DEFAULT_DIRECTORY.glob("*.json"))
    features = list(wanted or known)
    unknown = sorted(set(features) - set(known))
    if unknown:
        parser.error(f"unknown feature(s): {', '.join(unknown)}")
    print(format_table(review_rows(DEFAULT_DIRECTORY, features)))
    print()
    print("systems: " + "; ".join(f"{short} = {uri}" for uri, short in SHORT.items()))
    print(
        "confidence: V verified; V-ICD checked against the CMS ICD-10-CM tabular; "
        "B believed (recognised only when marked so); U no trustworthy code (only the "
        "project's local codes). use: emit = recognised and may be put on a suggested order; "
        "recognise = recognised in data and draft orders, never emitted; legacy = an old "
        "code recognised in existing data, never emitted; excluded = removed from a "
        "published set (a reviewed exception). codes: how many codes the entry puts in "
        "the stored expansion."
    )
    return 0


def expand(check: bool) -> int:
    # Imported here: it needs the dev dependency simple-icd-10-cm, review does not.
    from mappings.expand import check_directory, write_expansions

    if check:
        stale = [s.path.name for s in check_directory() if not s.current]
        for name in stale:
            print(f"out of date: {name}")
        return 1 if stale else 0
    stamp = datetime.now(UTC).replace(microsecond=0).isoformat()
    for path in write_expansions(stamp):
        print(f"rewrote {path.name}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mappings", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    review_cmd = commands.add_parser("review", help="print every value set for clinical sign-off")
    review_cmd.add_argument("--feature", action="append", help="only this feature (repeatable)")
    expand_cmd = commands.add_parser("expand", help="recompute and store every expansion")
    expand_cmd.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    try:
        if args.command == "expand":
            return expand(args.check)
        return review(parser, args.feature)
    except ValueError as exc:  # bad content: say which file and why, without a traceback
        parser.exit(2, f"error: {exc}\n")


if __name__ == "__main__":
    sys.exit(main())
