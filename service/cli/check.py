"""`footdrop-cds check`: is this configuration able to serve? Each part says what is wrong.

Read-only: settings are validated, the content is loaded and checked as at
start-up, the database is connected to (within CDS_DATABASE_TIMEOUT_S) and its
schema compared with the latest migration (start-up applies missing ones, or
refuses to start with CDS_DATABASE_MIGRATE=check), the trusted issuers' key sets
are loaded. Exit status 0 when everything is usable, 1 otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx
import typer
from sqlalchemy.exc import SQLAlchemyError

from service.auth.jwks import KeySetError, parse_key_set
from service.cds.engine import Content
from service.settings import ConfigurationError, Settings, load_settings
from service.storage.database import create_db_engine, redacted, schema_revisions


@dataclass(frozen=True)
class Outcome:
    ok: bool
    detail: str


def check_content(_: Settings) -> Outcome:
    try:
        content = Content.load()
    except Exception as error:  # content errors name their file
        return Outcome(False, f"{type(error).__name__}: {error}")
    version = content.catalogue.content.version
    return Outcome(
        True,
        f"{len(content.index.features)} value sets, {len(content.catalogue.templates)} card "
        f"templates, {len(content.services)} services (clinical content {version})",
    )


def check_database(settings: Settings) -> Outcome:
    try:
        engine = create_db_engine(settings.database_url, settings.database_timeout_s)
    except (SQLAlchemyError, ValueError, ImportError) as error:
        return Outcome(False, f"CDS_DATABASE_URL: {type(error).__name__}: {_first_line(error)}")
    where = redacted(settings.database_url)  # as given: without the timeouts the engine adds
    try:
        current, heads = schema_revisions(engine)
    except SQLAlchemyError as error:
        reason = _first_line(getattr(error, "orig", None) or error)
        return Outcome(False, f"CDS_DATABASE_URL {where}: cannot connect or read: {reason}")
    finally:
        engine.dispose()
    if current == heads:
        return Outcome(True, f"{where}: reachable, schema current")
    state = ", ".join(sorted(current)) or "empty"
    if settings.database_migrate == "check":
        return Outcome(
            False,
            f"{where}: reachable, schema {state}, not the latest: run `footdrop-cds migrate` "
            "(CDS_DATABASE_MIGRATE=check)",
        )
    return Outcome(True, f"{where}: reachable, schema {state}; start-up migrates it to the latest")


def check_trusted_issuers(settings: Settings) -> Outcome:
    """Each issuer's keys: from its file (read when the settings were), or fetched now."""
    issuers = settings.trusted_issuers.root
    if not issuers:  # the settings refuse jwt mode without issuers
        return Outcome(True, "none (CDS_AUTH_MODE=off)")
    found, failed = [], False
    for iss, issuer in issuers.items():
        note = " (testing: its private key is public)" if issuer.testing else ""
        if issuer.file_keys is not None:
            count, source = len(issuer.file_keys), str(issuer.jwks_file)
        else:
            assert issuer.jwks_url is not None  # the settings require a file or a URL
            source = issuer.jwks_url
            try:
                response = httpx.get(source, follow_redirects=False, timeout=5)
                if response.status_code != 200:
                    raise KeySetError(f"HTTP status {response.status_code}")
                count = len(parse_key_set(response.content))
            except (httpx.HTTPError, KeySetError) as error:
                found.append(f"{iss}: cannot get its key set from {source}: {error}")
                failed = True
                continue
        failed = failed or count == 0
        found.append(f"{iss}: {count} usable key(s) from {source}{note}")
    return Outcome(not failed, "CDS_TRUSTED_ISSUERS " + "; ".join(found))


#: Each part of the configuration, checked in this order once the settings are valid.
CHECKS: list[tuple[str, Callable[[Settings], Outcome]]] = [
    ("content", check_content),
    ("database", check_database),
    ("trusted issuers", check_trusted_issuers),
]


def run_checks() -> int:
    try:
        settings = load_settings()
    except ConfigurationError as error:
        _report("settings", Outcome(False, str(error)))
        return 1
    _report("settings", Outcome(True, f"auth {settings.auth_mode}, {settings.workers} workers"))
    failed = False
    for name, check in CHECKS:
        outcome = check(settings)
        _report(name, outcome)
        failed = failed or not outcome.ok
    return 1 if failed else 0


def _report(name: str, outcome: Outcome) -> None:
    mark = typer.style("ok  ", fg="green") if outcome.ok else typer.style("FAIL", fg="red")
    typer.echo(f"{mark} {name}: {outcome.detail}")


def _first_line(error: object) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
