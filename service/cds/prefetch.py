"""Obtain the patient's data: from the request's prefetch, else from the FHIR server.

Every prefetch state of CDS Hooks 2.0 (P-3) is handled per key:

    key absent              -> query fhirServer
    null                    -> no data; no query ("the client found nothing")
    Bundle                  -> its entries; a `next` link is followed on fhirServer
    OperationOutcome / junk -> the client could not get it: query fhirServer
    a resource (reads)      -> that resource

All queries of one request run concurrently under one deadline
(`CDS_FHIR_TIMEOUT_S`). Keys that are still missing are *unavailable*: an
essential key (Patient, Condition) makes the call fail with 412, any other is
named on the cards as data that could not be seen.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import quote

from mappings.fhirjson import JsonObject
from service.cds.admission import stepped_aside
from service.cds.errors import PreconditionFailed
from service.cds.models import HookRequest, OrderSelectContext, OrderSignContext, PatientViewContext
from service.cds.services import PrefetchKey
from service.fhir.client import (
    FhirClient,
    FhirError,
    FhirLimits,
    FhirNotAllowed,
    SearchResult,
    entry_resources,
    next_link,
)
from service.fhir.patient_data import PatientData, assemble
from service.fhir.transport import FhirTransport

log = logging.getLogger(__name__)

#: Each context field a query template may name, with its token.
_TOKENS = tuple(
    (field, "{{context." + field + "}}") for field in ("patientId", "userId", "encounterId")
)


@functools.lru_cache(maxsize=256)
def _tokens_of(query: str) -> tuple[tuple[str, str], ...] | None:
    """The context fields a query's `{{context.X}}` tokens name, each with its token; None
    when the query holds a token no context field fills. Worked out once per template (a
    query of several KB scanned for each token on every call was most of a fill)."""
    found = tuple((field, token) for field, token in _TOKENS if token in query)
    for _, token in found:
        query = query.replace(token, "")
    return None if "{{" in query else found


@functools.lru_cache(maxsize=16)
def _quoted(value: str) -> str:
    """A context value percent-encoded for a query: one call fills twenty templates with
    the same few values."""
    return quote(value, safe="/")


def fill_template(query: str, context: PatientViewContext) -> str | None:
    """Replace `{{context.X}}` tokens; None when a token has no value in this context.

    A value is percent-encoded, so it cannot add a token of its own."""
    tokens = _tokens_of(query)
    if tokens is None:
        return None
    for field, token in tokens:
        value = getattr(context, field)
        if not value:
            return None
        query = query.replace(token, _quoted(str(value)))
    return query


def _from_prefetch(value: Any) -> tuple[list[JsonObject] | None, JsonObject | None]:
    """Resources in one prefetch value, and a Bundle whose `next` page is still to fetch.

    (None, None) means the value is unusable and the key must be fetched.
    """
    if value is None:
        return [], None
    if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
        return None, None
    if value["resourceType"] == "OperationOutcome":
        return None, None
    if value["resourceType"] == "Bundle":
        return entry_resources(value), value if next_link(value) else None
    return [value], None


async def _fetch(client: FhirClient, query: str, partial: JsonObject | None) -> SearchResult:
    if partial is not None:
        return await client.follow(partial)
    if "?" in query:
        return await client.search_all(query)
    return SearchResult([await client.read(query)])


async def resolve(
    keys: Mapping[str, PrefetchKey],
    request: HookRequest,
    context: PatientViewContext,
    transport: FhirTransport,
    limits: FhirLimits,
    now: datetime,
) -> PatientData:
    """Collect every key's resources and hand back `PatientData`.

    Resources count against one entry budget (`CDS_FHIR_MAX_ENTRIES`), supplied
    and fetched alike; a key cut short by a cap is *partial*, and the cards say
    that part of the record was not read.
    """
    supplied = request.prefetch or {}
    obtained: dict[str, list[JsonObject]] = {}
    to_fetch: dict[str, tuple[str, JsonObject | None]] = {}
    partial_keys: set[str] = set()
    unreadable_keys: set[str] = set()  # supplied, but not a usable prefetch value
    budget = limits.max_entries
    for name, key in keys.items():
        query = fill_template(key.query, context)
        if query is None:
            continue
        resources, next_page = _from_prefetch(supplied[name]) if name in supplied else (None, None)
        if resources is None and name in supplied:
            unreadable_keys.add(name)
        if resources is None or next_page is not None:
            to_fetch[name] = (query, next_page)  # the fetch counts these entries itself
        if resources is not None:
            obtained[name] = resources
            if next_page is None:
                obtained[name] = resources[: max(0, budget)]
                budget -= len(obtained[name])
                if len(resources) > len(obtained[name]):
                    partial_keys.add(name)

    unavailable = set(to_fetch)
    refused = ""
    if to_fetch and request.fhirServer:
        try:
            async with stepped_aside():  # a slow FHIR server delays only the calls that need it
                fetched = await _fetch_all(
                    to_fetch, request, transport, replace(limits, max_entries=budget)
                )
        except FhirNotAllowed:
            # No call at all; only the essential keys among the gaps make this a 412 (P-7).
            log.warning("fhirServer is not on CDS_FHIR_ALLOWLIST; not queried")
            fetched, refused = {}, " (fhirServer is not on the service's allowlist)"
        for name, result in fetched.items():
            obtained[name] = result.resources
            if result.partial:
                partial_keys.add(name)
        unavailable -= fetched.keys()

    missing_essential = sorted(name for name in unavailable if keys[name].essential)
    if missing_essential:
        raise PreconditionFailed(
            "required data could not be obtained from prefetch or fhirServer: "
            + ", ".join(missing_essential)
            + refused
        )
    if partial_keys:
        log.warning(
            "hookInstance %s: record read in part (%s)", request.hookInstance, len(partial_keys)
        )
    drafts = context.draftOrders.entry if isinstance(context, OrderSignContext) else []
    selections = context.selections if isinstance(context, OrderSelectContext) else []
    data = assemble(
        obtained.values(),
        patient_id=context.patientId,
        now=now,
        draft_entries=drafts,
        selections=selections,
        encounter_id=context.encounterId,
        user_id=context.userId,
        unavailable=frozenset(unavailable),
        partial=frozenset(partial_keys),
        fetched=frozenset(to_fetch) - unavailable,
        prefetch_unreadable=frozenset(unreadable_keys),
    )
    if data.skipped:
        log.info(
            "hookInstance %s: %d invalid resources skipped", request.hookInstance, data.skipped
        )
    return data


async def _fetch_all(
    to_fetch: Mapping[str, tuple[str, JsonObject | None]],
    request: HookRequest,
    transport: FhirTransport,
    limits: FhirLimits,
) -> dict[str, SearchResult]:
    """Run the missing queries concurrently; keys that fail or time out are left out.

    One deadline covers every call, connect, body and parse; what is still running
    at it is cancelled.
    """
    if request.fhirServer is None:
        return {}
    token = request.fhirAuthorization.access_token if request.fhirAuthorization else None
    # Raises FhirNotAllowed before any call.
    client = FhirClient.for_request(transport, request.fhirServer, limits, token)
    tasks = {
        name: asyncio.create_task(_fetch(client, query, next_page))
        for name, (query, next_page) in to_fetch.items()
    }
    done, pending = await asyncio.wait(tasks.values(), timeout=limits.timeout_s)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending)
    fetched: dict[str, SearchResult] = {}
    for name, task in tasks.items():
        if task not in done:
            log.warning("FHIR query for prefetch key %s timed out", name)
            continue
        try:
            fetched[name] = task.result()
        except FhirError as exc:
            log.warning("FHIR query for prefetch key %s failed: %s", name, type(exc).__name__)
    return fetched
