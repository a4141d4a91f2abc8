"""`footdrop-cds report`: the committee's numbers from the database, as the console script runs."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from service.cds.engine import Engine
from tests.conftest import FOOT_DROP, full_prefetch, hook_request
from tests.support.ehr import SignedClient
from tests.support.processes import BIN, finished

COMMAND = str(BIN / "footdrop-cds")
TOKEN = "committee-token-0123456789-abcdefghij"
PATIENT_VIEW = "/cds-services/footdrop-patient-view"


def footdrop_cds(*args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    return finished([COMMAND, *args], **settings)


def feedback_in(database_url: str, signed_client_factory: Callable[..., SignedClient]) -> Any:
    """Two patient-views, one orthosis card accepted and one overridden; the API's report."""
    service = signed_client_factory(database_url=database_url, analytics_token=TOKEN)
    calls = []
    for _ in range(2):
        body = hook_request(prefetch=full_prefetch(FOOT_DROP))
        cards = service.post(PATIENT_VIEW, json=body).json()["cards"]
        calls.append({card["source"]["topic"]["code"]: card for card in cards})
    first, second = calls[0]["orthosis"], calls[1]["orthosis"]
    items = [
        {
            "card": first["uuid"],
            "outcome": "accepted",
            "acceptedSuggestions": [{"id": first["suggestions"][0]["uuid"]}],
            "outcomeTimestamp": "2026-11-25T10:00:00Z",
        },
        {
            "card": second["uuid"],
            "outcome": "overridden",
            "overrideReason": {
                "reason": {"code": "declined", "system": "urn:footdrop-cds:override-reason"}
            },
            "outcomeTimestamp": "2026-11-25T10:01:00Z",
        },
    ]
    assert service.post(f"{PATIENT_VIEW}/feedback", json={"feedback": items}).status_code == 200
    engine: Engine = service.client.app.state.engine  # type: ignore[attr-defined]
    assert engine.card_log.flush(10)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    return service.client.get("/analytics/cards", headers=headers).json()


def test_the_report_gives_the_same_numbers_as_the_api(
    signed_client_factory: Callable[..., SignedClient], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'cds.db'}"
    api = feedback_in(url, signed_client_factory)
    result = footdrop_cds("report", "--format", "json", CDS_DATABASE_URL=url)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["rows"] == api["rows"] and report["totals"] == api["totals"]
    orthosis = next(row for row in report["totals"] if row["topic"] == "orthosis")
    assert (orthosis["shown"], orthosis["accepted"], orthosis["overridden"]) == (2, 1, 1)
    assert orthosis["acceptanceRate"] == 0.5
    assert orthosis["standardReasons"][0]["code"] == "patient-refuses"


def test_the_table_and_the_chart_page(
    signed_client_factory: Callable[..., SignedClient], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'cds.db'}"
    feedback_in(url, signed_client_factory)
    table = footdrop_cds("report", "--weeks", "4", CDS_DATABASE_URL=url)
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert header.split()[:6] == ["week", "topic", "shown", "accepted", "overridden", "rate"]
    orthosis = next(row for row in rows if row.startswith("total") and "Ankle-foot" in row)
    assert "50%" in orthosis and "Patient declined (1)" in orthosis
    page = tmp_path / "report.html"
    chart = footdrop_cds("report", "--format", "html", "--output", str(page), CDS_DATABASE_URL=url)
    assert chart.returncode == 0, chart.stderr
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html and "Ankle-foot orthosis" in html


def test_a_database_without_the_schema_is_one_line(tmp_path: Path) -> None:
    result = footdrop_cds("report", CDS_DATABASE_URL=f"sqlite:///{tmp_path / 'empty.db'}")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        line for line in result.stderr.strip().splitlines() if "footdrop-cds migrate" in line
    ]
