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

import logging
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from fhir.resources.R4B.resource import Resource

from mappings.fhirjson import JsonObject
from service.cds.errors import PreconditionFailed
from service.cds.models import HookRequest, OrderSelectContext, OrderSignContext, PatientViewContext
from service.fhir.client import (
    FhirClient,
    FhirError,
    FhirNotAllowed,
    entry_resources,
    next_link,
)
from service.fhir.patient_data import PatientData, parse_draft_orders, parse_resource
from service.settings import Settings

log = logging.getLogger(__name__)

_TOKEN_FIELDS = ("patientId", "userId", "encounterId")


@dataclass(frozen=True)
class PrefetchKey:
    """One prefetch template and what its absence means."""

    name: str
    query: str
    essential: bool = False


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


def _fetch(client: FhirClient, query: str, partial: JsonObject | None) -> list[JsonObject]:
    if partial is not None:
        return client.follow(partial)
    if "?" in query:
        return client.search_all(query)
    return [client.read(query)]


def resolve(
    keys: Mapping[str, PrefetchKey],
    request: HookRequest,
    context: PatientViewContext,
    settings: Settings,
    now: datetime,
) -> PatientData:
    """Collect every key's resources, parse them and hand back `PatientData`."""
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
            fetched = _fetch_all(to_fetch, request, settings)
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
    return _patient_data(obtained, request, context, now, frozenset(unavailable))


def _fetch_all(
    to_fetch: Mapping[str, tuple[str, JsonObject | None]], request: HookRequest, settings: Settings
) -> dict[str, list[JsonObject]]:
    """Run the missing queries concurrently; keys that fail or time out are left out."""
    if request.fhirServer is None:
        return {}
    deadline = time.monotonic() + settings.fhir_timeout_s
    token = request.fhirAuthorization.access_token if request.fhirAuthorization else None
    client = FhirClient(  # raises FhirNotAllowed before any call
        request.fhirServer, settings.fhir_allowlist, deadline, token, settings.fhir_max_pages
    )

    executor = ThreadPoolExecutor(max_workers=len(to_fetch), thread_name_prefix="fhir")
    futures: dict[Future[list[JsonObject]], str] = {
        executor.submit(_fetch, client, query, partial): name
        for name, (query, partial) in to_fetch.items()
    }
    done, _ = wait(futures, timeout=max(0.0, deadline - time.monotonic()))
    executor.shutdown(wait=False, cancel_futures=True)

    fetched: dict[str, list[JsonObject]] = {}
    for future, name in futures.items():
        if future not in done:
            log.warning("FHIR query for prefetch key %s timed out", name)
            continue
        try:
            fetched[name] = future.result()
        except FhirError as exc:
            log.warning("FHIR query for prefetch key %s failed: %s", name, type(exc).__name__)
    return fetched


def _patient_id(reference: object) -> str | None:
    """The Patient id a Reference points to (`Patient/x`, absolute, `_history`), else None."""
    if not isinstance(reference, dict) or not isinstance(reference.get("reference"), str):
        return None
    parts = reference["reference"].split("/")
    if "Patient" not in parts:
        return None
    position = len(parts) - 1 - parts[::-1].index("Patient")
    return parts[position + 1] if position + 1 < len(parts) else None


def _about_another_patient(raw: JsonObject, patient_id: str) -> bool:
    """True for a Patient other than the context's, or a resource whose subject is one.

    Prefetch and search results are only hints from the client; a record that names
    another patient must never feed this patient's cards.
    """
    if raw.get("resourceType") == "Patient":
        return raw.get("id") != patient_id
    for field in ("subject", "patient"):
        other = _patient_id(raw.get(field))
        if other is not None and other != patient_id:
            return True
    return False


def _patient_data(
    obtained: Mapping[str, list[JsonObject]],
    request: HookRequest,
    context: PatientViewContext,
    now: datetime,
    unavailable: frozenset[str],
) -> PatientData:
    by_type: dict[str, list[Resource]] = {}
    seen: set[tuple[str, str]] = set()
    skipped = 0
    for resources in obtained.values():
        for raw in resources:
            if _about_another_patient(raw, context.patientId):
                skipped += 1
                continue
            resource = parse_resource(raw)
            if resource is None:
                skipped += 1
                continue
            identity = (resource.get_resource_type(), str(raw.get("id", id(raw))))
            if identity in seen:
                continue
            seen.add(identity)
            by_type.setdefault(identity[0], []).append(resource)

    draft_orders: tuple[Any, ...] = ()
    selections: tuple[str, ...] = ()
    if isinstance(context, OrderSignContext):
        draft_orders, skipped_drafts = parse_draft_orders(context.draftOrders.entry)
        skipped += skipped_drafts
    if isinstance(context, OrderSelectContext):
        selections = tuple(context.selections)
    if skipped:
        log.info("hookInstance %s: %d invalid resources skipped", request.hookInstance, skipped)
    return PatientData(
        patient_id=context.patientId,
        now=now,
        resources={rtype: tuple(items) for rtype, items in by_type.items()},
        draft_orders=draft_orders,
        selections=selections,
        encounter_id=context.encounterId,
        user_id=context.userId,
        skipped=skipped,
        unavailable=unavailable,
    )
