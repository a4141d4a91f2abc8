"""Resources the service sends back to the EHR must be valid R4.

An update action returns the EHR's own draft, changed. Real clients send drafts
that R4 would reject: the CDS Hooks sandbox omits `intent` and sends `category`
and `reasonCode` as single objects. Echoing them would hand the EHR a resource it
cannot store, so the copy sent back is normalised — a single object where R4
has a list becomes a one-item list, a request without `intent` gets `order` and
one without `status` gets `draft` — then held to the strict R4B model and to
R4's required elements. What still fails is not sent at all.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from mappings.fhirjson import JsonObject, without_empty_values

#: Elements R4 requires (1..1) that the R4B models do not enforce, per request type;
#: a tuple of names means one of them (a choice element).
REQUIRED: Mapping[str, tuple[str | tuple[str, ...], ...]] = {
    "MedicationRequest": (
        "status",
        "intent",
        "subject",
        ("medicationCodeableConcept", "medicationReference"),
    ),
    "ServiceRequest": ("status", "intent", "subject"),
    "DeviceRequest": ("intent", "subject", ("codeCodeableConcept", "codeReference")),
}
#: Defaults for a draft that leaves them out: it is a draft order (CDS Hooks order-select).
DRAFT_DEFAULTS: Mapping[str, str] = {"status": "draft", "intent": "order"}


def _list_elements(resource_type: str) -> frozenset[str]:
    """Top-level elements that are lists (0..*) in the R4B model of this type."""
    model = get_fhir_model_class(resource_type)
    names = set()
    for name, info in model.model_fields.items():
        annotation = info.annotation
        arguments = typing.get_args(annotation) if typing.get_origin(annotation) else ()
        candidates = [annotation, *arguments]
        if any(typing.get_origin(c) is list for c in candidates):
            names.add(info.alias or name)
    return frozenset(names)


def as_valid_r4(resource: JsonObject) -> JsonObject | None:
    """A normalised copy of `resource` that is valid R4, or None when none can be made."""
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str):
        return None
    try:
        lists = _list_elements(resource_type)
    except (KeyError, ValueError):
        return None
    normalised: JsonObject = without_empty_values(resource)  # a copy
    for name, value in list(normalised.items()):
        if name in lists and isinstance(value, dict):
            normalised[name] = [value]
    if resource_type in REQUIRED:
        for name, default in DRAFT_DEFAULTS.items():
            if name in REQUIRED[resource_type] or name == "status":
                normalised.setdefault(name, default)
    for required in REQUIRED.get(resource_type, ()):
        choices = (required,) if isinstance(required, str) else required
        if not any(choice in normalised for choice in choices):
            return None
    try:
        model = get_fhir_model_class(resource_type).model_validate(normalised)
    except (ValidationError, ValueError, TypeError):
        return None
    dumped: JsonObject = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped
