"""Every source the features read is fetched (clinical-logic v3 §2 "Every source is fetched").

Derived from the readers, not restated: the resource types come from the readers
themselves (the care reader's `KINDS`, the Condition, Observation, allergy and
Patient readers) and from `features.sources.READS`, which the Observation and care
readers obey (probed below: a resource coded with any value set yields only what
READS names for its type). Discovery, as an EHR reads it over HTTP, must then ask
for every such type, without a code filter where the whole type is read, and with
every code of every value set read from it where the query filters by code — the
codes taken from the stored ValueSet expansions themselves. Each URL stays under
6 KB. The FHIR fallback sends exactly the discovery queries, and text-only
Conditions (no code a filter could name) reach the rules both ways.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from mappings.matcher import DEFAULT_DIRECTORY, ValueSetIndex
from mappings.text import TextPatterns, default_patterns
from service.cds.models import HookRequest, PatientViewContext
from service.cds.prefetch import resolve
from service.cds.services import (
    DEFINITIONS,
    MAX_QUERY_BYTES,
    PrefetchKey,
    load_services,
    url_bytes,
)
from service.clinical.features.care import KINDS, CareReader
from service.clinical.features.observations import read_observations
from service.clinical.features.sources import EVERY, READS
from service.fhir.patient_data import PatientData, assemble
from service.fhir.transport import HttpTransport
from tests.conftest import (
    FOOT_DROP,
    PATIENT_ID,
    days_ago,
    full_prefetch,
    hook_request,
    make_settings,
    patient,
)
from tests.support import drafts
from tests.support.fhir_search import TOKEN_PATHS, prefetch_for, search, tokens
from tests.support.fhir_server import FhirServer

Json = dict[str, Any]
#: Types the readers outside the care reader read (extract.read_record).
OTHER_READERS = ("Patient", "Condition", "Observation", "AllergyIntolerance")
#: Where each reader looks for a coding, to build probes (the care reader's own concept fields).
PROBE_FIELDS = {"Observation": "code"}
#: Spec sources (clinical-logic v3 §2) whose reader has not landed on this branch's main:
#: requested already, so the reader finds its data the day it lands.
AWAITING_A_READER: set[str] = set()


@pytest.fixture(scope="module")
def index() -> ValueSetIndex:
    return ValueSetIndex.load()


@pytest.fixture(scope="module")
def text_patterns() -> TextPatterns:
    return default_patterns()


@pytest.fixture(scope="module")
def discovered() -> dict[str, dict[str, str]]:
    """Discovery as an EHR reads it over HTTP: service id -> its prefetch templates."""
    from service.app import create_app

    with TestClient(create_app(make_settings())) as client:
        services = client.get("/cds-services").json()["services"]
    return {s["id"]: s["prefetch"] for s in services}


def expansion(feature: str) -> set[tuple[str, str]]:
    """The value set's codes as its file records them (ValueSet.expansion.contains)."""
    data = json.loads((DEFAULT_DIRECTORY / f"{feature}.json").read_text(encoding="utf-8"))
    return {(c["system"], c["code"]) for c in data["expansion"]["contains"]}


def read_types() -> set[str]:
    return {*KINDS, *OTHER_READERS}


def served(prefetch: dict[str, str], resource_type: str) -> list[tuple[str, dict[str, str]]]:
    """(key, parameters other than patient) of each query searching `resource_type`."""
    found = []
    for key, query in prefetch.items():
        parts = urlsplit(query)
        if parts.path.split("/")[0] == resource_type:
            params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            assert params.pop("patient", "{{context.patientId}}") == "{{context.patientId}}"
            found.append((key, params))
    return found


# ------------------------------------------------------------------ the table and the readers
def test_every_type_a_reader_reads_is_in_the_table() -> None:
    assert read_types() - set(READS) == set()
    assert set(READS) - read_types() == AWAITING_A_READER, (
        "a reader for a pending source landed: take it out of AWAITING_A_READER"
    )


def test_the_table_names_only_value_sets_that_exist() -> None:
    files = {path.stem for path in DEFAULT_DIRECTORY.glob("*.json")}
    for resource_type, value_sets in READS.items():
        assert value_sets is EVERY or set(value_sets) <= files, resource_type


def _probe(resource_type: str, coding: Json) -> Json:
    field = PROBE_FIELDS.get(resource_type) or KINDS[resource_type].concepts[0]
    concept = {"coding": [coding]}
    status = next(iter(KINDS[resource_type].states), "final") if resource_type in KINDS else "final"
    return {
        "resourceType": resource_type,
        "id": "probe",
        "status": status,
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        field.removesuffix("[]"): [concept] if field.endswith("[]") else concept,
    }


def features_read(index: ValueSetIndex, patterns: TextPatterns, resource: Json) -> set[str]:
    data = assemble([[resource]], patient_id=PATIENT_ID, now=datetime.now(UTC))
    (probe,) = data.resources[resource["resourceType"]]
    if probe.type == "Observation":
        found = read_observations([probe], index, patterns)
        return {m.feature for m in found.measurements} | {f.feature for f in found.findings}
    reading = CareReader(index, patterns, data).read(probe)
    return {e.feature for e in reading.events if not e.from_text} if reading else set()


FILTERED = sorted(t for t, sets in READS.items() if sets is not EVERY and t in read_types())


@pytest.mark.parametrize("resource_type", FILTERED)
def test_a_filtered_type_is_read_exactly_for_the_value_sets_the_table_names(
    index: ValueSetIndex, text_patterns: TextPatterns, resource_type: str
) -> None:
    """Probe the reader with one code of every value set (each system): it reads the type's
    table entries and nothing else, so nothing is read that the query does not ask for."""
    wanted = set(READS[resource_type] or ())
    read: set[str] = set()
    for path in sorted(DEFAULT_DIRECTORY.glob("*.json")):
        by_system: dict[str, str] = {}
        for system, code in sorted(expansion(path.stem)):
            by_system.setdefault(system, code)
        for system, code in by_system.items():
            coding = {"system": system, "code": code}
            got = features_read(index, text_patterns, _probe(resource_type, coding))
            assert got <= wanted, (resource_type, path.stem, code, got - wanted)
            read |= got
    missing = {v for v in wanted - read if expansion(v)}
    assert missing == set(), f"{resource_type}: the table names value sets no probe reads"


# ------------------------------------------------------------------ discovery asks for them
def test_discovery_asks_for_every_type_the_features_read(
    discovered: dict[str, dict[str, str]],
) -> None:
    for service, prefetch in discovered.items():
        for resource_type in READS:
            assert served(prefetch, resource_type), (service, resource_type)


def test_types_read_whole_are_fetched_without_a_code_filter(
    discovered: dict[str, dict[str, str]],
) -> None:
    for prefetch in discovered.values():
        assert prefetch["conditions"] == "Condition?patient={{context.patientId}}"
        for resource_type, value_sets in READS.items():
            if value_sets is EVERY and resource_type != "Patient":
                assert [p for _, p in served(prefetch, resource_type)] == [{}], resource_type


def test_every_code_of_every_value_set_read_is_in_the_queries_that_serve_it(
    discovered: dict[str, dict[str, str]],
) -> None:
    """A code that no query can return is a gap (issue 8 item 2): per search parameter,
    the union of the split keys carries the whole stored expansion of every value set."""
    for service, prefetch in discovered.items():
        for resource_type, value_sets in READS.items():
            if value_sets is EVERY:
                continue
            by_parameter: dict[str, set[tuple[str, str]]] = {}
            for _, params in served(prefetch, resource_type):
                ((name, value),) = params.items()
                assert (resource_type, name) in TOKEN_PATHS, (resource_type, name)
                by_parameter.setdefault(name, set()).update(tokens(value))
            assert by_parameter, (service, resource_type)
            for name, carried in by_parameter.items():
                for feature in value_sets:
                    missing = expansion(feature) - carried
                    assert not missing, (service, f"{resource_type}?{name}", feature, missing)


def test_icd10cm_families_are_carried_with_their_non_leaf_codes(
    discovered: dict[str, dict[str, str]],
) -> None:
    """The review's gaps: R15.- (faecal incontinence), S34.3- (cauda equina injury) and
    R20.- recorded as Observations, the family code itself included."""
    carried = set().union(
        *(tokens(p["code"]) for _, p in served(discovered["footdrop-patient-view"], "Observation"))
    )
    icd = "http://hl7.org/fhir/sid/icd-10-cm"
    for family in ("R15", "S34.3"):
        codes = {c for s, c in carried if s == icd and c.startswith(family)}
        assert family in codes and len(codes) > 1, (family, sorted(codes))
    assert {(icd, c) for c in ("R20.0", "R20.1", "R20.2")} <= carried


def test_every_query_url_is_under_6_kb_and_long_filters_are_split(
    discovered: dict[str, dict[str, str]],
) -> None:
    for prefetch in discovered.values():
        for key, query in prefetch.items():
            assert url_bytes(query) <= MAX_QUERY_BYTES < 6 * 1024, key
        procedure_keys = [key for key, _ in served(prefetch, "Procedure")]
        assert len(procedure_keys) > 1, "the Procedure filter no longer needs splitting"


@pytest.mark.parametrize(
    ("query", "complaint"),
    [
        ("Condition?patient={{context.patientId}}&code={{codes:Condition}}", "no value sets"),
        ("Claim?patient={{context.patientId}}&code={{codes:Claim}}", "no value sets"),
        (
            "Observation?code={{codes:Observation}}&category={{codes:Observation}}",
            "one code filter",
        ),
    ],
)
def test_a_code_filter_the_table_cannot_fill_stops_start_up(
    tmp_path: Path, index: ValueSetIndex, query: str, complaint: str
) -> None:
    text = DEFINITIONS.read_text(encoding="utf-8").replace(
        'query = "DiagnosticReport?patient={{context.patientId}}&code={{codes:DiagnosticReport}}"',
        f'query = "{query}"',
    )
    assert text != DEFINITIONS.read_text(encoding="utf-8")
    path = tmp_path / "services.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=complaint):
        load_services(index, path)


def test_split_keys_carry_disjoint_shares_of_the_codes_in_the_key_order(
    index: ValueSetIndex,
) -> None:
    keys = load_services(index)["footdrop-order-sign"].prefetch
    split = [k for k in keys if k.startswith("procedures")]
    assert split == ["procedures", *(f"procedures{n}" for n in range(2, len(split) + 1))]
    shares = [tokens(parse_qs(urlsplit(keys[k].query).query)["code"][0]) for k in split]
    assert sum(len(share) for share in shares) == len(set().union(*shares))


# ------------------------------------------------------------------ the FHIR fallback, text-only
def text_only(rid: str, text: str, onset_days: int = 3) -> Json:
    return {
        "resourceType": "Condition",
        "id": rid,
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "active",
                }
            ]
        },
        "code": {"text": text},
        "onsetDateTime": days_ago(onset_days),
        "recordedDate": days_ago(onset_days),
    }


SEIZURE_TEXT = text_only("seizure-text", "Epileptic seizures since childhood", 4000)
RETENTION_TEXT = text_only("retention-text", "Acute urinary retention")


def dalfampridine_select() -> Json:
    draft = drafts.dalfampridine(rid="dalf-1")
    return {
        "selections": ["MedicationRequest/dalf-1"],
        "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": draft}]},
    }


def record_server(fhir: FhirServer, *resources: Json) -> None:
    """The loopback server answers every search over this record as a FHIR server would."""
    record = [patient(), *resources]
    fhir.answer = lambda query: search(record, query)


def via_both(
    client_factory: Callable[..., TestClient],
    fhir: FhirServer,
    hook: str,
    resources: tuple[Json, ...],
    context: Json | None = None,
) -> tuple[Any, Any]:
    client = client_factory(fhir_allowlist=[fhir.base_url])
    path = "/cds-services/footdrop-" + hook
    by_prefetch = client.post(
        path, json=hook_request(hook, prefetch=full_prefetch(*resources), context=context)
    )
    record_server(fhir, *resources)
    fhir.requests.clear()
    by_server = client.post(
        path, json=hook_request(hook, fhir_server_url=fhir.base_url, token="t", context=context)
    )
    assert by_prefetch.status_code == by_server.status_code == 200, by_server.text
    return by_prefetch.json(), by_server.json()


def test_the_fhir_fallback_sends_exactly_the_discovery_queries(
    client_factory: Callable[..., TestClient], fhir: FhirServer
) -> None:
    templates = {name: key.query for name, key in patient_view_keys().items()}
    via_both(client_factory, fhir, "patient-view", (FOOT_DROP,))
    sent = sorted((r.path, sorted(r.query.items())) for r in fhir.requests)
    expected = []
    for query in templates.values():
        parts = urlsplit(query.replace("{{context.patientId}}", PATIENT_ID))
        expected.append(("/fhir/" + parts.path, sorted(parse_qs(parts.query).items())))
    assert sent == sorted(expected)


@functools.cache
def patient_view_keys() -> Mapping[str, PrefetchKey]:
    return load_services(ValueSetIndex.load())["footdrop-patient-view"].prefetch


def resolved(body: Json, fhir: FhirServer) -> PatientData:
    """The PatientData the rules get for this request, with the services' own prefetch keys."""
    keys = patient_view_keys()
    request = HookRequest.model_validate(body)
    context = PatientViewContext.model_validate(request.context)
    limits = make_settings(fhir_allowlist=[fhir.base_url]).fhir_limits

    async def once() -> PatientData:
        transport = HttpTransport(10**7)
        try:
            return await resolve(keys, request, context, transport, limits, datetime.now(UTC))
        finally:
            await transport.aclose()

    return asyncio.run(once())


@pytest.mark.parametrize("entry", [SEIZURE_TEXT, RETENTION_TEXT], ids=["seizure", "retention"])
def test_a_text_only_condition_reaches_the_rules_by_prefetch_and_by_the_fhir_fallback(
    discovered: dict[str, dict[str, str]], fhir: FhirServer, entry: Json
) -> None:
    """No code filter could name it: it arrives because Conditions are fetched whole, from
    the EHR's prefetch (what the discovery query returns) and from the server alike."""
    record = [patient(), FOOT_DROP, entry]
    templates = discovered["footdrop-patient-view"]
    by_prefetch = resolved(hook_request(prefetch=prefetch_for(record, templates, PATIENT_ID)), fhir)
    assert fhir.requests == []
    record_server(fhir, FOOT_DROP, entry)
    by_server = resolved(hook_request(fhir_server_url=fhir.base_url, token="t"), fhir)
    assert fhir.requests
    for data in (by_prefetch, by_server):
        assert [r.id for r in data.of_type("Condition")] == ["fd-1", entry["id"]]
        assert data.incomplete == frozenset()


def test_text_only_seizure_condition_contraindicates_dalfampridine_both_ways(
    client_factory: Callable[..., TestClient], fhir: FhirServer
) -> None:
    for answer in via_both(
        client_factory, fhir, "order-select", (SEIZURE_TEXT,), dalfampridine_select()
    ):
        topics = [card["source"]["topic"]["code"] for card in answer["cards"]]
        assert "dalfampridine-contraindicated" in topics, topics


def test_text_only_urinary_retention_gives_the_red_flag_card_both_ways(
    client_factory: Callable[..., TestClient], fhir: FhirServer
) -> None:
    for answer in via_both(client_factory, fhir, "patient-view", (FOOT_DROP, RETENTION_TEXT)):
        topics = [card["source"]["topic"]["code"] for card in answer["cards"]]
        assert "red-flag-urgent-evaluation" in topics, topics
