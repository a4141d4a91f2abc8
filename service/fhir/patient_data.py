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
