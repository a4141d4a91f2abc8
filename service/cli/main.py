"""`footdrop-cds`: run, check and try the service, and regenerate its review documents.

Each command is a thin front on code that lives where it belongs (the app, the
content packages), imported only when the command runs so that each starts
quickly.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    name="footdrop-cds",
    help="CDS Hooks service for foot-drop decision support.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8080,
    workers: Annotated[
        int | None, typer.Option(help="server processes (default: CDS_WORKERS)")
    ] = None,
) -> None:
    """Serve the CDS Hooks API (uvicorn; CDS_* settings from the environment)."""
    from service.cli.serve import serve as run_server

    run_server(host, port, workers)


@app.command()
def check() -> None:
    """Check settings, content, database and trusted issuers; say exactly what is wrong."""
    from service.cli.check import run_checks

    raise typer.Exit(run_checks())


@app.command()
def demo(
    url: Annotated[str, typer.Option(help="base URL of a running service")] = (
        "http://127.0.0.1:8080"
    ),
    examples: Annotated[Path, typer.Option(help="directory of example hook requests")] = Path(
        "examples"
    ),
    key: Annotated[
        Path | None,
        typer.Option(help="private key (PEM) to sign a JWT with, for CDS_AUTH_MODE=jwt"),
    ] = None,
    issuer: Annotated[str | None, typer.Option(help="JWT iss (default: the demo issuer)")] = None,
    kid: Annotated[str | None, typer.Option(help="JWT kid (default: the demo key's)")] = None,
    audience_base: Annotated[
        str | None,
        typer.Option(help="the server's CDS_PUBLIC_BASE_URL, if not --url (JWT aud)"),
    ] = None,
    color: Annotated[
        bool | None, typer.Option("--color/--no-color", help="default: on a terminal")
    ] = None,
) -> None:
    """Send the example requests to a running service and print the cards it answers."""
    from service.cli.demo import DEMO_ISSUER, DEMO_KID, Signer, run_demo

    signer = Signer.from_file(key, issuer or DEMO_ISSUER, kid or DEMO_KID) if key else None
    raise typer.Exit(run_demo(url.rstrip("/"), examples, signer, audience_base, color))


@app.command(
    help="Say why each card fired, or which condition stopped it, for a hook request.\n\n"
    "The request runs in this process through the service's own pipeline (CDS_* settings "
    "from the environment): the rule trace for every topic, with the features and records "
    "each decision read and where each prefetch key came from. No state is kept and no "
    "card is logged."
)
def explain(
    request: Annotated[Path, typer.Argument(help="a hook request (JSON), as an EHR sends it")],
    service: Annotated[
        str | None, typer.Option(help="service id (default: the first for the request's hook)")
    ] = None,
    now: Annotated[
        datetime | None,
        typer.Option(help="request time (default: its example date at noon UTC, else now)"),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help='print {"topics": [...], "prefetch": [...]} as JSON')
    ] = False,
    color: Annotated[
        bool | None, typer.Option("--color/--no-color", help="default: on a terminal")
    ] = None,
) -> None:

    from service.cli.explain import run_explain

    raise typer.Exit(run_explain(request, service, now, as_json, color))


@app.command()
def docs(
    output: Annotated[
        Path | None, typer.Option(help="file to write (default: docs/clinical.md)")
    ] = None,
    check_only: Annotated[
        bool, typer.Option("--check", help="exit 1 if the file is out of date")
    ] = False,
) -> None:
    """Regenerate docs/clinical.md from the card content, in place."""
    from cards.__main__ import main as cards_main

    arguments = ["docs", *(["--output", str(output)] if output else [])]
    raise typer.Exit(cards_main([*arguments, *(["--check"] if check_only else [])]))


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def valuesets(context: typer.Context) -> None:
    """Print every value set as a table for clinical sign-off (`python -m mappings review`)."""
    from mappings.__main__ import main as mappings_main

    raise typer.Exit(mappings_main(["review", *context.args]))


class ReportFormat(StrEnum):
    table = "table"
    json = "json"
    html = "html"


@app.command()
def report(
    weeks: Annotated[int, typer.Option(min=1, max=260, help="weeks up to this one")] = 12,
    output_format: Annotated[
        ReportFormat, typer.Option("--format", help="output format")
    ] = ReportFormat.table,
    output: Annotated[Path | None, typer.Option(help="file to write (default: stdout)")] = None,
) -> None:
    """Cards shown, accepted and overridden (with reasons) per topic and week."""
    from service.cli.database import write_report

    write_report(weeks, output_format.value, output)


@app.command()
def migrate() -> None:
    """Bring the database schema to the latest revision (safe to run again)."""
    from service.cli.database import migrate_schema

    typer.echo(migrate_schema())
