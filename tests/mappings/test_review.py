"""The clinical sign-off table: ``python -m mappings review``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mappings.__main__ import main

REPO = Path(__file__).resolve().parents[2]


def test_review_module_runs_and_prints_a_known_code() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mappings", "review", "--feature", "foot_drop"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "6077001" in result.stdout
    assert "M21.37 (is-a)" in result.stdout
    assert "multiple_sclerosis" not in result.stdout


def test_review_prints_every_feature_with_confidence_and_legacy(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["review"]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[0].split()
    assert header[:2] == ["feature", "system"]
    g35 = next(line for line in out.splitlines() if line.split()[2:3] == ["G35"])
    assert g35.split()[0] == "multiple_sclerosis"
    assert g35.rstrip().endswith("legacy")
    assert "peroneal_decompression" in out
    assert "(none: site-extensible)" in out


def test_review_rejects_an_unknown_feature(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["review", "--feature", "no_such_feature"])
    assert info.value.code == 2
    assert "no_such_feature" in capsys.readouterr().err
