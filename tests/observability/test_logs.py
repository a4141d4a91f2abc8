"""Logs: one JSON line per request, level from CDS_LOG_LEVEL, never patient data."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import httpx

from service.observability.logs import JsonFormatter
from tests.support.processes import ROOT, environment, free_port, running

EXAMPLES = ROOT / "examples"
#: Identifying or clinical values in the example requests; none may reach a log.
PATIENT_DATA = [
    "example-patient",
    "example-clinician",
    "example-encounter",
    "1968-04-12",
    "M21.371",
    "M54.17",
    "G35.A",
    "84757009",
    "Epilepsy",
    "Foot drop, right foot",
    "fhir-access-token-xyz",
]


def serve_and_call(tmp_path: Path, level: str) -> list[dict[str, Any]]:
    port = free_port()
    env = environment(CDS_LOG_LEVEL=level, CDS_DATABASE_URL=f"sqlite:///{tmp_path / 'cds.db'}")
    command = ["footdrop-cds", "serve", "--port", str(port), "--workers", "1"]
    with running(command, port, env, tmp_path / "server.log") as server:
        for name in ("patient-view.json", "order-select.json"):
            body = json.loads((EXAMPLES / name).read_text())
            body["fhirAuthorization"] = {
                "access_token": "fhir-access-token-xyz",
                "token_type": "Bearer",
                "expires_in": 300,
                "scope": "patient/*.read",
                "subject": "footdrop-cds",
            }
            body["fhirServer"] = "https://fhir.example.invalid/r4"
            service = "footdrop-" + body["hook"]
            response = httpx.post(
                f"{server.base_url}/cds-services/{service}",
                json=body,
                headers={"X-Request-ID": f"req-{name}"},
                timeout=10,
            )
            assert response.status_code == 200
            assert response.headers["x-request-id"] == f"req-{name}"
        httpx.post(f"{server.base_url}/cds-services/no-such-service", json={}, timeout=10)
    # Read once the server has stopped: a request's line is written after its response is
    # sent, so the last one may not be in the file yet when the client has its answer.
    text = server.output()
    for value in PATIENT_DATA:
        assert value not in text, f"{value!r} reached the log"
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_one_json_line_per_request_with_the_cds_facts(tmp_path: Path) -> None:
    records = serve_and_call(tmp_path, "INFO")
    requests = [r for r in records if r["message"] == "request"]
    by_id = {r["request_id"]: r for r in requests}
    pv = by_id["req-patient-view.json"]
    assert pv["service"] == "footdrop-patient-view"
    assert pv["hookInstance"] == "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"
    assert pv["status"] == 200 and pv["duration_ms"] >= 0
    assert pv["cards"] == 3 and pv["cards_by_indicator"] == {"warning": 2, "info": 1}
    os_ = by_id["req-order-select.json"]
    assert os_["cards_by_indicator"] == {"critical": 1, "warning": 1}
    unknown = next(r for r in requests if r["status"] == 404)
    assert "service" not in unknown and unknown["endpoint"] == "call_service"
    assert all(r["level"] and r["time"] and r["logger"] for r in records)
    assert len([r for r in requests if r["method"] == "POST"]) == 3


def test_level_comes_from_cds_log_level(tmp_path: Path) -> None:
    records = serve_and_call(tmp_path, "WARNING")
    assert not [r for r in records if r["message"] == "request"]
    assert any("AUTH IS OFF" in r["message"] for r in records)


def test_debug_logs_no_patient_data_either(tmp_path: Path) -> None:
    records = serve_and_call(tmp_path, "DEBUG")  # asserts the log holds none of PATIENT_DATA
    assert [r for r in records if r["message"] == "request"]


def test_exceptions_are_logged_without_their_message() -> None:
    patient = PATIENT_DATA[0]
    try:
        raise ValueError(f"patient {patient} has foot drop")
    except ValueError:
        record = logging.LogRecord(
            "service", logging.ERROR, __file__, 1, "failed", None, sys.exc_info()
        )
    entry = json.loads(JsonFormatter().format(record))
    assert entry["exception"] == "ValueError" and "test_logs.py" in entry["stack"]
    assert "example-patient" not in json.dumps(entry)
