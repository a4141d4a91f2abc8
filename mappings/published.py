"""The published value-set expansions in ``mappings/published/``, read whole.

The files are byte-for-byte copies of the specification's sources (their SHA-256 is in
``manifest.json``) in the three layouts they came in: a header row first, a header row
last, or no header at all. Reading them through the manifest rather than retyping them is
what keeps several hundred codes reviewable as "the VSAC set, as published".
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PUBLISHED_DIRECTORY = Path(__file__).resolve().parent / "published"
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class PublishedCode:
    """One row of a published expansion, with the system alias resolved."""

    system: str
    code: str
    display: str
    version: str | None
    valueset: str


@dataclass(frozen=True)
class CodeSet:
    """The ICD-10-CM release that expands is-a families (the dev dependency that bundles it)."""

    system: str
    version: str
    package: str
    package_version: str
    note: str


@dataclass(frozen=True)
class PublishedSources:
    """Every published value set (canonical URL → its codes and name) and the code set."""

    codes: Mapping[str, tuple[PublishedCode, ...]]
    names: Mapping[str, str]
    code_set: CodeSet

    def valueset(self, canonical: str) -> tuple[PublishedCode, ...]:
        if canonical not in self.codes:
            raise ValueError(f"published value set {canonical!r} is not in {MANIFEST}")
        return self.codes[canonical]


def load_sources(directory: Path = PUBLISHED_DIRECTORY) -> PublishedSources:
    """Read the manifest and every file it lists; raise ValueError on any mismatch."""
    manifest: dict[str, Any] = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    aliases: Mapping[str, str] = manifest["system_aliases"]
    names: Mapping[str, str] = manifest["valuesets"]
    codes: dict[str, list[PublishedCode]] = {canonical: [] for canonical in names}
    for entry in manifest["files"]:
        path = directory / entry["file"]
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise ValueError(f"{path}: content differs from the published copy ({MANIFEST})")
        for row in _rows(data.decode("utf-8"), entry, path):
            canonical = row["valueset"]
            if not canonical.startswith("http"):
                canonical = manifest["valueset_base"] + canonical
            if canonical not in codes:
                raise ValueError(f"{path}: value set {canonical} is not named in {MANIFEST}")
            system = aliases.get(row["system"], row["system"])
            version = row.get("version") or None
            codes[canonical].append(
                PublishedCode(system, row["code"], row["display"], version, canonical)
            )
    empty = [canonical for canonical, rows in codes.items() if not rows]
    if empty:
        raise ValueError(f"{MANIFEST} names value sets no file holds: {empty}")
    return PublishedSources(
        {k: tuple(v) for k, v in codes.items()}, dict(names), CodeSet(**manifest["code_set"])
    )


def _rows(text: str, entry: Mapping[str, Any], path: Path) -> list[dict[str, str]]:
    """Data rows as dicts keyed by the manifest's column names; header rows checked, dropped."""
    columns: list[str] = entry["columns"]
    header: list[str] | None = entry["header"]
    rows: list[dict[str, str]] = []
    for number, cells in enumerate(
        csv.reader(text.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE), start=1
    ):
        if not cells:
            continue
        if len(cells) != len(columns):
            raise ValueError(f"{path}:{number}: {len(cells)} cells, expected {len(columns)}")
        if header is not None and cells == header:
            continue
        rows.append(dict(zip(columns, cells, strict=True)))
    return rows
