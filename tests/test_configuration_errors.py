"""A configuration error is one line naming the variable and what is wrong, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.processes import finished, free_port

STARTS = {
    "footdrop-cds serve": ["footdrop-cds", "serve"],
    "uvicorn --factory": [sys.executable, "-m", "uvicorn", "--factory", "service.app:create_app"],
}


def start(command: list[str], **settings: str) -> subprocess.CompletedProcess[str]:
    return finished([*command, "--port", str(free_port())], timeout=60, **settings)


@pytest.mark.parametrize("how", STARTS)
def test_one_line_names_the_variable(how: str) -> None:
    result = start(STARTS[how], CDS_FHIR_TIMEOUT_S="0")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "footdrop-cds: configuration error: CDS_FHIR_TIMEOUT_S: Input should be greater than 0"
    )
    assert len([line for line in result.stderr.splitlines() if "configuration" in line]) == 1


def test_every_wrong_variable_on_the_same_line_without_its_value() -> None:
    result = start(
        STARTS["footdrop-cds serve"],
        CDS_MAX_REQUEST_BYTES="secret-value-123",
        CDS_LOG_LEVEL="LOUD",
        CDS_CLINICAL__ACUTE_WEEKS="0",
    )
    (line,) = result.stderr.strip().splitlines()
    for name in ("CDS_MAX_REQUEST_BYTES", "CDS_LOG_LEVEL", "CDS_CLINICAL__ACUTE_WEEKS"):
        assert name in line
    assert "secret-value-123" not in result.stderr
