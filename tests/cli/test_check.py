"""`footdrop-cds check`: exit 0 when the configuration can serve, else 1 naming what is wrong."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import psycopg
import pytest

from tests.conftest import PATIENT_HASH_KEY
from tests.support.processes import ROOT, finished, free_port


def check(**settings: str) -> subprocess.CompletedProcess[str]:
    return finished(["footdrop-cds", "check"], **settings)


def lines(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """check's report as part name → 'ok  …' / 'FAIL …'."""
    return {line[5:].split(":", 1)[0]: line for line in result.stdout.splitlines()}


def test_a_working_configuration_passes(tmp_path: Path) -> None:
    result = check(CDS_DATABASE_URL=f"sqlite:///{tmp_path / 'cds.db'}")
    assert result.returncode == 0, result.stdout + result.stderr
    report = lines(result)
    assert set(report) == {"settings", "content", "database", "trusted issuers"}
    assert all(value.startswith("ok") for value in report.values())
    assert "value sets" in report["content"] and "3 services" in report["content"]


def test_postgresql_is_checked_for_real() -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    try:
        psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", connect_timeout=3).close()
    except psycopg.OperationalError as error:
        pytest.skip(f"no PostgreSQL on 127.0.0.1:5432: {error}")
    result = check(CDS_DATABASE_URL=url)
    assert result.returncode == 0, result.stdout
    assert "postgresql+psycopg://postgres@127.0.0.1:5432/test: reachable" in result.stdout


def test_an_unreachable_database_is_named() -> None:
    result = check(CDS_DATABASE_URL=f"postgresql+psycopg://cds:s3cret@127.0.0.1:{free_port()}/x")
    assert result.returncode == 1
    database = lines(result)["database"]
    assert database.startswith("FAIL") and "CDS_DATABASE_URL" in database
    assert "Connection refused" in database
    assert "s3cret" not in result.stdout, "the password is never printed"
    assert lines(result)["content"].startswith("ok")


def test_an_unknown_database_driver_is_named() -> None:
    result = check(CDS_DATABASE_URL="nosuchdb://localhost/x")
    assert result.returncode == 1
    assert "CDS_DATABASE_URL" in lines(result)["database"]


def test_an_invalid_setting_is_one_line_naming_the_variable() -> None:
    result = check(CDS_FHIR_MAX_PAGES="0")
    assert result.returncode == 1
    assert result.stdout.strip().splitlines() == [
        "FAIL settings: CDS_FHIR_MAX_PAGES: Input should be greater than or equal to 1"
    ]
    assert "Traceback" not in result.stderr


def test_a_trusted_issuer_whose_key_set_file_is_missing_is_named(tmp_path: Path) -> None:
    issuers = '{"https://ehr.example.org": {"jwks_file": "/nonexistent/jwks.json"}}'
    result = check(CDS_DATABASE_URL=f"sqlite:///{tmp_path / 'cds.db'}", CDS_TRUSTED_ISSUERS=issuers)
    assert result.returncode == 1
    settings = lines(result)["settings"]
    assert settings.startswith("FAIL") and "CDS_TRUSTED_ISSUERS" in settings
    assert "https://ehr.example.org" in settings and "/nonexistent/jwks.json" in settings


def test_trusted_issuers_key_sets_are_loaded_or_fetched(tmp_path: Path) -> None:
    demo = ROOT / "docker" / "demo-issuer" / "jwks.json"
    issuers = json.dumps(
        {
            "urn:footdrop-cds:demo-ehr": {"jwks_file": str(demo), "testing": True},
            "https://ehr.example.org": {"jwks_url": f"https://127.0.0.1:{free_port()}/jwks"},
        }
    )
    result = check(
        CDS_DATABASE_URL=f"sqlite:///{tmp_path / 'cds.db'}",
        CDS_AUTH_MODE="jwt",
        CDS_TRUSTED_ISSUERS=issuers,
        CDS_PATIENT_HASH_KEY=PATIENT_HASH_KEY,
    )
    assert result.returncode == 1
    report = lines(result)["trusted issuers"]
    assert report.startswith("FAIL")
    assert "urn:footdrop-cds:demo-ehr: 1 usable key(s)" in report and "testing" in report
    assert "https://ehr.example.org: cannot get its key set" in report


def test_jwt_mode_without_issuers_is_refused(tmp_path: Path) -> None:
    result = check(CDS_DATABASE_URL=f"sqlite:///{tmp_path / 'cds.db'}", CDS_AUTH_MODE="jwt")
    assert result.returncode == 1
    assert lines(result)["settings"].startswith(
        "FAIL settings: CDS_AUTH_MODE=jwt needs CDS_TRUSTED"
    )
