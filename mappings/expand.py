"""``python -m mappings expand``: write every value set's ``ValueSet.expansion`` from its compose.

Why a stored expansion: prefetch queries must carry every code a rule reads (an ICD-10-CM
family recorded on an Observation is only fetched if each of its codes is in the query),
reviewers read the full list, and the service must not need the code set at run time.

How a value set expands: its explicit concepts; every code of each ICD-10-CM ``is-a`` family
from the code set (the family code and the non-leaf codes EHRs still record included); the
codes of each published value set it names, for the include's system; minus
``compose.exclude`` (an exclusion that removes nothing is an error: it is stale). When a code
arrives several ways the most specific origin describes it (an explicit concept, then the
longest family, then the published set), and every origin is recorded: ``family`` and
``published`` extensions per code, and the versions used (the published set's code-system
versions beside the code set's) in ``expansion.parameter``. That records, for example, that
the 2024 Seizure Disorder set lacks G40.841–G40.844, which the union adds from the code set.

This module needs the dev dependency simple-icd-10-cm; the matcher never imports it.
"""

from __future__ import annotations

import importlib.metadata
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import simple_icd_10_cm as icd

from mappings.matcher import (
    CONFIDENCE_URL,
    DEFAULT_DIRECTORY,
    FAMILY_URL,
    ICD10CM,
    LEGACY_URL,
    PUBLISHED_URL,
    RECOGNISE_ONLY_URL,
    EntryFlags,
    normalize_code,
    read_compose,
)
from mappings.published import CodeSet, PublishedSources, load_sources

# Rank of an origin: the lower describes a code reached several ways.
_EXPLICIT, _FAMILY, _PUBLISHED = 0, 1, 2


class IcdCodeSet:
    """The installed ICD-10-CM release, checked against the one the manifest records."""

    def __init__(self, info: CodeSet) -> None:
        installed = importlib.metadata.version(info.package)
        if installed != info.package_version:
            raise ValueError(
                f"{info.package} {installed} is installed but the expansions record "
                f"{info.package_version}: update mappings/published/manifest.json (code_set) "
                "and run `python -m mappings expand`"
            )
        self.system = info.system
        self.version = info.version

    def exists(self, code: str) -> bool:
        return bool(icd.is_valid_item(code))

    def family(self, code: str) -> list[tuple[str, str]]:
        """The family code and all its descendants, dotted, with their tabular descriptions."""
        if not self.exists(code):
            raise ValueError(f"ICD-10-CM family {code!r} is not in the code set {self.version}")
        return [(c, str(icd.get_description(c))) for c in [code, *icd.get_descendants(code)]]


@dataclass
class _Member:
    system: str
    code: str
    display: str
    flags: EntryFlags
    rank: tuple[int, int]
    family: str | None
    version: str | None
    published: set[str] = field(default_factory=set)


class _Expansion:
    """Codes gathered from every origin of one value set."""

    def __init__(self) -> None:
        self.members: dict[tuple[str, str], _Member] = {}
        self.versions: set[str] = set()
        self.valuesets: set[str] = set()

    def offer(
        self,
        system: str,
        code: str,
        display: str,
        flags: EntryFlags,
        rank: tuple[int, int],
        *,
        family: str | None = None,
        published: str | None = None,
        version: str | None = None,
    ) -> None:
        key = (system, normalize_code(system, code) or "")
        member = self.members.get(key)
        if member is None:
            member = self.members[key] = _Member(
                system, code, display, flags, rank, family, version
            )
        elif rank < member.rank:
            member.code, member.display, member.flags = code, display, flags
            member.rank, member.family = rank, family
        if version is not None and (member.version is None or rank[0] != _PUBLISHED):
            member.version = version
        if version is not None:
            self.versions.add(f"{system}|{version}")
        if published is not None:
            member.published.add(published)
            self.valuesets.add(published)


def compute_expansion(
    feature: str, data: Mapping[str, Any], sources: PublishedSources, code_set: IcdCodeSet
) -> dict[str, Any]:
    """The expansion of one value set (without ``timestamp``), from its compose."""
    compose = read_compose(feature, data.get("compose", {}))
    out = _Expansion()
    for m in compose.concepts:
        version = None
        if m.system == ICD10CM:
            if not code_set.exists(m.code):
                raise ValueError(f"{feature}: {m.code} is not in ICD-10-CM {code_set.version}")
            version = code_set.version
        flags = EntryFlags(m.confidence, m.legacy, m.recognise_only, "")
        out.offer(m.system, m.code, m.display, flags, (_EXPLICIT, 0), version=version)
    for f in compose.families:
        flags = EntryFlags(f.confidence, f.legacy, f.recognise_only, "")
        for code, display in code_set.family(f.code):
            rank = (_FAMILY, -len(f.code))
            out.offer(f.system, code, display, flags, rank, family=f.code, version=code_set.version)
    for include in compose.published:
        rows = [
            r
            for canonical in include.valuesets
            for r in sources.valueset(canonical)
            if r.system == include.system
        ]
        if not rows:
            raise ValueError(f"{feature}: {include.valuesets} hold no {include.system} codes")
        for r in rows:
            out.offer(
                r.system, r.code, r.display, include.flags, (_PUBLISHED, 0),
                published=r.valueset, version=r.version,
            )  # fmt: skip
    for system, code in compose.excluded:
        if out.members.pop((system, normalize_code(system, code) or ""), None) is None:
            raise ValueError(f"{feature}: exclusion {system}|{code} removes nothing (stale)")
    contains = [_contains(m) for _, m in sorted(out.members.items())]
    parameters = [{"name": "used-valueset", "valueUri": v} for v in sorted(out.valuesets)]
    parameters += [{"name": "used-codesystem", "valueUri": v} for v in sorted(out.versions)]
    expansion: dict[str, Any] = {"total": len(contains)}
    if parameters:
        expansion["parameter"] = parameters
    expansion["contains"] = contains
    return expansion


def _contains(m: _Member) -> dict[str, Any]:
    extension: list[dict[str, Any]] = [{"url": CONFIDENCE_URL, "valueCode": m.flags.confidence}]
    if m.flags.recognise_only:
        extension.append({"url": RECOGNISE_ONLY_URL, "valueBoolean": True})
    if m.flags.legacy:
        extension.append({"url": LEGACY_URL, "valueBoolean": True})
    if m.family is not None:
        extension.append({"url": FAMILY_URL, "valueCode": m.family})
    extension += [{"url": PUBLISHED_URL, "valueUri": v} for v in sorted(m.published)]
    entry: dict[str, Any] = {"extension": extension, "system": m.system}
    if m.version is not None:
        entry["version"] = m.version
    entry.update(code=m.code, display=m.display)
    return entry


@dataclass(frozen=True)
class ExpansionStatus:
    path: Path
    current: bool
    expansion: dict[str, Any]


def check_directory(directory: Path = DEFAULT_DIRECTORY) -> list[ExpansionStatus]:
    """Every value set with its freshly computed expansion and whether the stored one matches.

    The timestamp is ignored: only content makes an expansion out of date.
    """
    sources = load_sources()
    code_set = IcdCodeSet(sources.code_set)
    statuses: list[ExpansionStatus] = []
    for path in sorted(directory.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        try:
            expansion = compute_expansion(path.stem, data, sources, code_set)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from exc
        stored = {k: v for k, v in data.get("expansion", {}).items() if k != "timestamp"}
        statuses.append(ExpansionStatus(path, stored == expansion, expansion))
    return statuses


def write_expansions(timestamp: str, directory: Path = DEFAULT_DIRECTORY) -> list[Path]:
    """Rewrite the files whose expansion is out of date, stamped ``timestamp``; return them."""
    written: list[Path] = []
    for status in check_directory(directory):
        if status.current:
            continue
        data = json.loads(status.path.read_text(encoding="utf-8"))
        data["expansion"] = {"timestamp": timestamp, **status.expansion}
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        status.path.write_text(text, encoding="utf-8")
        written.append(status.path)
    return written
