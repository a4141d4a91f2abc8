"""`footdrop-cds`: the service's command line.

`report` gives the CDS committee the card analytics (the same numbers as
GET /analytics/cards) as a table, JSON or a self-contained HTML page with the
chart; `migrate` brings the database schema to the latest revision, for
deployments that set CDS_DATABASE_MIGRATE=check. Both read the CDS_* settings
from the environment, like the service.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cards.catalogue import CardCatalogue
from service.analytics import page
from service.analytics.report import read_report, text_table
from service.app import settings_from_environment
from service.storage.database import DatabaseUnavailable, redacted
from service.storage.store import Store

app = typer.Typer(
    name="footdrop-cds",
    help="CDS Hooks service for foot-drop decision support.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class Format(StrEnum):
    table = "table"
    json = "json"
    html = "html"


def _store(migrate_schema: bool) -> Store:
    settings = settings_from_environment()
    try:
        return Store.open(
            settings.database_url,
            timeout_s=settings.database_timeout_s,
            migrate_schema=migrate_schema,
        )
    except DatabaseUnavailable as error:
        raise SystemExit(f"footdrop-cds: {error}") from None


@app.command()
def report(
    weeks: Annotated[int, typer.Option(min=1, max=260, help="weeks up to this one")] = 12,
    output_format: Annotated[Format, typer.Option("--format", help="output format")] = Format.table,
    output: Annotated[Path | None, typer.Option(help="file to write (default: stdout)")] = None,
) -> None:
    """Cards shown, accepted and overridden (with reasons) per topic and week."""
    store = _store(migrate_schema=False)
    try:
        result = read_report(store, CardCatalogue.load(), datetime.now(UTC), weeks)
    finally:
        store.close()
    if output_format is Format.json:
        text = json.dumps(result.to_json(), indent=2) + "\n"
    elif output_format is Format.html:
        text = page.html(result)
    else:
        text = text_table(result)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


@app.command()
def migrate() -> None:
    """Bring the database schema to the latest revision (safe to run again)."""
    settings = settings_from_environment()
    _store(migrate_schema=True).close()
    typer.echo(f"database {redacted(settings.database_url)}: schema up to date")
