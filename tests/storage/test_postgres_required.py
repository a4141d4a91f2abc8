"""Without PostgreSQL the PostgreSQL tests skip with the reason, but in CI they fail."""

from __future__ import annotations

import subprocess
import sys

from tests.support.processes import ROOT, environment, free_port

TEST = "tests/storage/test_store.py::test_migrations_create_the_schema[postgresql]"


def run_without_postgres(**settings: str) -> subprocess.CompletedProcess[str]:
    unreachable = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", TEST],
        cwd=ROOT,
        env={**environment(**settings), "CDS_TEST_POSTGRES_URL": unreachable},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_an_unreachable_server_skips_with_the_reason() -> None:
    result = run_without_postgres()
    assert result.returncode == 0, result.stdout
    assert "1 skipped" in result.stdout and "is not reachable" in result.stdout


def test_in_ci_an_unreachable_server_fails_the_run() -> None:
    result = run_without_postgres(CDS_TEST_REQUIRE_POSTGRES="1")
    assert result.returncode != 0
    assert "CDS_TEST_REQUIRE_POSTGRES=1 requires it" in result.stdout
