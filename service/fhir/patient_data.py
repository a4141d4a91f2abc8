"""What the pipeline knows about one patient for one request.

`PatientData` is the hand-off between the only step that does I/O
(`service.cds.prefetch`) and the pure steps after it (features, rules, cards).
Resources are fhir.resources R4B models; draft orders keep their original JSON
as well, because an `update` action must send back the complete resource the
EHR gave us, not our repaired parse of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.resource import Resource
from pydantic import ValidationError

from mappings.fhirjson import JsonObject, without_empty_values

#: Request resource types that can appear as draft orders (CDS Hooks order-select /
#: order-sign, R4). Anything else in draftOrders is ignored.
DRAFT_ORDER_TYPES = frozenset(
    {"ServiceRequest", "DeviceRequest", "MedicationRequest", "NutritionOrder", "VisionPrescription"}
)


@dataclass(frozen=True)
class DraftOrder:
    """One unsigned order from `context.draftOrders`."""

    raw: JsonObject
    resource: Resource

    @property
    def reference(self) -> str:
        """`Type/id`, the form `context.selections` and `resourceId` use."""
        return f"{self.raw['resourceType']}/{self.raw.get('id', '')}"


@dataclass(frozen=True)
class PatientData:
    """The patient's record as obtained for this request.

    `resources` maps a resource type to its parsed resources (Patient included).
    `skipped` counts resources that were not valid R4 and were left out;
    `unavailable` names prefetch keys whose data could not be obtained, so that
    cards can say what they could not see.
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

    @property
    def incomplete(self) -> frozenset[str]:
        """Keys whose data is missing or cut short: the cards must not treat them as seen."""
        return self.unavailable | self.partial

    def of_type(self, resource_type: str) -> tuple[Resource, ...]:
        return self.resources.get(resource_type, ())

    @property
    def patient(self) -> Resource | None:
        patients = self.of_type("Patient")
        return patients[0] if patients else None

    def order_json(self, reference: str) -> JsonObject | None:
        """A copy of the complete order `Type/id` an update or delete acts on.

        Draft orders come back as the EHR sent them, less any null or empty values
        (which CDS Hooks responses may not carry); an order already in the record
        (patient-view) is serialised from its parsed resource.
        """
        for draft in self.draft_orders:
            if draft.reference == reference:
                pruned: JsonObject = without_empty_values(draft.raw)
                return pruned
        resource_type, _, resource_id = reference.partition("/")
        for resource in self.of_type(resource_type):
            if resource.id == resource_id:
                dumped: JsonObject = resource.model_dump(
                    mode="json", by_alias=True, exclude_none=True
                )
                return dumped
        return None

    @property
    def selected_orders(self) -> tuple[DraftOrder, ...]:
        """Draft orders named in `context.selections`, in selection order."""
        by_ref = {order.reference: order for order in self.draft_orders}
        return tuple(by_ref[ref] for ref in self.selections if ref in by_ref)


def parse_resource(raw: object) -> Resource | None:
    """Parse one R4 resource with the R4B models; None when it is not valid."""
    if not isinstance(raw, dict) or not isinstance(raw.get("resourceType"), str):
        return None
    try:
        model = get_fhir_model_class(raw["resourceType"])
    except (KeyError, ValueError):
        return None
    try:
        resource = model.model_validate(raw)
    except (ValidationError, ValueError, TypeError):
        return None
    return resource if isinstance(resource, Resource) else None


def _repaired_draft(raw: JsonObject) -> JsonObject:
    """Fill the gaps real EHR clients leave in drafts, for parsing only.

    Drafts are unsigned and often incomplete: clients omit `intent` and send
    `reasonCode` as a single object. The repaired copy is parsed; the original
    is kept for actions that send the resource back.
    """
    repaired = dict(raw)
    if raw.get("resourceType") in {"ServiceRequest", "DeviceRequest", "MedicationRequest"}:
        repaired.setdefault("intent", "order")
        repaired.setdefault("status", "draft")
    for key in ("reasonCode", "reasonReference", "category", "dosageInstruction", "note"):
        if isinstance(raw.get(key), dict):
            repaired[key] = [raw[key]]
    return repaired


def parse_draft_orders(entries: Iterable[object]) -> tuple[tuple[DraftOrder, ...], int]:
    """Parse draftOrders entries one by one; returns the orders and how many were skipped."""
    orders: list[DraftOrder] = []
    skipped = 0
    for entry in entries:
        raw = entry.get("resource") if isinstance(entry, dict) else None
        kind = raw.get("resourceType") if isinstance(raw, dict) else None
        if not isinstance(raw, dict) or not isinstance(kind, str) or kind not in DRAFT_ORDER_TYPES:
            skipped += 1
            continue
        resource = parse_resource(_repaired_draft(raw))
        if resource is None:
            skipped += 1
            continue
        orders.append(DraftOrder(raw=raw, resource=resource))
    return tuple(orders), skipped


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
    for field_name in ("subject", "patient"):
        other = _patient_id(raw.get(field_name))
        if other is not None and other != patient_id:
            return True
    return False


def assemble(
    obtained: Iterable[Iterable[JsonObject]],
    *,
    patient_id: str,
    now: datetime,
    draft_entries: Iterable[object] = (),
    selections: Iterable[str] = (),
    encounter_id: str | None = None,
    user_id: str | None = None,
    unavailable: frozenset[str] = frozenset(),
    partial: frozenset[str] = frozenset(),
) -> PatientData:
    """The hand-off from the resources obtained (per prefetch key) and the request context.

    Resources of another patient and resources that are not valid R4 are skipped
    and counted; a resource obtained under two keys is kept once.
    """
    by_type: dict[str, list[Resource]] = {}
    seen: set[tuple[str, str]] = set()
    skipped = 0
    for resources in obtained:
        for raw in resources:
            if _about_another_patient(raw, patient_id):
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
    draft_orders, skipped_drafts = parse_draft_orders(draft_entries)
    return PatientData(
        patient_id=patient_id,
        now=now,
        resources={rtype: tuple(items) for rtype, items in by_type.items()},
        draft_orders=draft_orders,
        selections=tuple(selections),
        encounter_id=encounter_id,
        user_id=user_id,
        skipped=skipped + skipped_drafts,
        unavailable=unavailable,
        partial=partial,
    )
