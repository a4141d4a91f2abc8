"""Care in place: orders, procedures, studies, devices, medications, as `CareEvent`s.

Each resource type maps its own status vocabulary to done / ordered / in use:

    ServiceRequest, DeviceRequest, MedicationRequest   draft|active|on-hold -> ordered
                                                       completed (and stopped meds) -> done
    Procedure              completed -> done; preparation|in-progress|on-hold -> ordered
    ImagingStudy           available -> done; registered -> ordered
    DiagnosticReport       partial|preliminary|final|amended|corrected|appended -> done;
                           registered -> ordered
    Encounter              finished -> done; planned|arrived|triaged|in-progress -> ordered
    CarePlan               completed -> done; active|on-hold -> ordered
    DeviceUseStatement     active|intended|on-hold -> in use; completed -> done
    Device                 active -> in use
    MedicationStatement    active|intended|on-hold -> in use; completed|stopped -> done
    MedicationAdministration  completed|in-progress -> done

Anything else (cancelled, revoked, entered-in-error, not-done, unknown) never
counts. Each event carries the side its bodySite or words name (v3 §1 Time: an
orthosis "left" covers the left foot drop only; without a side it covers every
side). A botulinum toxin drug counts as limb chemodenervation only when a
MedicationAdministration gives it at a lower-limb site (v3 §2 botulinum_recent).
Draft orders of the request count as ordered, whatever their status, unless it
cancels them (revoked, cancelled, entered-in-error).
Items without a recognised code are also recognised from their text (orthosis
and FES device names, tendon transfer, peroneal decompression, dalfampridine /
4-aminopyridine, and the OCT2 inhibitor cimetidine, which has no verified code); a draft
order by its name, read without finding-negation (`TextPatterns.order_features`: also
lumbar MRI, AFO, PT referral, NCS/EMG).

Some codes name care only together with words (v3 §2 lumbar_mri_done…, §4
stat-referral), see `QUALIFIED`: a generic spine MRI is a lumbar MRI only with
"lumbar", "L-spine" or "lumbosacral" in its text (a draft order coded so is always
one: it is still a draft to upgrade to stat); an orthopaedic referral is a
spine-surgery referral only when its text or reasonCode names the spine, back, disc,
radiculopathy or cauda equina; a pelvis or limb study is plexus or nerve imaging only
with plexus, nerve or neurography words. An ImagingStudy is a lumbar MRI when a series
has modality MR and a lumbar body site (or a generic spine site with lumbar words).

`CareReader` is the one reader of care: the record's resources and the request's
draft orders (which `service.clinical.orders` classifies from the same reading).
It matches codes first and reads a resource's words only when no code names it;
status, dates and names are read only for a resource that names some care. A record
resource is glanced at on the JSON as sent before any of that (`_names_nothing`), so
the many encounters and procedures that do not matter cost about a microsecond each.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from mappings.fhirjson import JsonObject
from mappings.matcher import ConceptMatch, ValueSetIndex
from mappings.text import TextPatterns
from service.clinical.features.codes import features_of_codes, recognised_matches
from service.clinical.features.model import CareEvent, CareSide, CareState
from service.clinical.features.records import display_name, make_evidence, words
from service.clinical.features.sources import reads
from service.fhir.patient_data import PatientData, Resource
from service.fhir.readers import Concept, Reader, Reference, Unreadable, glance_concept

#: Text groups (mappings/text_patterns.json) that name a care feature without a code.
TEXT_FEATURES = {
    "orthosis": "orthosis",
    "fes_device": "fes",
    "dalfampridine": "dalfampridine",
    "other_4ap": "other_4ap",
    "tendon_transfer": "tendon_transfer",
    "peroneal_decompression": "peroneal_decompression",
    "cimetidine": "oct2_inhibitor",
    "botulinum_drug": "botulinum_toxin_drug",
}

#: Codes that name care only with words: coded feature -> (text group, feature it then is).
QUALIFIED: dict[str, tuple[tuple[str, str], ...]] = {
    "mri_spine_generic": (("lumbar_level", "mri_lumbar"),),
    "orthopaedic_referral": (("spine_topic", "spine_surgery_referral"),),
    "limb_pelvis_imaging": (
        ("plexus_imaging", "mri_plexus"),
        ("nerve_imaging_words", "nerve_imaging"),
    ),
}
#: What a draft order coded so always is, words or not (v3 §2: still a draft to upgrade).
DRAFT_QUALIFIED = {"mri_spine_generic": "mri_lumbar"}
MRI_LUMBAR = "mri_lumbar"

#: Statuses that cancel a draft order: it is neither checked nor counted as ordered
#: (clinical-logic v3 §4: cancellation comes only from the order's status).
CANCELLED_DRAFT = frozenset({"revoked", "cancelled", "entered-in-error"})
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
    it ("…[]" for a list of them, "a[].b.c" for a path through lists and elements);
    `reference` a Device or Medication whose own code names it; `dates` are tried in
    order ("…Period" fields for their start); `texts` are free-text names; `sites` the
    body-site concepts (same notation) that give its side.
    """

    states: Mapping[str, CareState]
    concepts: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    reference: str | None = None
    dates: tuple[str, ...] = ()
    texts: tuple[str, ...] = ()
    device_names: bool = False
    priority: bool = False
    reasons: tuple[str, ...] = ()
    """CodeableConcept lists whose words qualify a code (`QUALIFIED`), never name care."""
    series: bool = False
    """ImagingStudy series: modality and body site name a lumbar MRI."""


_REQUEST_DATES = ("occurrenceDateTime", "occurrencePeriod", "authoredOn")
_MEDICATION = "medicationCodeableConcept"
KINDS: dict[str, _Kind] = {
    "ServiceRequest": _Kind(
        _REQUEST_STATES,
        ("code",),
        ("bodySite[]",),
        dates=_REQUEST_DATES,
        priority=True,
        reasons=("reasonCode",),
    ),
    "DeviceRequest": _Kind(
        _REQUEST_STATES,
        ("codeCodeableConcept",),
        reference="codeReference",
        dates=_REQUEST_DATES,
        priority=True,
    ),
    "DeviceUseStatement": _Kind(
        _USE_STATES,
        sites=("bodySite",),
        reference="device",
        dates=("timingDateTime", "timingPeriod", "recordedOn"),
    ),
    "Device": _Kind({"active": "in_use"}, ("type",), device_names=True),
    "Procedure": _Kind(
        {
            "completed": "done",
            **dict.fromkeys(("preparation", "in-progress", "on-hold"), "ordered"),
        },
        ("code",),
        ("bodySite[]",),
        dates=("performedDateTime", "performedPeriod"),
    ),
    "ImagingStudy": _Kind(
        {"available": "done", "registered": "ordered"},
        ("procedureCode[]",),
        dates=("started",),
        texts=("description",),
        series=True,
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
    "CarePlan": _Kind(
        {**dict.fromkeys(("active", "on-hold"), "ordered"), "completed": "done"},
        ("category[]", "activity[].detail.code"),
        dates=("period",),
        texts=("title",),
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
        ("dosage.site",),
        reference="medicationReference",
        dates=("effectiveDateTime", "effectivePeriod"),
    ),
}
"""Every resource type that carries care, and where each says what it is."""

BOTULINUM = "botulinum"
BOTULINUM_DRUG = "botulinum_toxin_drug"
#: Text group naming a lower-limb site (mappings/text_patterns.json).
LOWER_LIMB = "lower_limb"


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
    the resource's contained ones and, given the record, among the record's own.

    With `codes_first` a record resource's codes and words are glanced at on the JSON as
    sent first (`_names_nothing`), and most (encounters, procedures no rule reads) stop
    there; without it every one is read through a `Reader` (the equivalence tests compare).
    """

    def __init__(
        self,
        index: ValueSetIndex,
        patterns: TextPatterns,
        record: PatientData | None = None,
        *,
        codes_first: bool = True,
    ) -> None:
        self._index = index
        self._patterns = patterns
        self._codes_first = codes_first
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
        if kind is None or (self._codes_first and self._names_nothing(kind, resource.json)):
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
        own = [c for name in kind.concepts for c in _concepts_at(reader, name)]
        reference = reader.reference(kind.reference) if kind.reference else None
        target = self._target(reader, reference) if reference else _NO_TARGET
        codes = recognised_matches(self._index, [*own, *target.concepts])
        coded = tuple(dict.fromkeys(m.feature for m in codes))
        if kind.series and self._lumbar_series(reader):
            coded = (*coded, MRI_LUMBAR)
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
        coded = self._qualified(coded, text, kind, reader, draft=draft)
        texted = self._order_words(coded, text) if draft else self._text_features(coded, text)
        if not coded and not texted and not draft:
            return None
        names = [*own_names, shown, *(c.name for c in target.concepts), *target.names]
        return _Naming(own, names, codes, coded, text, frozenset(texted))

    def _names_nothing(self, kind: _Kind, json: JsonObject) -> bool:
        """Whether `_naming` would find a record resource naming no care, and its reader
        nothing unreadable, told from the JSON as sent: every concept it names itself by
        is plain (`glance_concept`), its text names are text, no code matches any value
        set, and the same words `_naming` joins screen out every text feature. A
        reference, a path through elements, series or device names: read in full."""
        if kind.series or kind.device_names or (kind.reference and kind.reference in json):
            return False
        codes: list[tuple[str | None, str]] = []
        pieces: list[str | None] = []
        for path in kind.concepts:
            name = path.removesuffix("[]")
            if "." in path:
                if name.split(".", 1)[0].removesuffix("[]") in json:
                    return False
                continue
            value = json.get(name)
            if value is None:
                continue
            items = value if name != path and isinstance(value, list) else [value]
            if not all(glance_concept(item, codes, pieces) for item in items):
                return False
        for name in kind.texts:
            value = json.get(name)
            if value is not None and not isinstance(value, str):
                return False
            pieces.append(value)
        if features_of_codes(self._index, codes):
            return False
        return not self._screen(words(*dict.fromkeys(pieces)))

    def _reading(
        self, resource: Resource, reader: Reader, kind: _Kind, naming: _Naming, *, draft: bool
    ) -> CareReading:
        status = reader.code("status")
        if draft:
            state: CareState | None = None if status in CANCELLED_DRAFT else "ordered"
        else:
            state = kind.states.get(status or "")
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
        sites = [c for name in kind.sites for c in _concepts_at(reader, name)]
        side = self._side(sites, naming.text)
        # A record resource's codes count only for the value sets its type's query asks for
        # (sources.READS); its words, and a draft order of the request, whatever they name.
        coded = [f for f in naming.coded if draft or reads(resource.type, f)]
        features = [*coded, *sorted(naming.texted)]
        if BOTULINUM_DRUG in features and BOTULINUM not in features:
            lower_limb = any(self._patterns.find(LOWER_LIMB, site.words) for site in sites)
            if resource.type == "MedicationAdministration" and lower_limb:
                features.append(BOTULINUM)
        events = tuple(
            CareEvent(
                feature, evidence, state, when, priority, draft, feature in naming.texted, side
            )
            for feature in features
        )
        return replace(reading, events=events, from_text=naming.texted)

    def _qualified(
        self, coded: tuple[str, ...], text: str, kind: _Kind, reader: Reader, *, draft: bool
    ) -> tuple[str, ...]:
        """`coded` with the features its qualified codes name given the words (`QUALIFIED`)."""
        wanted = [f for f in coded if f in QUALIFIED]
        if not wanted:
            return coded
        reasons = [c.words for name in kind.reasons for c in reader.concepts(name)]
        said = words(text, *reasons)
        extra = [DRAFT_QUALIFIED[f] for f in wanted if draft and f in DRAFT_QUALIFIED]
        extra += [
            feature
            for f in wanted
            for group, feature in QUALIFIED[f]
            if self._patterns.find_name(group, said) is not None
        ]
        return tuple(dict.fromkeys([*coded, *extra]))

    def _lumbar_series(self, study: Reader) -> bool:
        """A series with modality MR and a lumbar body site, or a generic spine site whose
        study or series description names the lumbar level."""
        for series in study.elements("series"):
            concepts = [c for name in ("modality", "bodySite") if (c := series.concept(name))]
            found = {m.feature for m in recognised_matches(self._index, concepts)}
            if "imaging_modality_mr" not in found:
                continue
            if "lumbar_spine_body_site" in found:
                return True
            described = words(study.string("description"), series.string("description"))
            said = words(described, *(c.words for c in concepts))
            if "spine_body_site_generic" in found and self._patterns.find_name(
                "lumbar_level", said
            ):
                return True
        return False

    def _side(self, sites: Sequence[Concept], text: str) -> CareSide | None:
        """The side the body sites' codes or words, else the record's words, name."""
        sides = {
            side
            for site in sites
            for coding in site.codings
            if (side := self._patterns.side_of_code(coding.system, coding.code)) is not None
        }
        sides |= {side for site in sites if (side := self._patterns.side_of_text(site.words))}
        if not sides and (side := self._patterns.side_of_text(text)) is not None:
            sides.add(side)
        if "bilateral" in sides or {"right", "left"} <= sides:
            return "bilateral"
        return next(iter(sides), None)

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
        return _one_4ap(coded, texted)

    def _order_words(self, coded: Collection[str], text: str) -> set[str]:
        """Care features a draft order's name states that its codes do not (§4 v3).

        An order name is read without finding-negation ("MRI L-spine w/o contrast" is an
        orderable; cancellation comes only from the order's status), and, as for the
        record, only when no recognised code classifies the order — except
        4-aminopyridine products, whose words always count.
        """
        texted = {
            feature
            for feature in self._patterns.order_features(text)
            if feature not in coded and (not coded or feature in FOUR_AMINOPYRIDINES)
        }
        return _one_4ap(coded, texted)


def _one_4ap(coded: Collection[str], texted: set[str]) -> set[str]:
    """Dalfampridine named (by code or words) is not also "another 4-aminopyridine"."""
    if DALFAMPRIDINE in coded or DALFAMPRIDINE in texted:
        texted.discard(OTHER_4AP)
    return texted


def _concepts_at(reader: Reader, path: str) -> list[Concept]:
    """The CodeableConcepts at `path`: "code", "category[]", "activity[].detail.code"."""
    *steps, last = path.split(".")
    readers = [reader]
    for step in steps:
        if step.endswith("[]"):
            readers = [e for r in readers for e in r.elements(step[:-2])]
        else:
            readers = [e for r in readers if (e := r.element(step)) is not None]
    if last.endswith("[]"):
        return [c for r in readers for c in r.concepts(last[:-2])]
    return [c for r in readers if (c := r.concept(last)) is not None]


def _device_names(device: Reader) -> list[str]:
    return [name for e in device.elements("deviceName") if (name := e.string("name"))]


def _first_date(reader: Reader, fields: tuple[str, ...]) -> date | None:
    """The first readable of `fields`; a Period gives its start."""
    for name in fields:
        day = reader.period_start(name) if name.lower().endswith("period") else reader.date(name)
        if day is not None:
            return day
    return None
