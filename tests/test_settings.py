"""Settings are a contract: the CDS_ names, their defaults and their checks."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from service.settings import Settings


def test_env_names_and_comma_separated_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDS_PUBLIC_BASE_URL", "https://cds.example.org/")
    monkeypatch.setenv("CDS_FHIR_ALLOWLIST", "https://a.example/fhir, http://127.0.0.1:8081/")
    monkeypatch.setenv("CDS_CORS_ORIGINS", "https://sandbox.cds-hooks.org")
    monkeypatch.setenv("CDS_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1/test")
    monkeypatch.setenv("CDS_FHIR_TIMEOUT_S", "2.5")
    monkeypatch.setenv("CDS_LOG_LEVEL", "DEBUG")
    settings = Settings()
    assert settings.public_base_url == "https://cds.example.org"
    assert settings.fhir_allowlist == ["https://a.example/fhir", "http://127.0.0.1:8081/"]
    assert settings.cors_origins == ["https://sandbox.cds-hooks.org"]
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert settings.fhir_timeout_s == 2.5
    assert settings.log_level == "DEBUG"


def test_defaults_are_embedded_and_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CDS_FHIR_ALLOWLIST", "CDS_CORS_ORIGINS", "CDS_AUTH_MODE", "CDS_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.auth_mode == "off"
    assert settings.fhir_allowlist == []
    assert settings.cors_origins == []
    assert settings.database_url.startswith("sqlite:///")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CDS_CORS_ORIGINS", "*"),
        ("CDS_FHIR_ALLOWLIST", "fhir.example.org"),
        ("CDS_FHIR_TIMEOUT_S", "0"),
        ("CDS_AUTH_MODE", "basic"),
        ("CDS_LOG_LEVEL", "LOUD"),
    ],
)
def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()


def test_jwt_mode_without_trusted_issuers_refuses_to_start() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "from service.app import create_app; create_app()"],
        env={"CDS_AUTH_MODE": "jwt", "PATH": ""},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "CDS_AUTH_MODE=jwt needs CDS_TRUSTED_ISSUERS" in result.stderr


def test_auth_off_is_logged_at_start_up(caplog: pytest.LogCaptureFixture) -> None:
    from service.app import create_app

    with (
        caplog.at_level(logging.WARNING),
        TestClient(create_app(Settings(database_url="sqlite://"))),
    ):
        pass
    assert "AUTH IS OFF" in caplog.text


def test_the_rule_trace_is_off_by_default_and_logged_when_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from service.app import create_app

    assert Settings().explain is False
    with (
        caplog.at_level(logging.WARNING),
        TestClient(create_app(Settings(database_url="sqlite://"))),
    ):
        pass
    assert "CDS_EXPLAIN" not in caplog.text
    with (
        caplog.at_level(logging.WARNING),
        TestClient(create_app(Settings(database_url="sqlite://", explain=True))),
    ):
        pass
    assert "CDS_EXPLAIN=true" in caplog.text


KEY = "a-patient-hash-key-of-at-least-32-chars"


@pytest.mark.parametrize("key", [None, "too-short", "footdrop-cds-development-key-not-secret"])
def test_jwt_mode_needs_a_real_patient_hash_key(key: str | None) -> None:
    issuers = '{"https://ehr.example.org": {"jwks_url": "https://ehr.example.org/jwks.json"}}'
    values = {"auth_mode": "jwt", "trusted_issuers": issuers, "patient_hash_key": key}
    with pytest.raises(ValidationError, match=r"CDS_PATIENT_HASH_KEY|at least 32"):
        Settings(**values)
    assert Settings(**{**values, "patient_hash_key": KEY}).hash_key == KEY.encode()


def test_without_authentication_a_development_key_is_used_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from service.app import create_app

    settings = Settings(database_url="sqlite://")
    assert settings.patient_hash_key is None and settings.hash_key
    assert not settings.snoozing
    with caplog.at_level(logging.WARNING), TestClient(create_app(settings)):
        pass
    assert "CDS_PATIENT_HASH_KEY is not set" in caplog.text


def test_feedback_settings_and_their_bounds() -> None:
    settings = Settings()
    assert (settings.snooze_days, settings.database_timeout_s) == (30, 3)
    assert settings.database_migrate == "on-start" and settings.analytics_token is None
    for bad in ({"snooze_days": 0}, {"database_timeout_s": 1}, {"analytics_token": "short"}):
        with pytest.raises(ValidationError):
            Settings(**bad)  # type: ignore[arg-type]


def test_every_setting_is_documented_in_the_readme() -> None:
    """README's settings table is the operator's reference: no variable may be missing."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    documented = set(re.findall(r"^\| `(CDS_[A-Z_]+?)(?:__<NAME>)?` \|", readme, re.MULTILINE))
    names = {f"CDS_{name.upper()}" for name in Settings.model_fields}
    assert names - documented == set()


def test_label_jurisdiction_is_us_by_default_eu_by_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """clinical-logic v3 §2 (3): CDS_CLINICAL__LABEL_JURISDICTION, US (default) or EU."""
    monkeypatch.delenv("CDS_CLINICAL__LABEL_JURISDICTION", raising=False)
    assert Settings().clinical.label_jurisdiction == "US"
    monkeypatch.setenv("CDS_CLINICAL__LABEL_JURISDICTION", "EU")
    assert Settings().clinical.eu_label
    monkeypatch.setenv("CDS_CLINICAL__LABEL_JURISDICTION", "FR")
    with pytest.raises(ValidationError):
        Settings()
