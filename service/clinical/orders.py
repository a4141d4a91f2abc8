"""The draft orders a clinician is writing, classified for the §4 checks (clinical-logic v3).

A draft order is read once, by the care reader of the features
(`features.care.CareReader`): its features, words, name and priority are those
it has as "ordered" care, so "this order" and "the other orders" are compared
like with like, and the record and the orders recognise the same codes
(`features.codes`):

    ServiceRequest.code, DeviceRequest.codeCodeableConcept (or a Device it points to),
    MedicationRequest.medicationCodeableConcept (or a Medication it points to)
        -> value-set features (mappings/valuesets), e.g. orthosis, mri_lumbar
    the same concepts' words
        -> text groups (mappings/text_patterns.json) for what no recognised code
           expresses: dalfampridine / 4-aminopyridine (never amifampridine),
           tendon transfer, peroneal decompression or neurolysis, orthosis and
           FES device names

`review` pairs each draft being checked with the features of the rest of the
record: the record and the *other* drafts, counted as already ordered. Nothing is
subtracted afterwards: an order is never its own duplicate because it is not in
its own rest.

For dalfampridine it also reads the dose against the label (10 mg extended-release
every 12 hours, at most 20 mg in 24 hours) and lists what is wrong *and* what it
could not read: a dose the service cannot read is never taken to be the right one.

Choices where the spec is silent, for the docs:
- Words classify only an order that no recognised code classifies: a PT referral whose
  text mentions the AFO is not an orthosis order. 4-aminopyridine words always count.
- Two drafts with the same `Type/id` are one order (assembly keeps the first); a draft
  also found in the record is read as the draft.
- A dose in tablets or capsules ({tbl}, {tablet}, {tab}, {pill}, the UCUM unity "1",
  the form code TAB, or those words) counts as count × strength when the product's
  text or its code's value-set display (RxNorm 897021 "… 10 MG …") states one
  strength; a dose range counts at its upper end; `frequencyMax` and the shortest
  period count (the most the order allows).
- `timing.repeat` wins over `timing.code`; the code (BID, TID, QID, QD, QOD, QnH)
  is read only when the repeat gives no rate, and "BID", "q12h", "twice daily" in the
  code's or the dosage's text only when neither gives one. A period under a minute, a
  frequency beyond 32 bits or a number of absurd size is unreadable, not a rate.
- A dose that cannot be read (no unit at all, no strength for a tablet count, no
  frequency) gets no dose card: the card would assert an error the service did not
  see. What could not be read is named on a card that fires for a real departure.
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

from mappings.matcher import ConceptMatch, ValueSetIndex
from mappings.text import TextPatterns
from service.clinical.features.care import FOUR_AMINOPYRIDINES, CareReader, CareReading
from service.clinical.features.extract import RecordReading
from service.clinical.features.model import Evidence, PatientFeatures
from service.fhir.patient_data import DraftOrder
from service.fhir.readers import Reader, Unreadable
from service.fhir.units import unit_key

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
SPINE_SURGERY_REFERRAL = "spine_surgery_referral"

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
#: Units that count tablets or capsules (UCUM annotations, the UCUM unity "1", the
#: orderable-drug-form code TAB and free-text spellings): mg only with a known strength.
_UNIT_DOSE_FORMS = frozenset(
    {"{tbl}", "tbl", "tab", "tabs", "tablet", "tablets", "{tablet}", "{tablets}", "{tab}"}
    | {"{pill}", "{pills}", "pill", "pills", "1", "{cap}", "cap", "caps", "capsule"}
    | {"capsules", "{capsule}"}
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
#: QnH with a sane n (a 5,000-digit "n" is unreadable, not a 500).
_EVERY_N_HOURS = re.compile(r"^Q(\d{1,3})H$")
#: Twice daily written in a timing code's text or the dosage text: every 12 hours.
_TWICE_DAILY = re.compile(
    r"\b(?:b\.?i\.?d\.?|q\s*12\s*-?\s*(?:h|hr|hrs|hours?)|twice\s+(?:a\s+)?da(?:il)?y"
    r"|two\s+times\s+(?:a\s+)?da(?:il)?y|every\s+12\s+(?:h|hr|hrs|hours?))(?!\w)",
    re.IGNORECASE,
)
#: Fewer hours than this between doses is not an interval an EHR means: unreadable.
_SHORTEST_PERIOD_H = Decimal(1) / 60

_EXTENDED_WORDS = re.compile(
    r"\b(?:extended|prolonged|sustained)[\s-]+release\b|\bAmpyra\b|\bFampyra\b", re.IGNORECASE
)
_EXTENDED_ABBREVIATIONS = re.compile(r"\b(?:ER|XR|SR)\b")
#: "12 HR" is RxNorm's way of naming a 12-hour extended-release product; read in the
#: product name only, never in dosage text, where "every 12 hours" is the schedule.
_TWELVE_HOUR_PRODUCT = re.compile(r"\b12\s*-?\s*(?:h|hr|hrs|hour|hours)\b", re.IGNORECASE)
_IMMEDIATE = re.compile(r"\bimmediate[\s-]+release\b", re.IGNORECASE)
_IMMEDIATE_ABBREVIATION = re.compile(r"\bIR\b")
#: Numbers larger than this many digits are shown in scientific notation.
_PLAIN_DIGITS = 12
_STRENGTH = re.compile(r"(\d+(?:\.\d+)?)\s*(mg|g)\b", re.IGNORECASE)


def _fmt(value: Decimal) -> str:
    """10 -> "10", 7.50 -> "7.5": numbers as a clinician writes them (absurd ones as 1.2E+20)."""
    if value.adjusted() > _PLAIN_DIGITS:
        return f"{value:.2E}"
    return f"{value.quantize(Decimal('0.01')).normalize():f}"


@dataclass(frozen=True)
class DalfampridineDose:
    """A dalfampridine draft's dose read against the label.

    `problems` are departures from the label, which make the dose card fire; `unknown`
    are what the draft does not say (or says in a way this service cannot read), named
    on the card beside a problem but never a card of their own.
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
        """No departure from the label was read. What could not be read is no departure:
        a dose card on an unreadable dose could be a false one (clinical-logic v3 §4)."""
        return not self.problems


@dataclass(frozen=True)
class SelectedOrder:
    """One draft order being written, with what it is (its one care reading).

    `features` are the order features it matches (by code or text); `from_text` the
    ones found only in its words. `display` is the order's own name for the cards.
    """

    order: DraftOrder = field(repr=False)
    reading: CareReading = field(repr=False)
    dose: DalfampridineDose | None = None

    @property
    def features(self) -> frozenset[str]:
        return self.reading.features

    @property
    def from_text(self) -> frozenset[str]:
        return self.reading.from_text

    @property
    def display(self) -> str:
        return self.reading.display or self.reference

    @property
    def priority(self) -> str | None:
        return self.reading.priority

    @property
    def codes(self) -> tuple[ConceptMatch, ...]:
        return self.reading.codes

    @property
    def unreadable(self) -> tuple[Unreadable, ...]:
        """Fields of the draft that could not be read (its dose included)."""
        return self.reading.unreadable

    @property
    def reference(self) -> str:
        """`Type/id`: `about_order` of its cards and the target of update / delete."""
        return self.order.reference

    @property
    def has_id(self) -> bool:
        """Whether the draft has an id: update and delete need `Type/id` (C-10, H-3)."""
        return self.order.resource.id is not None

    def has(self, *features: str) -> bool:
        return any(f in self.features for f in features)

    @property
    def is_spine_surgery_referral(self) -> bool:
        """A neurosurgeon referral, or an orthopaedic one whose words or reasonCode name
        the spine, back, a disc, radiculopathy or cauda equina (v3 §4 stat-referral: the
        care reader's `QUALIFIED` codes make it a spine_surgery_referral)."""
        return self.has(SPINE_SURGERY_REFERRAL)

    @property
    def is_dalfampridine(self) -> bool:
        """Dalfampridine, or another 4-aminopyridine product (the same molecule)."""
        return self.has(*FOUR_AMINOPYRIDINES)

    @property
    def evidence(self) -> Evidence:
        """The order itself, first in every card's "Why this card"."""
        authored = Reader(self.order.raw).date("authoredOn")
        # "draft order", not "selected": at order-sign the order is being signed (v3 §1).
        value = "draft order" + (f", priority {self.priority}" if self.priority else "")
        return Evidence(
            resource_type=self.order.resource.type,
            resource_id=self.order.resource.id or "",
            display=self.display,
            date=authored.isoformat() if authored else None,
            value=value,
        )


@dataclass(frozen=True)
class OrderUnderReview:
    """A draft being checked, and the features of the rest of the record: the record
    and the other drafts of the request, counted as already ordered."""

    order: SelectedOrder
    rest: PatientFeatures


# ── what the order is ─────────────────────────────────────────────────────────────


def _classified(order: DraftOrder, reading: CareReading) -> SelectedOrder:
    """The draft as its care reading says, with the dose of a 4-aminopyridine order."""
    dose = None
    if order.resource.type == "MedicationRequest" and reading.features & FOUR_AMINOPYRIDINES:
        product = "; ".join([reading.words, *(m.display for m in reading.codes)])
        dose = read_dose(reading.reader.elements("dosageInstruction"), product)
    return SelectedOrder(order, reading, dose)


def classify(order: DraftOrder, index: ValueSetIndex, patterns: TextPatterns) -> SelectedOrder:
    """What one draft order is, on its own (the record's Devices and Medications unseen)."""
    return _classified(order, CareReader(index, patterns).draft(order.resource))


def review(record: RecordReading, checked: Iterable[DraftOrder]) -> list[OrderUnderReview]:
    """Each draft to check (once), classified, with the features of the rest of the record.

    Every draft of the request is classified once, from the record's own reading of it;
    the rest of a checked draft is the record plus every *other* draft.
    """
    classified = [(draft, _classified(draft, reading)) for draft, reading in record.drafts]
    reviews: dict[int, OrderUnderReview] = {}
    for wanted in checked:
        for draft, order in classified:
            if draft is wanted and id(draft) not in reviews:
                others = (o.reading for d, o in classified if d is not draft)
                reviews[id(draft)] = OrderUnderReview(order, record.features(others))
    return list(reviews.values())


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


def _dose_mg(dosage: Reader, strength: Decimal | None) -> tuple[Decimal | None, str | None]:
    """(mg per dose, what is unknown about it)."""
    for dose_and_rate in dosage.elements("doseAndRate"):
        quantity = dose_and_rate.quantity("doseQuantity")
        if quantity is None and (dose_range := dose_and_rate.element("doseRange")) is not None:
            quantity = dose_range.quantity("high") or dose_range.quantity("low")
        if quantity is None:
            continue
        value = quantity.value
        unit = unit_key(quantity.ucum_or_unit)
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


def _repeat_rate(repeat: Reader) -> tuple[Decimal | None, list[str]]:
    """(doses a day, problems) from `timing.repeat`; None when it gives no readable rate."""
    period = repeat.decimal("period")
    unit = repeat.code("periodUnit")
    if period is None or unit not in _HOURS:
        return None, []
    frequency = repeat.integer("frequency", minimum=1)
    most = repeat.integer("frequencyMax", minimum=1)
    period_max = repeat.decimal("periodMax")
    varies = (most or 0) > (frequency or 1) or (period_max is not None and period_max != period)
    problems = ["a variable dosing interval"] if varies else []
    unreadable = (repeat.present("frequency") and frequency is None) or (
        repeat.present("frequencyMax") and most is None
    )
    period_h = period * _HOURS[unit]
    if unreadable or period_h < _SHORTEST_PERIOD_H:
        return None, problems
    return Decimal(most or frequency or 1) * 24 / period_h, problems


def _doses_per_day(dosage: Reader) -> tuple[Decimal | None, list[str]]:
    """(doses a day at most, schedule problems); None when the draft gives no rate."""
    timing = dosage.element("timing")
    repeat = timing.element("repeat") if timing is not None else None
    per_day, problems = _repeat_rate(repeat) if repeat is not None else (None, [])
    code = timing.concept("code") if timing is not None else None
    if per_day is None and code is not None:
        for coding in code.codings:
            name = (coding.code or "").strip().upper()
            if name in _TIMING_CODES:
                per_day = _TIMING_CODES[name]
                break
            every = _EVERY_N_HOURS.match(name)
            if every and int(every.group(1)) > 0:
                per_day = Decimal(24) / int(every.group(1))
                break
    if per_day is None:
        said = [code.text if code is not None else None, dosage.string("text")]
        if any(text and _TWICE_DAILY.search(text) for text in said):
            per_day = LABEL_DOSES_PER_DAY
    times = sorted(repeat.times("timeOfDay")) if repeat is not None else []
    if len(times) == 2:
        first, second = times
        minutes = (second.hour * 60 + second.minute) - (first.hour * 60 + first.minute)
        if abs(Decimal(minutes) / 60 - 12) > TIME_OF_DAY_TOLERANCE_H:
            problems.append(f"times of day {first:%H:%M} and {second:%H:%M} (not 12 hours apart)")
    if dosage.boolean("asNeededBoolean") or dosage.present("asNeededCodeableConcept"):
        problems.append("as needed rather than on a fixed schedule")
    return per_day, problems


def _max_per_day(dosage: Reader) -> Decimal | None:
    """`maxDosePerPeriod` in mg per 24 hours, when it is stated in mg and a duration."""
    ratio = dosage.element("maxDosePerPeriod")
    if ratio is None:
        return None
    num, den = ratio.quantity("numerator"), ratio.quantity("denominator")
    if num is None or den is None or unit_key(num.ucum_or_unit) not in _TO_MG:
        return None
    hours = _HOURS.get(unit_key(den.ucum_or_unit))
    if hours is None or den.value <= 0:
        return None
    return num.value * _TO_MG[unit_key(num.ucum_or_unit)] * 24 / (den.value * hours)


def _per_day_text(per_day: Decimal) -> str:
    if per_day == 1:
        return "once a day"
    if per_day < 1:
        return f"every {_fmt(1 / per_day)} days"
    return f"{_fmt(per_day)} doses a day (every {_fmt(24 / per_day)} hours)"


def read_dose(dosages: Sequence[Reader], product: str) -> DalfampridineDose:
    """The draft's dose against the label: what is wrong, and what cannot be read."""
    instructions = [d.string("text") for d in dosages]
    extended = _release_form(product, [text for text in instructions if text])
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
    groups: dict[int | None, list[tuple[Reader, str | None]]] = {}
    for dosage, instruction in zip(dosages, instructions, strict=True):
        groups.setdefault(dosage.integer("sequence"), []).append((dosage, instruction))
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
        for dosage, instruction in group:
            mg, mg_unknown = _dose_mg(dosage, strength)
            per_day, timing_problems = _doses_per_day(dosage)
            schedule.extend(timing_problems)
            if mg_unknown:
                said = f" (instruction: “{instruction}”)" if instruction else ""
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
        every = f"every {_fmt(24 / doses_per_day)} hours" if doses_per_day else "per dose"
        problems.append(
            f"{_fmt(mg_per_dose)} mg {every} exceeds the label maximum of "
            f"{_fmt(LABEL_MG_PER_DOSE)} mg every 12 hours"
        )
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
