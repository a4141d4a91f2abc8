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
import logging
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

from mappings.fhirjson import JsonObject
from service.cds.errors import PreconditionFailed
from service.cds.models import HookRequest, OrderSelectContext, OrderSignContext, PatientViewContext
from service.cds.services import PrefetchKey
from service.fhir.client import (
    FhirClient,
    FhirError,
    FhirLimits,
    FhirNotAllowed,
    entry_resources,
    next_link,
)
from service.fhir.patient_data import PatientData, assemble
from service.fhir.transport import FhirTransport

log = logging.getLogger(__name__)

_TOKEN_FIELDS = ("patientId", "userId", "encounterId")


def fill_template(query: str, context: PatientViewContext) -> str | None:
    """Replace `{{context.X}}` tokens; None when a token has no value in this context."""
    for field in _TOKEN_FIELDS:
        token = "{{context." + field + "}}"
        if token in query:
            value = getattr(context, field)
            if not value:
                return None
            query = query.replace(token, quote(str(value), safe="/"))
    return None if "{{" in query else query


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


async def _fetch(client: FhirClient, query: str, partial: JsonObject | None) -> list[JsonObject]:
    if partial is not None:
        return await client.follow(partial)
    if "?" in query:
        return await client.search_all(query)
    return [await client.read(query)]


async def resolve(
    keys: Mapping[str, PrefetchKey],
    request: HookRequest,
    context: PatientViewContext,
    transport: FhirTransport,
    limits: FhirLimits,
    now: datetime,
) -> PatientData:
    """Collect every key's resources and hand back `PatientData`."""
    supplied = request.prefetch or {}
    obtained: dict[str, list[JsonObject]] = {}
    to_fetch: dict[str, tuple[str, JsonObject | None]] = {}
    for name, key in keys.items():
        query = fill_template(key.query, context)
        if query is None:
            continue
        resources, partial = _from_prefetch(supplied[name]) if name in supplied else (None, None)
        if resources is not None:
            obtained[name] = resources
        if resources is None or partial is not None:
            to_fetch[name] = (query, partial)

    unavailable = set(to_fetch)
    refused = ""
    if to_fetch and request.fhirServer:
        try:
            fetched = await _fetch_all(to_fetch, request, transport, limits)
        except FhirNotAllowed:
            # No call at all; only the essential keys among the gaps make this a 412 (P-7).
            log.warning("fhirServer is not on CDS_FHIR_ALLOWLIST; not queried")
            fetched, refused = {}, " (fhirServer is not on the service's allowlist)"
        obtained.update(fetched)
        unavailable -= fetched.keys()

    missing_essential = sorted(name for name in unavailable if keys[name].essential)
    if missing_essential:
        raise PreconditionFailed(
            "required data could not be obtained from prefetch or fhirServer: "
            + ", ".join(missing_essential)
            + refused
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
) -> dict[str, list[JsonObject]]:
    """Run the missing queries concurrently; keys that fail or time out are left out.

    One deadline covers every call; what is still running at it is cancelled.
    """
    if request.fhirServer is None:
        return {}
    token = request.fhirAuthorization.access_token if request.fhirAuthorization else None
    client = FhirClient(  # raises FhirNotAllowed before any call
        transport,
        request.fhirServer,
        limits.allowlist,
        time.monotonic() + limits.timeout_s,
        token,
        limits.max_pages,
    )
    tasks = {
        name: asyncio.create_task(_fetch(client, query, partial))
        for name, (query, partial) in to_fetch.items()
    }
    done, pending = await asyncio.wait(tasks.values(), timeout=limits.timeout_s)
    for task in pending:
        task.cancel()
    fetched: dict[str, list[JsonObject]] = {}
    for name, task in tasks.items():
        if task not in done:
            log.warning("FHIR query for prefetch key %s timed out", name)
            continue
        try:
            fetched[name] = task.result()
        except FhirError as exc:
            log.warning("FHIR query for prefetch key %s failed: %s", name, type(exc).__name__)
    return fetched
