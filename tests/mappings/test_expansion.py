"""Stored expansions: current, complete, loaded from the published sets whole, and self-sufficient.

The service matches and builds its prefetch queries from ``ValueSet.expansion``; these tests
fail when an expansion is older than its compose, the code set or a published source, when a
published row or a family code is missing from it, and when the run-time matcher would need
the code set or the published files.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import simple_icd_10_cm as icd

from mappings.expand import ExpansionStatus, check_directory, write_expansions
from mappings.matcher import (
    DEFAULT_DIRECTORY,
    FAMILY_URL,
    ICD10CM,
    PUBLISHED_URL,
    SNOMED,
    ValueSetIndex,
    normalize_code,
    read_compose,
)
from mappings.published import PUBLISHED_DIRECTORY, PublishedSources, load_sources
from tests.mappings.conftest import VALUESET_FILES, read_json

SEIZURE_DISORDER = "http://cts.nlm.nih.gov/fhir/ValueSet/2.16.840.1.113883.3.464.1003.105.12.1206"
STAMP = "2026-01-01T00:00:00+00:00"


@pytest.fixture(scope="module")
def statuses() -> dict[str, ExpansionStatus]:
    return {s.path.stem: s for s in check_directory()}


@pytest.fixture(scope="module")
def sources() -> PublishedSources:
    return load_sources()


def contains(feature: str) -> dict[tuple[str, str], dict[str, Any]]:
    entries = read_json(DEFAULT_DIRECTORY / f"{feature}.json")["expansion"]["contains"]
    return {(e["system"], e["code"]): e for e in entries}


def ext_values(entry: dict[str, Any], url: str) -> list[str]:
    return [e.get("valueCode") or e.get("valueUri") for e in entry["extension"] if e["url"] == url]


def expected_codes(feature: str, sources: PublishedSources) -> Iterator[tuple[str, str]]:
    """What the compose stands for, computed here independently of mappings.expand."""
    compose = read_compose(feature, read_json(DEFAULT_DIRECTORY / f"{feature}.json")["compose"])
    excluded = set(compose.excluded)
    yield from ((m.system, m.code) for m in compose.concepts)
    for family in compose.families:
        yield from ((ICD10CM, c) for c in [family.code, *icd.get_descendants(family.code)])
    for include in compose.published:
        for canonical in include.valuesets:
            rows = sources.valueset(canonical)
            yield from (
                (r.system, r.code)
                for r in rows
                if r.system == include.system and (r.system, r.code) not in excluded
            )


# ------------------------------------------------------------------ current
@pytest.mark.parametrize("path", VALUESET_FILES, ids=[p.stem for p in VALUESET_FILES])
def test_stored_expansion_is_current(path: Path, statuses: dict[str, ExpansionStatus]) -> None:
    status = statuses[path.stem]
    assert status.current, f"{path.name} is out of date: run `python -m mappings expand`"
    stored = read_json(path)["expansion"]
    assert stored["timestamp"] and stored["total"] == len(stored["contains"])


def test_expand_rewrites_only_stale_files_and_check_reports_them(tmp_path: Path) -> None:
    target = tmp_path / "valuesets"
    shutil.copytree(DEFAULT_DIRECTORY, target)
    path = target / "foot_drop.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["compose"]["include"][0]["concept"].append(
        {"extension": [{"url": "urn:footdrop-cds:confidence", "valueCode": "V"}], "code": "1"}
    )
    path.write_text(json.dumps(data), encoding="utf-8")
    assert [s.path.name for s in check_directory(target) if not s.current] == ["foot_drop.json"]
    assert write_expansions(STAMP, target) == [path]
    rewritten = json.loads(path.read_text(encoding="utf-8"))["expansion"]
    assert rewritten["timestamp"] == STAMP
    assert (SNOMED, "1") in {(e["system"], e["code"]) for e in rewritten["contains"]}
    assert all(s.current for s in check_directory(target))
    assert write_expansions(STAMP, target) == []


def test_expand_check_command_reports_current_files() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mappings", "expand", "--check"],
        cwd=DEFAULT_DIRECTORY.parents[1],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# ------------------------------------------------------------------ complete
@pytest.mark.parametrize("path", VALUESET_FILES, ids=[p.stem for p in VALUESET_FILES])
def test_query_codes_carry_every_code_of_the_value_set(
    path: Path, index: ValueSetIndex, sources: PublishedSources
) -> None:
    """Issue 8 item 2: no code of a value set may be absent from the codes its queries carry."""
    feature = path.stem
    query = set(index.codes(feature))
    missing = sorted(set(expected_codes(feature, sources)) - query)
    assert missing == []
    for system, code in query:  # and each code a query returns is read back as this feature
        forms = {code, code.replace(".", "")} if system == ICD10CM else {code}
        for form in forms:
            assert feature in {m.feature for m in index.match(system, form)}, (system, form)


def test_every_family_code_carries_the_code_set_version(sources: PublishedSources) -> None:
    version = sources.code_set.version
    for path in VALUESET_FILES:
        for entry in read_json(path)["expansion"]["contains"]:
            if ext_values(entry, FAMILY_URL):
                assert entry["version"] == version, (path.stem, entry["code"])


# ------------------------------------------------------------------ published, whole
def test_published_copies_are_unchanged_and_read_in_all_three_layouts(
    sources: PublishedSources,
) -> None:
    sizes = {canonical: len(rows) for canonical, rows in sources.codes.items()}
    assert sizes[SEIZURE_DISORDER] == 338  # header row first: 284 SNOMED + 54 ICD-10-CM
    dialysis = [c for c in sizes if ".109.12.1013" in c or ".526.3.108" in c]
    assert sum(sizes[c] for c in dialysis) == 109  # header row last
    neuropathy = next(c for c in sizes if c.endswith("2.16.840.1.113762.1.4.1248.175"))
    assert sizes[neuropathy] == 75  # no header
    assert {r.system for r in sources.codes[neuropathy]} == {ICD10CM}  # the "ICD" alias


def test_an_edited_published_copy_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "published"
    shutil.copytree(PUBLISHED_DIRECTORY, target)
    tsv = target / "vsac-seizure-disorder.tsv"
    tsv.write_text(tsv.read_text(encoding="utf-8").replace("84757009", "84757008"), "utf-8")
    with pytest.raises(ValueError, match="differs from the published copy"):
        load_sources(target)


def test_published_rows_keep_their_display_and_version(sources: PublishedSources) -> None:
    """Loaded whole: every published code of an including value set, as the source gives it."""
    versions: dict[tuple[str, str], set[str | None]] = {}
    for rows in sources.codes.values():  # a code listed by two sets may carry two versions
        for r in rows:
            versions.setdefault((r.system, r.code), set()).add(r.version)
    checked = 0
    for path in VALUESET_FILES:
        compose = read_compose(path.stem, read_json(path)["compose"])
        entries = contains(path.stem)
        excluded = set(compose.excluded)
        own = {(m.system, m.code) for m in compose.concepts}
        for include in compose.published:
            for canonical in include.valuesets:
                for row in sources.valueset(canonical):
                    key = (row.system, row.code)
                    if row.system != include.system or key in excluded:
                        continue
                    entry = entries[key]
                    assert canonical in ext_values(entry, PUBLISHED_URL)
                    if key not in own and not ext_values(entry, FAMILY_URL):
                        assert entry["display"] == row.display, key
                        assert entry.get("version") in versions[key], key
                    checked += 1
    assert checked == 338 - 2 + 109 + 75


def test_seizure_exceptions_are_applied_before_the_published_set_is_used(
    sources: PublishedSources,
) -> None:
    published = {(r.system, r.code) for r in sources.valueset(SEIZURE_DISORDER)}
    exceptions = {(SNOMED, "191714002"), (SNOMED, "438113009")}
    assert exceptions <= published  # the eCQM set contains them ...
    history, verify = contains("seizure_history"), contains("seizure_verify")
    assert not exceptions & set(history)  # ... but they mean "verify", not seizure history
    assert exceptions <= set(verify)
    assert (ICD10CM, "F44.5") in verify and (ICD10CM, "F44.5") not in history


def test_seizure_codes_are_the_union_of_the_published_set_and_the_code_set(
    sources: PublishedSources,
) -> None:
    history = contains("seizure_history")
    vsac_icd = {r.code for r in sources.valueset(SEIZURE_DISORDER) if r.system == ICD10CM}
    code_set = {"G40", *icd.get_descendants("G40")}
    icd_in_history = {code for system, code in history if system == ICD10CM}
    assert vsac_icd | code_set <= icd_in_history
    only_code_set = {c for c in code_set - vsac_icd if icd.is_leaf(c)}
    assert only_code_set == {"G40.841", "G40.842", "G40.843", "G40.844"}
    for code in only_code_set:  # recorded as coming from the code set alone
        entry = history[(ICD10CM, code)]
        assert ext_values(entry, FAMILY_URL) == ["G40"]
        assert ext_values(entry, PUBLISHED_URL) == []
    assert SEIZURE_DISORDER in ext_values(history[(ICD10CM, "G40.001")], PUBLISHED_URL)
    parameters = {
        p["valueUri"]
        for p in read_json(DEFAULT_DIRECTORY / "seizure_history.json")["expansion"]["parameter"]
    }
    assert {
        SEIZURE_DISORDER,
        f"{ICD10CM}|2024",  # the published set's ICD-10-CM
        f"{ICD10CM}|{sources.code_set.version}",  # the code set's
    } <= parameters


# ------------------------------------------------------------------ run time
def test_the_matcher_needs_neither_the_code_set_nor_the_published_files(tmp_path: Path) -> None:
    target = tmp_path / "valuesets"
    shutil.copytree(DEFAULT_DIRECTORY, target)
    script = textwrap.dedent(
        f"""
        import sys
        sys.modules["simple_icd_10_cm"] = None  # any import of it now fails
        from mappings.matcher import ICD10CM, ValueSetIndex
        index = ValueSetIndex.load({str(target)!r})
        assert [m.feature for m in index.match(ICD10CM, "G40841")] == ["seizure_history"]
        assert "mappings.expand" not in sys.modules and "mappings.published" not in sys.modules
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=DEFAULT_DIRECTORY.parents[1],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_a_code_newer_than_the_expansion_still_matches_its_family(index: ValueSetIndex) -> None:
    """A later code-set release may add a child: the family prefix still catches it."""
    unknown = "R15.8"
    assert not icd.is_valid_item(unknown)
    assert (ICD10CM, unknown) not in set(index.codes("bowel_dysfunction"))
    assert [m.feature for m in index.match(ICD10CM, unknown)] == ["bowel_dysfunction"]
    assert normalize_code(ICD10CM, " r15.8 ") == "R158"
