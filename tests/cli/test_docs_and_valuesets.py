"""`footdrop-cds docs` and `valuesets`, and the `python -m` entry points that do the same."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cards.catalogue import CardCatalogue
from cards.docs import generate
from tests.support.processes import ROOT, environment


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(command),
        cwd=ROOT,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_docs_regenerates_the_page_in_place(tmp_path: Path) -> None:
    page = tmp_path / "clinical.md"
    page.write_text("stale\n")
    result = run("footdrop-cds", "docs", "--check", "--output", str(page))
    assert result.returncode == 1 and "out of date" in result.stdout
    result = run("footdrop-cds", "docs", "--output", str(page))
    assert result.returncode == 0 and "regenerated" in result.stdout
    assert page.read_text() == generate(CardCatalogue.load())
    result = run("footdrop-cds", "docs", "--output", str(page))
    assert "already up to date" in result.stdout
    assert run("footdrop-cds", "docs", "--check", "--output", str(page)).returncode == 0


def test_python_m_cards_docs_writes_the_same_page(tmp_path: Path) -> None:
    page = tmp_path / "clinical.md"
    result = run(sys.executable, "-m", "cards", "docs", "--output", str(page))
    assert result.returncode == 0, result.stderr
    assert page.read_text() == generate(CardCatalogue.load())


def test_the_committed_page_is_current() -> None:
    result = run("footdrop-cds", "docs", "--check")
    assert result.returncode == 0, "docs/clinical.md is stale: run footdrop-cds docs"


def test_valuesets_prints_the_review_table_with_its_options() -> None:
    result = run("footdrop-cds", "valuesets", "--feature", "foot_drop")
    assert result.returncode == 0, result.stderr
    assert "6077001" in result.stdout
    assert "multiple_sclerosis" not in result.stdout
    assert (
        result.stdout
        == run(sys.executable, "-m", "mappings", "review", "--feature", "foot_drop").stdout
    )
