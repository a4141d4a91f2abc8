"""The FHIR searches our prefetch templates use, answered over a list of resources.

An EHR fills each prefetch key with what the key's query returns (CDS Hooks P-5:
prefetched data equals the query's result), and a FHIR server answers the same
query when the service fetches it itself. Both are played here from one
implementation of the few search features the templates use: a read
(`Patient/<id>`), a type search scoped by `patient`, and token equality on the
R4 search parameters the code filters name (`system|code`, comma = or). A
parameter this module does not know fails loudly, so a new template cannot be
answered wrongly in silence.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.fhir_server import searchset

Json = dict[str, Any]

#: R4 token search parameters the templates use -> the element paths they search.
TOKEN_PATHS: dict[tuple[str, str], tuple[str, ...]] = {
    ("Observation", "code"): ("code",),
    ("Procedure", "code"): ("code",),
    ("DiagnosticReport", "code"): ("code",),
    ("Encounter", "type"): ("type",),
    ("CarePlan", "category"): ("category",),
    ("CarePlan", "activity-code"): ("activity.detail.code",),
    ("MedicationAdministration", "code"): ("medicationCodeableConcept",),
}
SUBJECT_FIELDS = ("subject", "patient")


def walk(value: Any, path: list[str]) -> Iterator[Any]:
    """Every value at a dotted path (split), lists walked at any step."""
    if isinstance(value, list):
        for item in value:
            yield from walk(item, path)
    elif not path:
        yield value
    elif isinstance(value, dict) and path[0] in value:
        yield from walk(value[path[0]], path[1:])


def codings_at(resource: Json, path: str) -> Iterator[tuple[str, str]]:
    """(system, code) of every coding of the CodeableConcept(s) at a dotted path."""
    for concept in walk(resource, path.split(".")):
        if isinstance(concept, dict):
            for coding in concept.get("coding", []):
                yield coding.get("system", ""), coding.get("code", "")


def tokens(value: str) -> set[tuple[str, str]]:
    """A token parameter's `system|code` alternatives."""
    pairs = set()
    for token in value.split(","):
        system, _, code = token.rpartition("|")
        pairs.add((system, code))
    return pairs


def _about(resource: Json, patient_id: str) -> bool:
    for name in SUBJECT_FIELDS:
        target = (resource.get(name) or {}).get("reference", "")
        if target:
            return target.rsplit("/", 1)[-1].removeprefix("urn:uuid:") == patient_id
    return False


def search(resources: Iterable[Json], query: str) -> Json | None:
    """What a FHIR server answers to `query` (relative, no base URL) over `resources`:
    the resource for a read (None when absent), else a searchset Bundle."""
    parts = urlsplit(query)
    path = parts.path.strip("/")
    if "/" in path:
        resource_type, rid = path.split("/", 1)
        return next(
            (r for r in resources if r["resourceType"] == resource_type and r.get("id") == rid),
            None,
        )
    params = {name: values[-1] for name, values in parse_qs(parts.query).items()}
    patient_id = params.pop("patient")
    filters = []
    for name, value in params.items():
        if (path, name) not in TOKEN_PATHS:
            raise ValueError(f"{path}?{name}= is not a search this stand-in knows")
        filters.append((TOKEN_PATHS[(path, name)], tokens(value)))
    found = [
        r
        for r in resources
        if r["resourceType"] == path
        and _about(r, patient_id)
        and all(
            any(pair in wanted for field in fields for pair in codings_at(r, field))
            for fields, wanted in filters
        )
    ]
    return searchset(*found)


def fill(template: str, patient_id: str) -> str:
    return template.replace("{{context.patientId}}", patient_id)


def prefetch_for(resources: list[Json], templates: dict[str, str], patient_id: str) -> Json:
    """The prefetch an EHR sends for these templates: each key, what its query returns."""
    return {key: search(resources, fill(query, patient_id)) for key, query in templates.items()}
