"""The clinical sign-off table: ``python -m mappings review``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mappings.__main__ import main

REPO = Path(__file__).resolve().parents[2]


def rows(out: str) -> list[list[str]]:
    """Table rows split on the two-space column gap (displays contain single spaces)."""
    return [
        [cell.strip() for cell in line.split("  ") if cell.strip()] for line in out.splitlines()
    ]


def test_review_module_runs_and_prints_a_known_code() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mappings", "review", "--feature", "foot_drop"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    table = rows(result.stdout)
    assert ["foot_drop", "SCT", "6077001", "Foot-drop (finding)", "V", "emit", "1"] in table
    assert ["foot_drop", "ICD", "M21.37 (is-a)", "Foot drop (acquired)", "V-ICD", "emit", "4"] in (
        table
    )
    assert ["foot_drop", "-", "(expansion total)", "-", "-", "-", "5"] in table
    assert "multiple_sclerosis" not in result.stdout


def test_review_shows_legacy_recognise_published_and_excluded_entries(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["review"]) == 0
    table = rows(capsys.readouterr().out)
    assert table[0] == [
        "feature",
        "system",
        "code or family",
        "display",
        "confidence",
        "use",
        "codes",
    ]
    by_code = {(row[0], row[1], row[2]): row for row in table[2:] if len(row) >= 7}
    assert by_code[("multiple_sclerosis", "ICD", "G35")][-2:] == ["legacy", "1"]
    assert by_code[("seizure_history", "SCT", "703151001")][-3:] == ["B", "recognise", "1"]
    vsac = "published 2.16.840.1.113883.3.464.1003.105.12.1206"
    assert by_code[("seizure_history", "SCT", vsac)][-1] == "282"  # 284 minus 2 exceptions
    assert by_code[("seizure_history", "ICD", vsac)][-1] == "54"
    assert by_code[("seizure_history", "SCT", "191714002")][-3:] == ["-", "excluded", "-"]
    assert by_code[("seizure_history", "ICD", "G40 (is-a)")][-1] == "94"
    assert by_code[("nerve_imaging", "-", "(none: site-extensible)")][-1] == "0"


def test_review_rejects_an_unknown_feature(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["review", "--feature", "no_such_feature"])
    assert info.value.code == 2
    assert "no_such_feature" in capsys.readouterr().err
