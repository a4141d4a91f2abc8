"""What the pipeline knows about one patient for one request.

`PatientData` is the hand-off between the only step that does I/O
(`service.cds.prefetch`) and the pure steps after it (features, rules, cards).
Every resource is kept as the JSON the EHR sent (`Resource`), by type: nothing
is parsed whole here, so a field that strict FHIR models would reject never
hides the rest of a resource. The features read the fields they need with
`service.fhir.readers` and record what they could not read.

Assembly drops only what is not this patient's: a resource whose `subject` (or
`patient`) is another patient, another kind of subject, or a reference that
cannot be read as one (identifier-only, `patient/x`); results without a subject
are kept. Draft orders are checked the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from mappings.fhirjson import JsonObject
from service.fhir.r4 import as_valid_r4
from service.fhir.readers import Reader, Unreadable

#: Request resource types that can appear as draft orders (CDS Hooks order-select /
#: order-sign, R4). Anything else in draftOrders is ignored.
DRAFT_ORDER_TYPES = frozenset(
    {"ServiceRequest", "DeviceRequest", "MedicationRequest", "NutritionOrder", "VisionPrescription"}
)
#: Fields that name whom a resource is about.
SUBJECT_FIELDS = ("subject", "patient")
#: Where an entry is not a resource at all, its type is unknown.
UNKNOWN_TYPE = "(unknown)"
NO_ID = "(no id)"

_ID = r"[^/\s]+"
_HISTORY = r"(?:/_history/[^/\s]+)?"
_PATIENT_REFERENCE = re.compile(rf"(?:.+/)?Patient/({_ID}){_HISTORY}")
_OTHER_SUBJECT = re.compile(rf"(?:.+/)?[A-Z][A-Za-z]+/{_ID}{_HISTORY}")
_UUID_REFERENCE = re.compile(r"urn:uuid:(.+)")


@dataclass(frozen=True, slots=True)
class Resource:
    """One resource as the EHR sent it, with the identity every reader needs."""

    type: str
    id: str | None
    json: JsonObject

    @classmethod
    def of(cls, json: JsonObject) -> Resource:
        """A resource from its JSON (`resourceType` must be a string)."""
        rid = json.get("id")
        return cls(str(json["resourceType"]), rid if isinstance(rid, str) and rid else None, json)

    def reader(self) -> Reader:
        """A fresh reader of this resource, with its own list of unreadable fields."""
        return Reader(self.json)

    def unreadable(self, fields: Iterable[str]) -> tuple[Unreadable, ...]:
        """The fields of this resource a reader could not read, as records of it."""
        return tuple(Unreadable(self.type, self.id or NO_ID, name) for name in fields)


@dataclass(frozen=True)
class DraftOrder:
    """One unsigned order from `context.draftOrders`, kept whole for update actions."""

    resource: Resource

    @property
    def raw(self) -> JsonObject:
        return self.resource.json

    @property
    def reference(self) -> str:
        """`Type/id`, the form `context.selections` and `resourceId` use."""
        return f"{self.resource.type}/{self.resource.id or ''}"


@dataclass(frozen=True)
class PatientData:
    """The patient's record as obtained for this request.

    `resources` maps a resource type to its resources (Patient included).
    `skipped` counts entries left out (not a resource, or not this patient's);
    `unreadable` records those of them that might have been this patient's but
    could not be read, and `unavailable` names prefetch keys whose data could not
    be obtained, so that cards can say what they could not see.
    """

    patient_id: str
    now: datetime
    resources: Mapping[str, tuple[Resource, ...]] = field(default_factory=dict)
    draft_orders: tuple[DraftOrder, ...] = ()
    selections: tuple[str, ...] = ()
    encounter_id: str | None = None
    user_id: str | None = None
    skipped: int = 0
    unavailable: frozenset[str] = frozenset()
    partial: frozenset[str] = frozenset()
    """Prefetch keys read only in part: a cap (entries, pages) left resources out."""
    fetched: frozenset[str] = frozenset()
    """Prefetch keys (or their next pages) obtained from fhirServer."""
    prefetch_unreadable: frozenset[str] = frozenset()
    """Prefetch keys whose value in the request could not be used (an OperationOutcome,
    not a resource): fetched instead, or unavailable."""

    @property
    def incomplete(self) -> frozenset[str]:
        """Keys whose data is missing or cut short: the cards must not treat them as seen."""
        return self.unavailable | self.partial

    unreadable: tuple[Unreadable, ...] = ()

    def of_type(self, resource_type: str) -> tuple[Resource, ...]:
        return self.resources.get(resource_type, ())

    @property
    def patient(self) -> Resource | None:
        patients = self.of_type("Patient")
        return patients[0] if patients else None

    def order_json(self, reference: str) -> JsonObject | None:
        """A copy of the complete order `Type/id` an update or delete acts on.

        A draft comes back as the EHR sent it, normalised to valid R4 (a single
        object where R4 has a list, a missing `intent`; `service.fhir.r4`); an order
        already in the record (patient-view) likewise. The EHR must receive a
        resource it can store: when none can be made, there is nothing to update.
        """
        for draft in self.draft_orders:
            if draft.reference == reference:
                return as_valid_r4(draft.raw)
        resource_type, _, resource_id = reference.partition("/")
        for resource in self.of_type(resource_type):
            if resource.id == resource_id:
                return as_valid_r4(resource.json)
        return None

    @property
    def selected_orders(self) -> tuple[DraftOrder, ...]:
        """Draft orders named in `context.selections`, in selection order."""
        by_ref = {order.reference: order for order in self.draft_orders}
        return tuple(by_ref[ref] for ref in self.selections if ref in by_ref)


def _entry_resource(entry: object) -> Resource | None:
    if isinstance(entry, dict) and isinstance(entry.get("resourceType"), str):
        return Resource.of(entry)
    return None


def parse_draft_orders(entries: Iterable[object]) -> tuple[tuple[DraftOrder, ...], int]:
    """The draftOrders entries that are orders; returns them and how many were skipped.

    Nothing else is checked here: a draft is read field by field like any resource.
    """
    orders: list[DraftOrder] = []
    skipped = 0
    for entry in entries:
        resource = _entry_resource(entry.get("resource") if isinstance(entry, dict) else None)
        if resource is None or resource.type not in DRAFT_ORDER_TYPES:
            skipped += 1
            continue
        orders.append(DraftOrder(resource))
    return tuple(orders), skipped


Belonging = Literal["this", "other", "unreadable"]


def _reference_belongs(
    reference: object, patient_id: str, verdicts: dict[str, Belonging]
) -> Belonging:
    """Whether a Reference points to this patient: `Patient/<id>`, `<base>/Patient/<id>`
    (a version allowed) or `urn:uuid:<id>` (Synthea's form). `verdicts` remembers them by
    the reference's text: a record names its patient the same way in every resource."""
    target = reference.get("reference") if isinstance(reference, dict) else None
    if not isinstance(target, str):
        return "unreadable"  # identifier-only, display-only, not a Reference
    verdict = verdicts.get(target)
    if verdict is None:
        verdict = verdicts[target] = _target_belongs(target.strip(), patient_id)
    return verdict


def _target_belongs(target: str, patient_id: str) -> Belonging:
    if (found := _PATIENT_REFERENCE.fullmatch(target)) or (
        found := _UUID_REFERENCE.fullmatch(target)
    ):
        return "this" if found.group(1) == patient_id else "other"
    return "other" if _OTHER_SUBJECT.fullmatch(target) else "unreadable"


def belongs(
    resource: Resource, patient_id: str, verdicts: dict[str, Belonging]
) -> tuple[Belonging, str]:
    """Whether a resource is this patient's, and the field that decided otherwise.

    Prefetch and search results are only hints from the client; a record that names
    another patient, or whose subject cannot be read, must never feed this patient's cards.
    `verdicts` carries what one assembly has already told of each reference's text.
    """
    if resource.type == "Patient":
        return ("this" if resource.id == patient_id else "other"), "id"
    for name in SUBJECT_FIELDS:
        if resource.json.get(name) is not None:
            verdict = _reference_belongs(resource.json[name], patient_id, verdicts)
            if verdict != "this":
                return verdict, name
    return "this", ""


def assemble(
    obtained: Iterable[Iterable[object]],
    *,
    patient_id: str,
    now: datetime,
    draft_entries: Iterable[object] = (),
    selections: Iterable[str] = (),
    encounter_id: str | None = None,
    user_id: str | None = None,
    unavailable: frozenset[str] = frozenset(),
    partial: frozenset[str] = frozenset(),
    fetched: frozenset[str] = frozenset(),
    prefetch_unreadable: frozenset[str] = frozenset(),
) -> PatientData:
    """The hand-off from the resources obtained (per prefetch key) and the request context.

    Entries that are not resources, and resources that are not this patient's, are
    skipped and counted; those that might have been this patient's are recorded as
    unreadable. A resource obtained twice is kept once, and a record resource that is
    also a draft order of the request is read as the draft (its current state).
    """
    unreadable: list[Unreadable] = []
    skipped = 0
    verdicts: dict[str, Belonging] = {}

    def this_patients(resource: Resource | None) -> bool:
        nonlocal skipped
        if resource is None:
            skipped += 1
            unreadable.append(Unreadable(UNKNOWN_TYPE, NO_ID, "resourceType"))
            return False
        verdict, name = belongs(resource, patient_id, verdicts)
        if verdict != "this":
            skipped += 1
            if verdict == "unreadable":
                unreadable.extend(resource.unreadable([name]))
        return verdict == "this"

    parsed, skipped = parse_draft_orders(draft_entries)
    drafts: dict[object, DraftOrder] = {}
    for order in parsed:
        if this_patients(order.resource):
            drafts.setdefault(order.reference if order.resource.id else id(order), order)
    seen: set[tuple[str, str]] = {
        (o.resource.type, o.resource.id) for o in drafts.values() if o.resource.id
    }
    by_type: dict[str, list[Resource]] = {}
    for resources in obtained:
        for entry in resources:
            resource = _entry_resource(entry)
            if not this_patients(resource) or resource is None:
                continue
            identity = (resource.type, resource.id or str(id(entry)))
            if identity in seen:
                continue
            seen.add(identity)
            by_type.setdefault(resource.type, []).append(resource)
    return PatientData(
        patient_id=patient_id,
        now=now,
        resources={rtype: tuple(items) for rtype, items in by_type.items()},
        draft_orders=tuple(drafts.values()),
        selections=tuple(selections),
        encounter_id=encounter_id,
        user_id=user_id,
        skipped=skipped,
        unavailable=unavailable,
        partial=partial,
        fetched=fetched,
        prefetch_unreadable=prefetch_unreadable,
        unreadable=tuple(unreadable),
    )
