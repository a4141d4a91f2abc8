"""Care in place: orders, procedures, studies, devices, medications, as `CareEvent`s.

Each resource type maps its own status vocabulary to done / ordered / in use:

    ServiceRequest, DeviceRequest, MedicationRequest   draft|active|on-hold -> ordered
                                                       completed (and stopped meds) -> done
    Procedure              completed -> done; preparation|in-progress|on-hold -> ordered
    ImagingStudy           available -> done; registered -> ordered
    DiagnosticReport       partial|preliminary|final|amended|corrected|appended -> done;
                           registered -> ordered
    Encounter              finished -> done; planned|arrived|triaged|in-progress -> ordered
    DeviceUseStatement     active|intended|on-hold -> in use; completed -> done
    Device                 active -> in use
    MedicationStatement    active|intended|on-hold -> in use; completed|stopped -> done
    MedicationAdministration  completed|in-progress -> done

Anything else (cancelled, revoked, entered-in-error, not-done, unknown) never
counts. Draft orders of the request count as ordered. Items without a verified
code are also recognised from their text (orthosis and FES device names, tendon
transfer, peroneal decompression, dalfampridine / 4-aminopyridine).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date

from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.device import Device
from fhir.resources.R4B.devicerequest import DeviceRequest
from fhir.resources.R4B.deviceusestatement import DeviceUseStatement
from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from fhir.resources.R4B.domainresource import DomainResource
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.imagingstudy import ImagingStudy
from fhir.resources.R4B.medication import Medication
from fhir.resources.R4B.medicationadministration import MedicationAdministration
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.medicationstatement import MedicationStatement
from fhir.resources.R4B.procedure import Procedure
from fhir.resources.R4B.reference import Reference
from fhir.resources.R4B.resource import Resource
from fhir.resources.R4B.servicerequest import ServiceRequest

from mappings.matcher import ValueSetIndex
from mappings.text import TextPatterns
from service.clinical.features.model import CareEvent, CareState
from service.clinical.features.records import concept_text, make_evidence, period_start, to_date
from service.fhir.patient_data import PatientData

#: Text groups (mappings/text_patterns.json) that name a care feature without a code.
TEXT_FEATURES = {
    "orthosis": "orthosis",
    "fes_device": "fes",
    "dalfampridine": "dalfampridine",
    "other_4ap": "other_4ap",
    "tendon_transfer": "tendon_transfer",
    "peroneal_decompression": "peroneal_decompression",
}

#: Products whose words always count, coded or not: there the order itself is the risk (§1).
FOUR_AMINOPYRIDINES = frozenset({"dalfampridine", "other_4ap"})


def text_features(coded: Collection[str], text: str, patterns: TextPatterns) -> set[str]:
    """Care features the words of a record name that its codes do not.

    Words name what no code expresses: a record a code already classifies (a PT
    referral "gait training with the AFO", an NCS/EMG "before peroneal
    decompression") is not also what its text mentions — except 4-aminopyridine
    products, whose words always count.
    """
    texted = {
        feature
        for group, feature in TEXT_FEATURES.items()
        if feature not in coded
        and (not coded or feature in FOUR_AMINOPYRIDINES)
        and patterns.find(group, text)
    }
    if "dalfampridine" in coded or "dalfampridine" in texted:
        texted.discard("other_4ap")
    return texted


_REQUEST_STATES: dict[str, CareState] = {
    "draft": "ordered",
    "active": "ordered",
    "on-hold": "ordered",
    "completed": "done",
}
_MED_REQUEST_STATES: dict[str, CareState] = {**_REQUEST_STATES, "stopped": "done"}
_PROCEDURE_STATES: dict[str, CareState] = {
    "completed": "done",
    "preparation": "ordered",
    "in-progress": "ordered",
    "on-hold": "ordered",
}
_IMAGING_STATES: dict[str, CareState] = {"available": "done", "registered": "ordered"}
_REPORT_STATES: dict[str, CareState] = {
    **dict.fromkeys(
        ("partial", "preliminary", "final", "amended", "corrected", "appended"), "done"
    ),
    "registered": "ordered",
}
_ENCOUNTER_STATES: dict[str, CareState] = {
    "finished": "done",
    **dict.fromkeys(("planned", "arrived", "triaged", "in-progress"), "ordered"),
}
_USE_STATES: dict[str, CareState] = {
    **dict.fromkeys(("active", "intended", "on-hold"), "in_use"),
    "completed": "done",
}
_STATEMENT_STATES: dict[str, CareState] = {**_USE_STATES, "stopped": "done"}
_ADMINISTRATION_STATES: dict[str, CareState] = {"completed": "done", "in-progress": "done"}


@dataclass(frozen=True)
class _Record:
    """What every care resource type reduces to before matching."""

    resource: Resource
    concepts: tuple[CodeableConcept, ...]
    text: str
    state: CareState | None
    status: str
    date: date | None
    priority: str | None = None


class _Resolver:
    """Finds a referenced Device or Medication in the data or among contained resources."""

    def __init__(self, data: PatientData) -> None:
        self._by_ref = {
            f"{r.get_resource_type()}/{r.id}": r
            for kind in ("Device", "Medication")
            for r in data.of_type(kind)
        }

    def concepts_and_text(
        self, owner: DomainResource, ref: Reference | None
    ) -> tuple[tuple[CodeableConcept, ...], str]:
        if ref is None:
            return (), ""
        target: Resource | None = None
        if ref.reference and ref.reference.startswith("#"):
            wanted = ref.reference[1:]
            target = next((c for c in owner.contained or [] if c.id == wanted), None)
        elif ref.reference:
            target = self._by_ref.get(ref.reference)
        display = ref.display or ""
        if isinstance(target, Device) and target.type is not None:
            names = [n.name for n in target.deviceName or [] if n.name]
            return (target.type,), "; ".join([display, concept_text(target.type), *names])
        if isinstance(target, Medication) and target.code is not None:
            return (target.code,), "; ".join([display, concept_text(target.code)])
        return (), display


def _texts(concepts: Sequence[CodeableConcept | None], *extra: str) -> str:
    return "; ".join(p for p in [*(concept_text(c) for c in concepts), *extra] if p)


def _some(concept: CodeableConcept | None) -> tuple[CodeableConcept, ...]:
    return (concept,) if concept is not None else ()


def _medication(
    owner: MedicationRequest | MedicationStatement | MedicationAdministration, res: _Resolver
) -> tuple[tuple[CodeableConcept, ...], str]:
    concepts, text = res.concepts_and_text(owner, owner.medicationReference)
    coded = owner.medicationCodeableConcept
    return (*_some(coded), *concepts), _texts([coded], text)


def _request(
    resource: ServiceRequest | DeviceRequest, concepts: tuple[CodeableConcept, ...], text: str
) -> _Record:
    """A ServiceRequest or DeviceRequest: the same status, date and priority fields."""
    return _Record(
        resource=resource,
        concepts=concepts,
        text=text,
        state=_REQUEST_STATES.get(resource.status or ""),
        status=resource.status or "",
        date=to_date(resource.occurrenceDateTime)
        or period_start(resource.occurrencePeriod)
        or to_date(resource.authoredOn),
        priority=resource.priority,
    )


def _read(resource: Resource, res: _Resolver) -> _Record | None:
    """Reduce one care resource to a record; None for types that carry no care."""
    match resource:
        case ServiceRequest():
            return _request(resource, _some(resource.code), _texts([resource.code]))
        case DeviceRequest():
            concepts, text = res.concepts_and_text(resource, resource.codeReference)
            return _request(
                resource,
                (*_some(resource.codeCodeableConcept), *concepts),
                _texts([resource.codeCodeableConcept], text),
            )
        case DeviceUseStatement():
            concepts, text = res.concepts_and_text(resource, resource.device)
            return _Record(
                resource=resource,
                concepts=concepts,
                text=text,
                state=_USE_STATES.get(resource.status or ""),
                status=resource.status or "",
                date=to_date(resource.timingDateTime)
                or period_start(resource.timingPeriod)
                or to_date(resource.recordedOn),
            )
        case Device():
            names = [n.name for n in resource.deviceName or [] if n.name]
            return _Record(
                resource=resource,
                concepts=_some(resource.type),
                text=_texts([resource.type], *names),
                state="in_use" if resource.status == "active" else None,
                status=resource.status or "",
                date=None,
            )
        case Procedure():
            return _Record(
                resource=resource,
                concepts=_some(resource.code),
                text=_texts([resource.code]),
                state=_PROCEDURE_STATES.get(resource.status or ""),
                status=resource.status or "",
                date=to_date(resource.performedDateTime) or period_start(resource.performedPeriod),
            )
        case ImagingStudy():
            concepts = tuple(resource.procedureCode or [])
            return _Record(
                resource=resource,
                concepts=concepts,
                text=_texts(concepts, resource.description or ""),
                state=_IMAGING_STATES.get(resource.status or ""),
                status=resource.status or "",
                date=to_date(resource.started),
            )
        case DiagnosticReport():
            return _Record(
                resource=resource,
                concepts=_some(resource.code),
                text=_texts([resource.code]),
                state=_REPORT_STATES.get(resource.status or ""),
                status=resource.status or "",
                date=to_date(resource.effectiveDateTime)
                or period_start(resource.effectivePeriod)
                or to_date(resource.issued),
            )
        case Encounter():
            concepts = (*(resource.type or []), *_some(resource.serviceType))
            return _Record(
                resource=resource,
                concepts=concepts,
                text=_texts(concepts),
                state=_ENCOUNTER_STATES.get(resource.status or ""),
                status=resource.status or "",
                date=period_start(resource.period),
            )
        case MedicationRequest():
            concepts, text = _medication(resource, res)
            return _Record(
                resource=resource,
                concepts=concepts,
                text=text,
                state=_MED_REQUEST_STATES.get(resource.status or ""),
                status=resource.status or "",
                date=to_date(resource.authoredOn),
                priority=resource.priority,
            )
        case MedicationStatement():
            concepts, text = _medication(resource, res)
            return _Record(
                resource=resource,
                concepts=concepts,
                text=text,
                state=_STATEMENT_STATES.get(resource.status or ""),
                status=resource.status or "",
                date=to_date(resource.effectiveDateTime)
                or period_start(resource.effectivePeriod)
                or to_date(resource.dateAsserted),
            )
        case MedicationAdministration():
            concepts, text = _medication(resource, res)
            return _Record(
                resource=resource,
                concepts=concepts,
                text=text,
                state=_ADMINISTRATION_STATES.get(resource.status or ""),
                status=resource.status or "",
                date=to_date(resource.effectiveDateTime) or period_start(resource.effectivePeriod),
            )
    return None


def _records(data: PatientData) -> Iterator[tuple[_Record, bool]]:
    """Every care record of the data, then the request's draft orders (always "ordered")."""
    resolver = _Resolver(data)
    for resources in data.resources.values():
        for resource in resources:
            if (record := _read(resource, resolver)) is not None:
                yield record, False
    for order in data.draft_orders:
        if (record := _read(order.resource, resolver)) is not None:
            yield replace(record, state="ordered", status="draft order"), True


def read_care(data: PatientData, index: ValueSetIndex, patterns: TextPatterns) -> list[CareEvent]:
    """Every care event in the data, one per (resource, feature)."""
    events: list[CareEvent] = []
    for record, draft in _records(data):
        if record.state is None:
            continue
        matches = [m for c in record.concepts for m in index.match_concept(c)]
        coded = dict.fromkeys(m.feature for m in matches)
        texted = text_features(coded, record.text, patterns)
        display = record.text.split("; ")[0] or (matches[0].display if matches else "")
        value = record.status + (f", priority {record.priority}" if record.priority else "")
        evidence = make_evidence(record.resource, display or "(no display)", record.date, value)
        for feature in [*coded, *sorted(texted)]:
            events.append(
                CareEvent(
                    feature=feature,
                    evidence=evidence,
                    state=record.state,
                    date=record.date,
                    priority=record.priority,
                    draft=draft,
                    from_text=feature in texted,
                )
            )
    return events
