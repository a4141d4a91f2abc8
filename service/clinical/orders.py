"""The draft orders a clinician is writing, classified for the §4 checks (clinical-logic v2).

`classify` reads one draft order (order-select: a selection; order-sign: every draft)
and says what it is, in the same feature vocabulary the care features use, so that
"this order" and "the other orders" are compared like with like:

    ServiceRequest.code, DeviceRequest.codeCodeableConcept (or a contained Device),
    MedicationRequest.medicationCodeableConcept (or a contained Medication)
        -> value-set features (mappings/valuesets), e.g. orthosis, mri_lumbar
    the same concepts' words
        -> text groups (mappings/text_patterns.json) for what no verified code
           expresses: dalfampridine / 4-aminopyridine (never amifampridine),
           tendon transfer, peroneal decompression or neurolysis, orthosis and
           FES device names (as care features read them)

For dalfampridine it also reads the dose against the label (10 mg extended-release
every 12 hours, at most 20 mg in 24 hours) and lists what is wrong *and* what it
could not read: a dose the service cannot read is never taken to be the right one.

Choices where the spec is silent, for the docs:
- Words classify only an order that no verified code classifies: a PT referral whose
  text mentions the AFO is not an orthosis order. 4-aminopyridine words always count.
- A dose in tablets or capsules counts as mg only when the product text states one strength
  ("10 MG"); a dose range counts at its upper end; `frequencyMax` and the shortest
  period count (the most the order allows).
- `timing.repeat` wins over `timing.code`; the code (BID, TID, QID, QD, QOD, QnH)
  is read only when the repeat gives no rate.
- Dosage instructions without distinct `sequence` numbers are read as concurrent:
  their daily amounts add up, and more than one concurrent instruction is itself
  listed as something to check.
- The release form comes from the product text ("extended-release", "ER", "12 HR",
  the ER-only brands Ampyra and Fampyra); "immediate-release" / "IR" anywhere makes
  it not extended-release; silence leaves it unknown, which the card says.
- Words of the release form live here, not in text_patterns.json, because they read
  an order's product name, not a clinical finding.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.device import Device
from fhir.resources.R4B.devicerequest import DeviceRequest
from fhir.resources.R4B.domainresource import DomainResource
from fhir.resources.R4B.dosage import Dosage
from fhir.resources.R4B.medication import Medication
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.quantity import Quantity
from fhir.resources.R4B.reference import Reference
from fhir.resources.R4B.resource import Resource
from fhir.resources.R4B.servicerequest import ServiceRequest

from mappings.matcher import ORDERABLE_CONFIDENCES, ConceptMatch, ValueSetIndex
from mappings.text import TextPatterns
from service.clinical.features.care import text_features
from service.clinical.features.model import CareEvent, Evidence
from service.clinical.features.records import concept_text, resource_id, to_date
from service.fhir.patient_data import DraftOrder

# Order features (value-set file stems / care features) the §4 rules react to.
ORTHOSIS = "orthosis"
FES = "fes"
PHYSICAL_THERAPY = "physical_therapy"
NCS_EMG = "ncs_emg"
MRI_LUMBAR = "mri_lumbar"
LUMBAR_FUSION = "lumbar_fusion"
TENDON_TRANSFER = "tendon_transfer"
ANKLE_ARTHRODESIS = "ankle_arthrodesis"
PERONEAL_DECOMPRESSION = "peroneal_decompression"
DALFAMPRIDINE = "dalfampridine"
OTHER_4AP = "other_4ap"
#: Both name the same molecule: a 4-aminopyridine order gets the dalfampridine checks.
FOUR_AP = frozenset({DALFAMPRIDINE, OTHER_4AP})

# Dalfampridine label (DailyMed 688eb479-…, clinical-logic §4 / A7).
LABEL_MG_PER_DOSE = Decimal(10)
LABEL_MG_PER_DAY = Decimal(20)
LABEL_DOSES_PER_DAY = Decimal(2)
#: Two times of day count as "about 12 hours apart" within this many hours of 12.
TIME_OF_DAY_TOLERANCE_H = Decimal(2)

_HOURS = {
    "s": Decimal(1) / 3600,
    "min": Decimal(1) / 60,
    "h": Decimal(1),
    "d": Decimal(24),
    "wk": Decimal(168),
    "mo": Decimal(720),
    "a": Decimal(8766),
}
_TO_MG = {"mg": Decimal(1), "g": Decimal(1000), "ug": Decimal("0.001"), "mcg": Decimal("0.001")}
#: Units that count tablets or capsules: mg only with the product's stated strength.
_UNIT_DOSE_FORMS = frozenset(
    {"{tbl}", "tbl", "tab", "tabs", "tablet", "tablets", "{tablet}"}
    | {"{cap}", "cap", "caps", "capsule", "capsules", "{capsule}"}
)
#: HL7 timing abbreviations (GTS) with a fixed number of doses a day.
_TIMING_CODES = {
    "QD": Decimal(1),
    "AM": Decimal(1),
    "PM": Decimal(1),
    "QAM": Decimal(1),
    "QPM": Decimal(1),
    "QHS": Decimal(1),
    "BED": Decimal(1),
    "BID": Decimal(2),
    "TID": Decimal(3),
    "QID": Decimal(4),
    "QOD": Decimal("0.5"),
    "WK": Decimal(1) / 7,
}
_EVERY_N_HOURS = re.compile(r"^Q(\d+)H$")

_EXTENDED_WORDS = re.compile(
    r"\b(?:extended|prolonged|sustained)[\s-]+release\b|\bAmpyra\b|\bFampyra\b", re.IGNORECASE
)
_EXTENDED_ABBREVIATIONS = re.compile(r"\b(?:ER|XR|SR)\b")
#: "12 HR" is RxNorm's way of naming a 12-hour extended-release product; read in the
#: product name only, never in dosage text, where "every 12 hours" is the schedule.
_TWELVE_HOUR_PRODUCT = re.compile(r"\b12\s*-?\s*(?:h|hr|hrs|hour|hours)\b", re.IGNORECASE)
_IMMEDIATE = re.compile(r"\bimmediate[\s-]+release\b", re.IGNORECASE)
_IMMEDIATE_ABBREVIATION = re.compile(r"\bIR\b")
_STRENGTH = re.compile(r"(\d+(?:\.\d+)?)\s*(mg|g)\b", re.IGNORECASE)


def _fmt(value: Decimal) -> str:
    """10 -> "10", 7.50 -> "7.5": numbers as a clinician writes them."""
    return f"{value.quantize(Decimal('0.01')).normalize():f}"


@dataclass(frozen=True)
class DalfampridineDose:
    """A dalfampridine draft's dose read against the label.

    `problems` are departures from the label; `unknown` are what the draft does not
    say (or says in a way this service cannot read). Either makes the dose card fire.
    """

    mg_per_dose: Decimal | None
    doses_per_day: Decimal | None
    mg_per_day: Decimal | None
    extended_release: bool | None
    problems: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()

    @property
    def issues(self) -> tuple[str, ...]:
        """Everything the card names: problems first, then what is unknown."""
        return self.problems + self.unknown

    @property
    def as_labelled(self) -> bool:
        return not self.issues


@dataclass(frozen=True)
class SelectedOrder:
    """One draft order being written, with what it is.

    `features` are the order features it matches (by code or text); `from_text` the
    ones found only in its words. `display` is the order's own name for the cards.
    """

    order: DraftOrder = field(repr=False)
    features: frozenset[str]
    display: str
    priority: str | None = None
    from_text: frozenset[str] = frozenset()
    dose: DalfampridineDose | None = None
    codes: tuple[ConceptMatch, ...] = field(default=(), repr=False)

    @property
    def reference(self) -> str:
        """`Type/id`: `about_order` of its cards and the target of update / delete."""
        return self.order.reference

    @property
    def has_id(self) -> bool:
        """Whether the draft has an id: update and delete need `Type/id` (C-10, H-3)."""
        return bool(self.order.raw.get("id"))

    def owns(self, event: CareEvent) -> bool:
        """Whether a care event is this order itself, not care already in place.

        An id-less draft is known to the features only as `Type/(no id)`: its own events
        are the draft events of that name with one of its features. Two id-less drafts
        of the same kind cannot be told apart, and then count as one (no duplicate).
        """
        if self.has_id:
            return event.reference == self.reference
        own = f"{self.order.resource.get_resource_type()}/{resource_id(self.order.resource)}"
        return event.draft and event.reference == own and event.feature in self.features

    def has(self, *features: str) -> bool:
        return any(f in self.features for f in features)

    @property
    def is_dalfampridine(self) -> bool:
        """Dalfampridine, or another 4-aminopyridine product (the same molecule)."""
        return self.has(*FOUR_AP)

    @property
    def evidence(self) -> Evidence:
        """The order itself, first in every card's "Why this card"."""
        raw = self.order.raw
        authored = to_date(raw.get("authoredOn")) if isinstance(raw, dict) else None
        value = "selected draft order" + (f", priority {self.priority}" if self.priority else "")
        return Evidence(
            resource_type=str(raw.get("resourceType", "")),
            resource_id=str(raw.get("id", "")),
            display=self.display,
            date=authored.isoformat() if authored else None,
            value=value,
        )


# ── what the order is ─────────────────────────────────────────────────────────────


def _contained(owner: DomainResource, ref: Reference | None) -> Resource | None:
    """A resource contained in the draft (`#id`); drafts rarely point elsewhere."""
    if ref is None or not ref.reference or not ref.reference.startswith("#"):
        return None
    wanted = ref.reference[1:]
    return next((c for c in owner.contained or [] if c.id == wanted), None)


def _concepts(resource: Resource) -> tuple[tuple[CodeableConcept, ...], tuple[str, ...]]:
    """The concepts naming what is ordered, and extra names (reference displays)."""
    concepts: list[CodeableConcept] = []
    names: list[str] = []
    if isinstance(resource, ServiceRequest) and resource.code is not None:
        concepts.append(resource.code)
    elif isinstance(resource, DeviceRequest):
        if resource.codeCodeableConcept is not None:
            concepts.append(resource.codeCodeableConcept)
        device = _contained(resource, resource.codeReference)
        if isinstance(device, Device):
            if device.type is not None:
                concepts.append(device.type)
            names += [n.name for n in device.deviceName or [] if n.name]
        if resource.codeReference is not None and resource.codeReference.display:
            names.append(resource.codeReference.display)
    elif isinstance(resource, MedicationRequest):
        if resource.medicationCodeableConcept is not None:
            concepts.append(resource.medicationCodeableConcept)
        medication = _contained(resource, resource.medicationReference)
        if isinstance(medication, Medication):
            if medication.code is not None:
                concepts.append(medication.code)
            if medication.form is not None:
                names.append(concept_text(medication.form))
        if resource.medicationReference is not None and resource.medicationReference.display:
            names.append(resource.medicationReference.display)
    return tuple(concepts), tuple(n for n in names if n)


def _display(
    concepts: Sequence[CodeableConcept], names: Sequence[str], matches: Sequence[ConceptMatch]
) -> str:
    """The order's own words first, then our value-set display, then its reference."""
    for concept in concepts:
        if concept.text:
            return concept.text
        for coding in concept.coding or []:
            if coding.display:
                return coding.display
    if names:
        return names[0]
    return next((m.display for m in matches if m.display), "")


def classify(order: DraftOrder, index: ValueSetIndex, patterns: TextPatterns) -> SelectedOrder:
    """What a draft order is: its features by code and text, name, priority and dose."""
    resource = order.resource
    concepts, names = _concepts(resource)
    matches = tuple(m for c in concepts for m in index.match_concept(c))
    # Only verified codes (V, V-ICD) make an order trigger a card; B/U codes are
    # recognised elsewhere as care already in place, never as a trigger.
    coded = dict.fromkeys(m.feature for m in matches if m.confidence in ORDERABLE_CONFIDENCES)
    words = "; ".join([*(concept_text(c) for c in concepts), *names])
    texted = text_features(coded, words, patterns)
    features = frozenset([*coded, *texted])
    priority = getattr(resource, "priority", None)
    dose = None
    if isinstance(resource, MedicationRequest) and features & FOUR_AP:
        product = "; ".join([words, *(m.display for m in matches)])
        dose = read_dose(resource.dosageInstruction or [], product)
    return SelectedOrder(
        order=order,
        features=features,
        display=_display(concepts, names, matches) or order.reference,
        priority=priority if isinstance(priority, str) else None,
        from_text=frozenset(texted),
        dose=dose,
        codes=matches,
    )


# ── the dalfampridine dose ────────────────────────────────────────────────────────


def _release_form(product: str, dosage_texts: Iterable[str]) -> bool | None:
    """True for extended-release, False for immediate-release, None when not stated."""
    every = [product, *dosage_texts]
    if any(_IMMEDIATE.search(t) or _IMMEDIATE_ABBREVIATION.search(t) for t in every):
        return False
    if _TWELVE_HOUR_PRODUCT.search(product):
        return True
    if any(_EXTENDED_WORDS.search(t) or _EXTENDED_ABBREVIATIONS.search(t) for t in every):
        return True
    return None


def _strength_mg(product: str) -> Decimal | None:
    """The one strength the product text states ("10 MG"), in mg; None if none or several."""
    found = {Decimal(value) * _TO_MG[unit.lower()] for value, unit in _STRENGTH.findall(product)}
    return found.pop() if len(found) == 1 else None


def _unit(quantity: Quantity) -> str:
    return (quantity.code or quantity.unit or "").strip().lower().replace("µ", "u")


def _dose_mg(dosage: Dosage, strength: Decimal | None) -> tuple[Decimal | None, str | None]:
    """(mg per dose, what is unknown about it)."""
    for dose_and_rate in dosage.doseAndRate or []:
        quantity = dose_and_rate.doseQuantity
        if quantity is None and dose_and_rate.doseRange is not None:
            quantity = dose_and_rate.doseRange.high or dose_and_rate.doseRange.low
        if quantity is None or quantity.value is None:
            continue
        value = Decimal(str(quantity.value))
        unit = _unit(quantity)
        if unit in _TO_MG:
            return value * _TO_MG[unit], None
        if unit in _UNIT_DOSE_FORMS:
            if strength is None:
                return None, "the dose is in tablets or capsules and their strength is not stated"
            return value * strength, None
        if not unit:
            return None, f"the dose ({_fmt(value)}) has no unit"
        return None, f"the dose unit “{quantity.unit or quantity.code}” is not a mass"
    return None, "the dose per administration is not stated"


def _doses_per_day(dosage: Dosage) -> tuple[Decimal | None, list[str]]:
    """(doses a day at most, schedule problems); None when the draft gives no rate."""
    problems: list[str] = []
    timing = dosage.timing
    repeat = timing.repeat if timing is not None else None
    per_day: Decimal | None = None
    if repeat is not None and repeat.period is not None and repeat.periodUnit in _HOURS:
        frequency = Decimal(repeat.frequencyMax or repeat.frequency or 1)
        period_h = Decimal(str(repeat.period)) * _HOURS[repeat.periodUnit]
        if period_h > 0:
            per_day = frequency * 24 / period_h
        varies = (repeat.frequencyMax or 0) > (repeat.frequency or 1) or (
            repeat.periodMax is not None and repeat.periodMax != repeat.period
        )
        if varies:
            problems.append("a variable dosing interval")
    if per_day is None and timing is not None and timing.code is not None:
        for coding in timing.code.coding or []:
            code = (coding.code or "").strip().upper()
            if code in _TIMING_CODES:
                per_day = _TIMING_CODES[code]
                break
            every = _EVERY_N_HOURS.match(code)
            if every and int(every.group(1)) > 0:
                per_day = Decimal(24) / int(every.group(1))
                break
    times = sorted(t for t in (repeat.timeOfDay or []) if t is not None) if repeat else []
    if len(times) == 2:
        first, second = times
        minutes = (second.hour * 60 + second.minute) - (first.hour * 60 + first.minute)
        if abs(Decimal(minutes) / 60 - 12) > TIME_OF_DAY_TOLERANCE_H:
            problems.append(f"times of day {first:%H:%M} and {second:%H:%M} (not 12 hours apart)")
    if dosage.asNeededBoolean or dosage.asNeededCodeableConcept is not None:
        problems.append("as needed rather than on a fixed schedule")
    return per_day, problems


def _max_per_day(dosage: Dosage) -> Decimal | None:
    """`maxDosePerPeriod` in mg per 24 hours, when it is stated in mg and a duration."""
    ratio = dosage.maxDosePerPeriod
    if ratio is None or ratio.numerator is None or ratio.denominator is None:
        return None
    num, den = ratio.numerator, ratio.denominator
    if num.value is None or den.value is None or _unit(num) not in _TO_MG:
        return None
    hours = _HOURS.get(_unit(den))
    if hours is None or den.value <= 0:
        return None
    mg = Decimal(str(num.value)) * _TO_MG[_unit(num)]
    return mg * 24 / (Decimal(str(den.value)) * hours)


def _per_day_text(per_day: Decimal) -> str:
    if per_day == 1:
        return "once a day"
    if per_day < 1:
        return f"every {_fmt(1 / per_day)} days"
    return f"{_fmt(per_day)} doses a day (every {_fmt(24 / per_day)} hours)"


def read_dose(dosages: Sequence[Dosage], product: str) -> DalfampridineDose:
    """The draft's dose against the label: what is wrong, and what cannot be read."""
    extended = _release_form(product, [d.text for d in dosages if d.text])
    form = {
        False: ["an immediate-release form (not extended-release)"],
        None: [],
        True: [],
    }[extended]
    unknown = ["the form is not stated as extended-release"] if extended is None else []
    if not dosages:
        unknown.insert(0, "no dosage instructions")
        return DalfampridineDose(None, None, None, extended, tuple(form), tuple(unknown))

    strength = _strength_mg(product)
    groups: dict[int | None, list[Dosage]] = {}
    for dosage in dosages:
        groups.setdefault(dosage.sequence, []).append(dosage)
    schedule: list[str] = []
    if any(len(group) > 1 for group in groups.values()):
        schedule.append("more than one concurrent dosage instruction (check the schedule)")
    read_unknown: list[str] = []
    mg_values: list[Decimal] = []
    rates: list[Decimal] = []
    ceilings: list[Decimal] = []
    daily_by_group: list[Decimal | None] = []
    for group in groups.values():
        group_daily: Decimal | None = Decimal(0)
        for dosage in group:
            mg, mg_unknown = _dose_mg(dosage, strength)
            per_day, timing_problems = _doses_per_day(dosage)
            schedule.extend(timing_problems)
            if mg_unknown:
                said = f" (instruction: “{dosage.text}”)" if dosage.text else ""
                read_unknown.append(mg_unknown + said)
            if per_day is None:
                read_unknown.append("the dosing frequency is not stated")
            mg_values += [mg] if mg is not None else []
            rates += [per_day] if per_day is not None else []
            if (ceiling := _max_per_day(dosage)) is not None:
                ceilings.append(ceiling)
            if mg is None or per_day is None or group_daily is None:
                group_daily = None
            else:
                group_daily += mg * per_day
        daily_by_group.append(group_daily)

    mg_per_dose = max(mg_values) if mg_values else None
    doses_per_day = max(rates) if rates else None
    complete = all(d is not None for d in daily_by_group)
    mg_per_day = max(d for d in daily_by_group if d is not None) if complete else None

    problems: list[str] = []
    if mg_per_dose is not None and mg_per_dose > LABEL_MG_PER_DOSE:
        problems.append(f"{_fmt(mg_per_dose)} mg per dose (more than {_fmt(LABEL_MG_PER_DOSE)} mg)")
    if mg_per_day is not None and mg_per_day > LABEL_MG_PER_DAY:
        problems.append(
            f"{_fmt(mg_per_day)} mg a day (more than {_fmt(LABEL_MG_PER_DAY)} mg in 24 hours)"
        )
    problems += [
        f"a maximum of {_fmt(c)} mg in 24 hours (more than {_fmt(LABEL_MG_PER_DAY)} mg)"
        for c in ceilings
        if c > LABEL_MG_PER_DAY
    ]
    problems += [
        f"{_per_day_text(rate)}, not every 12 hours"
        for rate in dict.fromkeys(rates)
        if rate != LABEL_DOSES_PER_DAY
    ]
    problems += schedule + form
    return DalfampridineDose(
        mg_per_dose=mg_per_dose,
        doses_per_day=doses_per_day,
        mg_per_day=mg_per_day,
        extended_release=extended,
        problems=tuple(dict.fromkeys(problems)),
        unknown=tuple(dict.fromkeys([*read_unknown, *unknown])),
    )
