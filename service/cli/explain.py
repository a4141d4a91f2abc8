"""`footdrop-cds explain REQUEST.json`: why each card fired, or what stopped it.

The request runs in this process through the service's own pipeline (the same
code as `POST /cds-services/{id}`, with the CDS_* settings of the environment),
as an unverified caller: no snoozes or shown-card memory apply and nothing is
written to the card log. Prefetch keys the request lacks are fetched from its
`fhirServer` when it is on CDS_FHIR_ALLOWLIST, as the service would.

The request time is `--now`, else the request's `org.footdrop-cds.example-date`
(at noon UTC: the examples read as written), else now.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from rich.text import Text

from service.app import open_store
from service.cds.engine import Engine
from service.cds.errors import CdsError, describe_validation_error
from service.cds.explain import PrefetchKeyTrace, TopicTrace, Trace
from service.cds.models import Caller, HookRequest
from service.cds.pipeline import answer_call
from service.cds.services import ServiceSpec
from service.cli.demo import EXAMPLE_DATE, STYLE
from service.settings import ConfigurationError, load_settings

_STATUS_STYLE = {"supplied": "green", "fetched": "cyan", "missing": "bold red"}


class ExplainError(Exception):
    """The request cannot be explained; the message says why in one line."""


def explain_file(path: Path, service_id: str | None, now: datetime | None) -> Trace:
    """The rule trace of the hook request in `path`."""
    try:
        body = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ExplainError(f"{path}: not a readable JSON file ({error})") from None
    try:
        request = HookRequest.model_validate(body)
    except ValidationError as error:
        raise ExplainError(f"{path}: {describe_validation_error(error)}") from None
    try:
        settings = load_settings()
    except ConfigurationError as error:
        raise ExplainError(f"configuration error: {error}") from None
    # In memory and without authentication: an explanation keeps no state and logs no card.
    settings = settings.model_copy(update={"database_url": "sqlite://", "auth_mode": "off"})
    at = now or _example_noon(body) or datetime.now(UTC)
    engine = Engine.start(settings, open_store(settings, migrate_schema=True), lambda: at)
    try:
        spec = _service(engine, request, service_id)
        return asyncio.run(_trace(engine, spec, request))
    finally:
        asyncio.run(engine.aclose())


async def _trace(engine: Engine, spec: ServiceSpec, request: HookRequest) -> Trace:
    try:
        answered = await answer_call(engine, spec, request, Caller(), issued=False, observe=True)
    except CdsError as error:
        raise ExplainError(f"the service would answer {error.status}: {error}") from None
    return answered.trace()


def _service(engine: Engine, request: HookRequest, service_id: str | None) -> ServiceSpec:
    if service_id is not None:
        if service_id not in engine.services:
            raise ExplainError(f"no CDS service {service_id!r}: {', '.join(engine.services)}")
        return engine.services[service_id]
    for spec in engine.services.values():
        if spec.hook == request.hook:
            return spec
    raise ExplainError(f"no CDS service for the hook {request.hook!r}")


def _example_noon(body: dict[str, Any]) -> datetime | None:
    written = (body.get("extension") or {}).get(EXAMPLE_DATE)
    if not isinstance(written, str):
        return None
    try:
        return datetime.combine(date.fromisoformat(written), time(12), tzinfo=UTC)
    except ValueError:
        return None


def print_trace(trace: Trace, console: Console) -> None:
    """The trace for a person: where the data came from, then each topic (per order on the
    order hooks), fired or stopped, with what it read."""
    fired = sum(t.fired for t in trace.topics)
    console.rule(Text(f"{trace.service} ({trace.hook}): {fired} card{'s' * (fired != 1)}"))
    console.print(_prefetch(trace.prefetch))
    if trace.unreadable:
        console.print(Text("could not be read: ", "bold red") + Text(", ".join(trace.unreadable)))
    console.print(Text("across calls: ", "bold") + Text(_CROSS_CALL[trace.cross_call_state]))
    orders = list(dict.fromkeys(t.order for t in trace.topics))
    for order in orders:
        if order is not None:
            console.print(Text(f"order {order}", "bold underline"))
        table = Table.grid(padding=(0, 1))
        table.add_column(no_wrap=True)
        table.add_column()
        for group in _grouped([t for t in trace.topics if t.order == order]):
            table.add_row(*_topic(group))
        console.print(table)


def _grouped(topics: list[TopicTrace]) -> list[list[TopicTrace]]:
    """Stopped topics that share their condition and what they read, as one row (a
    patient without foot drop: one line, not ten); fired ones each on their own."""
    groups: dict[tuple[object, ...], list[TopicTrace]] = {}
    for topic in topics:
        key = (
            (topic.topic,)
            if topic.fired
            else (topic.stopped_by, *topic.features, "|", *topic.records)
        )
        groups.setdefault(key, []).append(topic)
    return list(groups.values())


_CROSS_CALL = {
    "not-kept": "not kept (unverified caller): nothing snoozed or left out as a repeat",
    "applied": "snoozes and the shown-card memory applied",
    "database-unavailable": "database unavailable: every card shown as the rules made it",
}


def _prefetch(keys: list[PrefetchKeyTrace]) -> Text:
    text = Text("prefetch", "bold")
    for status in ("supplied", "fetched", "missing", "not-requested"):
        named = [key for key in keys if key.status == status]
        if not named:
            continue
        text.append(f"\n  {status}: ", _STATUS_STYLE.get(status, "dim"))
        for i, key in enumerate(named):
            text.append(", " if i else "")
            text.append(key.key)
            notes = ["the request's value was unreadable"] if key.unreadable else []
            notes += ["read in part"] if key.partial else []
            if notes:
                text.append(f" ({'; '.join(notes)})", "yellow")
    return text


def _topic(group: list[TopicTrace]) -> tuple[Text, Text]:
    topic = group[0]
    names = ", ".join(t.topic for t in group)
    if topic.fired:
        indicator = topic.indicator or ""
        mark = Text("✔", "green")
        detail = Text(f"{topic.topic} ", "bold") + Text(
            indicator.upper(), STYLE.get(indicator, "bold")
        )
        detail.append(f" {topic.reason}")
    else:
        mark = Text("✘", "dim")
        detail = Text(f"{names} ", "bold") + Text(f"stopped by {topic.stopped_by}", "yellow")
        detail.append(f": {topic.reason}")
    if topic.features:
        detail.append(f"\nfeatures read: {', '.join(topic.features)}", "dim")
    if topic.records:
        detail.append(f"\nrecords: {', '.join(topic.records)}", "dim")
    return mark, detail


def run_explain(
    path: Path, service_id: str | None, now: datetime | None, as_json: bool, color: bool | None
) -> int:
    console = Console(
        highlight=False, force_terminal=True if color else None, no_color=color is False
    )
    try:
        trace = explain_file(path, service_id, now)
    except ExplainError as error:
        print(f"footdrop-cds explain: {error}", file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps(trace.model_dump(mode="json", exclude_none=True), indent=2))
    else:
        print_trace(trace, console)
    return 0
