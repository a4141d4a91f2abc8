"""`footdrop-cds report` and `footdrop-cds migrate`: the commands that work on the database.

`report` gives the CDS committee the card analytics (the same numbers as
GET /analytics/cards) as a table, JSON or a self-contained HTML page with the
chart; `migrate` brings the schema to the latest revision, for deployments that
set CDS_DATABASE_MIGRATE=check. Both read the CDS_* settings from the
environment, like the service.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from cards.catalogue import CardCatalogue
from service.analytics import page
from service.analytics.report import read_report, text_table
from service.app import open_store, settings_or_exit
from service.storage.database import redacted


def write_report(weeks: int, output_format: str, output: Path | None) -> None:
    """The report of the last `weeks` weeks as `table`, `json` or `html`, to `output` or stdout."""
    store = open_store(settings_or_exit(), migrate_schema=False)
    try:
        result = read_report(store, CardCatalogue.load(), datetime.now(UTC), weeks)
    finally:
        store.close()
    if output_format == "json":
        text = json.dumps(result.to_json(), indent=2) + "\n"
    elif output_format == "html":
        text = page.html(result)
    else:
        text = text_table(result)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


def migrate_schema() -> str:
    """Migrate the database; the line that says so."""
    settings = settings_or_exit()
    open_store(settings, migrate_schema=True).close()
    return f"database {redacted(settings.database_url)}: schema up to date"
