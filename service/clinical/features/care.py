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
counts. Draft orders of the request count as ordered, whatever their status.
Items without a recognised code are also recognised from their text (orthosis
and FES device names, tendon transfer, peroneal decompression, dalfampridine /
4-aminopyridine).

`CareReader` is the one reader of care: the record's resources and the request's
draft orders (which `service.clinical.orders` classifies from the same reading).
It matches codes first and reads a resource's words only when no code names it;
status, dates and names are read only for a resource that names some care, so the
many encounters and procedures that do not matter cost a few microseconds each.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date

from mappings.matcher import ConceptMatch, ValueSetIndex
from mappings.text import TextPatterns
from service.clinical.features.codes import recognised_matches
from service.clinical.features.model import CareEvent, CareState
from service.clinical.features.records import display_name, make_evidence, words
from service.clinical.features.sources import reads
from service.fhir.patient_data import PatientData, Resource
from service.fhir.readers import Concept, Reader, Reference, Unreadable

#: Text groups (mappings/text_patterns.json) that name a care feature without a code.
TEXT_FEATURES = {
    "orthosis": "orthosis",
    "fes_device": "fes",
    "dalfampridine": "dalfampridine",
    "other_4ap": "other_4ap",
    "tendon_transfer": "tendon_transfer",
    "peroneal_decompression": "peroneal_decompression",
}

DALFAMPRIDINE = "dalfampridine"
OTHER_4AP = "other_4ap"
#: Products whose words always count, coded or not: there the order itself is the risk (§1).
#: Both name the same molecule: a 4-aminopyridine order gets the dalfampridine checks.
FOUR_AMINOPYRIDINES = frozenset({DALFAMPRIDINE, OTHER_4AP})

_REQUEST_STATES: dict[str, CareState] = {
    "draft": "ordered",
    "active": "ordered",
    "on-hold": "ordered",
    "completed": "done",
}
_USE_STATES: dict[str, CareState] = {
    **dict.fromkeys(("active", "intended", "on-hold"), "in_use"),
    "completed": "done",
}


@dataclass(frozen=True)
class _Kind:
    """How one resource type names its care, and the fields that date and qualify it.

    `concepts` are the CodeableConcept fields naming what it is, in the order they name
    it ("…[]" for a list of them); `reference` a Device or Medication whose own code
    names it; `dates` are tried in order ("…Period" fields for their start); `texts`
    are free-text names.
    """

    states: Mapping[str, CareState]
    concepts: tuple[str, ...] = ()
    reference: str | None = None
    dates: tuple[str, ...] = ()
    texts: tuple[str, ...] = ()
    device_names: bool = False
    priority: bool = False


_REQUEST_DATES = ("occurrenceDateTime", "occurrencePeriod", "authoredOn")
_MEDICATION = "medicationCodeableConcept"
KINDS: dict[str, _Kind] = {
    "ServiceRequest": _Kind(_REQUEST_STATES, ("code",), dates=_REQUEST_DATES, priority=True),
    "DeviceRequest": _Kind(
        _REQUEST_STATES,
        ("codeCodeableConcept",),
        reference="codeReference",
        dates=_REQUEST_DATES,
        priority=True,
    ),
    "DeviceUseStatement": _Kind(
        _USE_STATES, reference="device", dates=("timingDateTime", "timingPeriod", "recordedOn")
    ),
    "Device": _Kind({"active": "in_use"}, ("type",), device_names=True),
    "Procedure": _Kind(
        {
            "completed": "done",
            **dict.fromkeys(("preparation", "in-progress", "on-hold"), "ordered"),
        },
        ("code",),
        dates=("performedDateTime", "performedPeriod"),
    ),
    "ImagingStudy": _Kind(
        {"available": "done", "registered": "ordered"},
        ("procedureCode[]",),
        dates=("started",),
        texts=("description",),
    ),
    "DiagnosticReport": _Kind(
        {
            **dict.fromkeys(
                ("partial", "preliminary", "final", "amended", "corrected", "appended"), "done"
            ),
            "registered": "ordered",
        },
        ("code",),
        dates=("effectiveDateTime", "effectivePeriod", "issued"),
    ),
    "Encounter": _Kind(
        {
            "finished": "done",
            **dict.fromkeys(("planned", "arrived", "triaged", "in-progress"), "ordered"),
        },
        ("type[]", "serviceType"),
        dates=("period",),
    ),
    "MedicationRequest": _Kind(
        {**_REQUEST_STATES, "stopped": "done"},
        (_MEDICATION,),
        reference="medicationReference",
        dates=("authoredOn",),
        priority=True,
    ),
    "MedicationStatement": _Kind(
        {**_USE_STATES, "stopped": "done"},
        (_MEDICATION,),
        reference="medicationReference",
        dates=("effectiveDateTime", "effectivePeriod", "dateAsserted"),
    ),
    "MedicationAdministration": _Kind(
        {"completed": "done", "in-progress": "done"},
        (_MEDICATION,),
        reference="medicationReference",
        dates=("effectiveDateTime", "effectivePeriod"),
    ),
}
"""Every resource type that carries care, and where each says what it is."""


@dataclass(frozen=True)
class _Target:
    """A referenced Device or Medication: its concepts, names and other words."""

    concepts: tuple[Concept, ...]
    names: tuple[str, ...]
    words: str = ""


_NO_TARGET = _Target((), ())


@dataclass(frozen=True)
class _Naming:
    """What one resource says it is: its own concepts, other names, codes and words."""

    own: list[Concept]
    names: list[str | None]
    codes: tuple[ConceptMatch, ...]
    coded: tuple[str, ...]
    text: str
    texted: frozenset[str]


@dataclass(frozen=True)
class CareReading:
    """One care resource (or draft order) as the care features read it.

    `events` are its care events, one per feature (none when it names no care, or
    its status does not count); `display` is its own name ("" when it has none);
    `words` everything it says in text; `reader` the reader used, whose unreadable
    fields may still grow (an order's dose is read from it later).
    """

    resource: Resource
    reader: Reader = field(repr=False)
    events: tuple[CareEvent, ...] = ()
    display: str = ""
    priority: str | None = None
    codes: tuple[ConceptMatch, ...] = ()
    words: str = ""
    from_text: frozenset[str] = frozenset()

    @property
    def features(self) -> frozenset[str]:
        return frozenset(e.feature for e in self.events)

    @property
    def unreadable(self) -> tuple[Unreadable, ...]:
        return self.resource.unreadable(self.reader.unreadable)


class CareReader:
    """Reads care from resources; referenced Devices and Medications are looked up among
    the resource's contained ones and, given the record, among the record's own."""

    def __init__(
        self, index: ValueSetIndex, patterns: TextPatterns, record: PatientData | None = None
    ) -> None:
        self._index = index
        self._patterns = patterns
        self._screen = patterns.screen(TEXT_FEATURES)
        self._referable = {
            f"{r.type}/{r.id}": r
            for kind in ("Device", "Medication")
            for r in (record.of_type(kind) if record else ())
            if r.id
        }

    def record(self, data: PatientData) -> Iterator[CareReading]:
        """Every resource of the record that names some care or could not be read."""
        for resource_type, resources in data.resources.items():
            if resource_type in KINDS:
                for resource in resources:
                    if (reading := self.read(resource)) is not None:
                        yield reading

    def read(self, resource: Resource) -> CareReading | None:
        """One record resource's care; None when it names none and nothing was unreadable."""
        kind = KINDS.get(resource.type)
        if kind is None:
            return None
        reader = resource.reader()
        naming = self._naming(kind, reader, draft=False)
        if naming is None:
            return CareReading(resource, reader) if reader.unreadable else None
        return self._reading(resource, reader, kind, naming, draft=False)

    def draft(self, resource: Resource) -> CareReading:
        """A draft order, always "ordered": the order checks need its name and priority
        even when it names nothing they react to."""
        kind = KINDS.get(resource.type)
        reader = resource.reader()
        naming = self._naming(kind, reader, draft=True) if kind else None
        if kind is None or naming is None:
            return CareReading(resource, reader)
        return self._reading(resource, reader, kind, naming, draft=True)

    def _naming(self, kind: _Kind, reader: Reader, *, draft: bool) -> _Naming | None:
        """What a resource says it is: codes first, then its words. None for a record
        resource that names no care (the many that do not matter stop here)."""
        own: list[Concept] = []
        for name in kind.concepts:
            if name.endswith("[]"):
                own += reader.concepts(name[:-2])
            elif (concept := reader.concept(name)) is not None:
                own.append(concept)
        reference = reader.reference(kind.reference) if kind.reference else None
        target = self._target(reader, reference) if reference else _NO_TARGET
        codes = recognised_matches(self._index, [*own, *target.concepts])
        coded = tuple(dict.fromkeys(m.feature for m in codes))
        own_names = [reader.string(name) for name in kind.texts]
        if kind.device_names:
            own_names += _device_names(reader)
        shown = reference.display if reference else None
        pieces = [
            *(piece for c in own for piece in c.pieces),
            *own_names,
            shown,
            *(piece for c in target.concepts for piece in c.pieces),
            *target.names,
            target.words,
        ]
        # Records repeat themselves (text = display): each piece is read once.
        text = words(*dict.fromkeys(pieces))
        texted = self._text_features(coded, text)
        if not coded and not texted and not draft:
            return None
        names = [*own_names, shown, *(c.name for c in target.concepts), *target.names]
        return _Naming(own, names, codes, coded, text, frozenset(texted))

    def _reading(
        self, resource: Resource, reader: Reader, kind: _Kind, naming: _Naming, *, draft: bool
    ) -> CareReading:
        status = reader.code("status")
        state: CareState | None = "ordered" if draft else kind.states.get(status or "")
        priority = reader.code("priority") if kind.priority else None
        display = display_name(naming.own, naming.names, naming.codes)
        reading = CareReading(resource, reader, (), display, priority, naming.codes, naming.text)
        if state is None:
            return reading
        when = _first_date(reader, kind.dates)
        value = ("draft order" if draft else status or "") + (
            f", priority {priority}" if priority else ""
        )
        evidence = make_evidence(resource, display or "(no display)", when, value)
        # A record resource's codes count only for the value sets its type's query asks for
        # (sources.READS); its words, and a draft order of the request, whatever they name.
        coded = [f for f in naming.coded if draft or reads(resource.type, f)]
        events = tuple(
            CareEvent(feature, evidence, state, when, priority, draft, feature in naming.texted)
            for feature in [*coded, *sorted(naming.texted)]
        )
        return replace(reading, events=events, from_text=naming.texted)

    def _target(self, owner: Reader, reference: Reference | None) -> _Target:
        """The Device or Medication a reference points to, contained or in the record."""
        target = owner.contained(reference)
        if target is None and reference is not None and reference.reference:
            found = self._referable.get(reference.reference)
            if found is not None:
                target = Reader(found.json, f"{reference.reference}.", owner.unreadable)
        if target is None:
            return _NO_TARGET
        kind = target.json.get("resourceType")
        if kind == "Device":
            device_type = target.concept("type")
            return _Target((device_type,) if device_type else (), tuple(_device_names(target)))
        if kind == "Medication":
            code = target.concept("code")
            form = target.concept("form")
            return _Target((code,) if code else (), (), form.words if form else "")
        return _NO_TARGET

    def _text_features(self, coded: Collection[str], text: str) -> set[str]:
        """Care features the words of a record name that its codes do not.

        Words name what no code expresses: a record a code already classifies (a PT
        referral "gait training with the AFO", an NCS/EMG "before peroneal
        decompression") is not also what its text mentions — except 4-aminopyridine
        products, whose words always count.
        """
        texted = {
            feature
            for group in self._screen(text)
            if (feature := TEXT_FEATURES[group]) not in coded
            and (not coded or feature in FOUR_AMINOPYRIDINES)
            and self._patterns.find(group, text)
        }
        if DALFAMPRIDINE in coded or DALFAMPRIDINE in texted:
            texted.discard(OTHER_4AP)
        return texted


def _device_names(device: Reader) -> list[str]:
    return [name for e in device.elements("deviceName") if (name := e.string("name"))]


def _first_date(reader: Reader, fields: tuple[str, ...]) -> date | None:
    """The first readable of `fields`; a Period gives its start."""
    for name in fields:
        day = reader.period_start(name) if name.lower().endswith("period") else reader.date(name)
        if day is not None:
            return day
    return None
