"""Typed, tolerant reads of FHIR R4 JSON as the EHR sent it.

Strict models reject a whole resource for one bad field (an unknown R5 element,
`authoredOn` "2026-13-01", `frequency` 2^31, `coding` as an object), and a
rejected resource can hide a red flag or a contraindication. A `Reader` takes
one field at a time instead:

- a field that is absent (or null) reads as None, or an empty tuple;
- a field that is present but cannot be read also reads as None / (), and its
  path is added to `Reader.unreadable`, so the caller can record that part of
  the record could not be read;
- where FHIR expects a list, a single object is read as a one-item list, and
  junk items are skipped (and noted);
- numbers are read as `Decimal` within sane bounds (NaN, infinities, 1e30 and
  5,000-digit numbers are unreadable), integers within FHIR's 32 bits, dates
  only when they are real calendar dates.

Readers never parse more than they are asked for, so a resource whose codes do
not matter costs a few dictionary look-ups; `glance_concept` reads the codes of a
plain CodeableConcept without a Reader, for the features to read the codes first.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import re
from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal
from typing import Any

from mappings.fhirjson import JsonObject

#: Largest magnitude and number of digits a FHIR decimal may have here: far beyond any
#: clinical quantity, small enough that arithmetic on it stays exact and cheap.
MAX_MAGNITUDE = Decimal(10) ** 15
MAX_DIGITS = 30
#: FHIR `integer` is a signed 32-bit number.
MIN_INTEGER, MAX_INTEGER = -(2**31), 2**31 - 1

_DATE = re.compile(
    r"(\d{4})(?:-(\d{2})(?:-(\d{2})"
    r"(?:[T ]([01]\d|2[0-3]):[0-5]\d(?::(?:[0-5]\d|60)(?:\.\d{1,9})?)?"
    r"(?:Z|[+-](?:0\d|1[0-4]):[0-5]\d)?)?)?)?"
)
_TIME = re.compile(r"([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d|60)(?:\.\d{1,9})?)?")


@dataclass(frozen=True, slots=True)
class Coding:
    system: str | None
    code: str | None
    display: str | None


@dataclass(frozen=True, slots=True)
class Concept:
    """A CodeableConcept: its readable codings and its text."""

    codings: tuple[Coding, ...]
    text: str | None

    @property
    def pieces(self) -> tuple[str | None, ...]:
        """What a human wrote in it, piece by piece: the text, then each coding's display."""
        return (self.text, *(c.display for c in self.codings))

    @property
    def words(self) -> str:
        """Everything a human wrote in it, as one text."""
        return "; ".join(p for p in self.pieces if p)

    @property
    def name(self) -> str | None:
        """The record's own name for it: the text, else the first coding display."""
        return self.text or next((c.display for c in self.codings if c.display), None)


@dataclass(frozen=True, slots=True)
class Quantity:
    value: Decimal
    unit: str | None
    code: str | None

    @property
    def ucum_or_unit(self) -> str:
        """The unit to compute with: the UCUM code, else the free-text unit."""
        return self.code or self.unit or ""


@dataclass(frozen=True, slots=True)
class Reference:
    reference: str | None
    display: str | None


@dataclass(frozen=True, slots=True)
class Note:
    """An Annotation with text; `time` is when it was written, if readable."""

    text: str
    time: date | None


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A resource, or one field of it, that was present but could not be read."""

    resource_type: str
    resource_id: str
    field: str


def _parts(pattern: re.Pattern[str], value: object) -> tuple[str | None, ...] | None:
    """The first three groups of a text `pattern` matches whole (surrounding spaces allowed)."""
    found = pattern.fullmatch(value.strip()) if isinstance(value, str) else None
    return found.group(1, 2, 3) if found else None


def read_date(value: object) -> date | None:
    """The calendar day of a FHIR date, dateTime or instant, as written (no time-zone shift).

    A partial date means its *last* possible day ("2025" -> 2025-12-31, "2025-02" ->
    2025-02-28), so an onset of "2025" never looks older than it may be. None when the
    value is not a real date (2026-13-01, 2025-02-30, "yesterday").
    """
    parts = _parts(_DATE, value)
    if parts is None:
        return None
    year, month, day = int(parts[0] or 0), parts[1], parts[2]
    try:
        if month is None:
            return date(year, 12, 31)
        if day is None:
            return date(year, int(month), calendar.monthrange(year, int(month))[1])
        return date(year, int(month), int(day))
    except ValueError:
        return None


def read_decimal(value: object) -> Decimal | None:
    """A JSON number as a Decimal; None for booleans, text, NaN, infinities and absurd sizes."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    if isinstance(value, int):
        return Decimal(value) if -MAX_MAGNITUDE <= value <= MAX_MAGNITUDE else None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    number = Decimal(str(value)) if isinstance(value, float) else value
    if not number.is_finite() or len(number.as_tuple().digits) > MAX_DIGITS:
        return None
    return number if abs(number) <= MAX_MAGNITUDE else None


def read_integer(value: object) -> int | None:
    """A FHIR integer (32 bits); an integral JSON float such as 2.0 is read as 2."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and MIN_INTEGER <= value <= MAX_INTEGER:
        return value
    return None


def read_time(value: object) -> time | None:
    """A FHIR time ("08:00:00"; "08:00" is accepted) as a `datetime.time`."""
    parts = _parts(_TIME, value)
    if parts is None:
        return None
    hour, minute, second = (int(part or 0) for part in parts)
    return time(hour, minute, min(second, 59))


def _code_text(value: object) -> str | None:
    """A code as text; an integer code (a SNOMED id sent as a JSON number) is read too."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def glance_concept(
    value: object, codes: list[tuple[str | None, str]], pieces: list[str | None]
) -> bool:
    """Read a CodeableConcept as sent, without a `Reader`: the codes first, cheaply.

    Only a plain concept is glanced at: an object whose `text` is text, whose `coding`
    is absent or a list of objects, each with a text `code` (not blank), `display` and
    `system` where present. Then its (system, code) pairs are added to `codes` and its
    `Concept.pieces` (text, then each display) to `pieces`, exactly what
    `Reader.as_concept` would read, and True says that reading would note nothing.
    Anything else (a bare Coding, `coding` as an object, a numeric or blank code, a
    non-text field) returns False, and the caller reads the resource in full: it may
    have something unreadable to record.
    """
    if not isinstance(value, dict):
        return False
    text = value.get("text")
    if text is not None and not isinstance(text, str):
        return False
    coding = value.get("coding")
    if coding is None:
        if "code" in value or "system" in value:
            return False
        pieces.append(text)
        return True
    if not isinstance(coding, list):
        return False
    pieces.append(text)
    for item in coding:
        if not isinstance(item, dict):
            return False
        code, display, system = item.get("code"), item.get("display"), item.get("system")
        if not (
            (display is None or isinstance(display, str))
            and (system is None or isinstance(system, str))
        ):
            return False
        if isinstance(code, str) and (stripped := code.strip()):
            codes.append((system or None, stripped))
        elif code is not None and code != "":
            return False
        pieces.append(display)
    return True


class Reader:
    """Reads the fields of one JSON object (a resource or an element of it).

    Every `Reader` made from it (`element`, `elements`, `contained`) shares its
    `unreadable` list, with paths such as "dosageInstruction[0].timing.repeat.frequency".
    """

    __slots__ = ("json", "path", "unreadable")

    def __init__(self, json: JsonObject, path: str = "", unreadable: list[str] | None = None):
        self.json = json
        self.path = path
        self.unreadable: list[str] = [] if unreadable is None else unreadable

    def note(self, name: str) -> None:
        """Record that field `name` was present but could not be read."""
        self.unreadable.append(self.path + name)

    def present(self, name: str) -> bool:
        """Whether the field is there at all (not absent, not null)."""
        return self.json.get(name) is not None

    def _read(self, name: str, parse: Any) -> Any:
        value = self.json.get(name)
        if value is None:
            return None
        parsed = parse(value)
        if parsed is None:
            self.note(name)
        return parsed

    # ── primitives ────────────────────────────────────────────────────────────────

    def string(self, name: str) -> str | None:
        """A string; an empty one reads as absent."""
        return self._text_in(self.json, name, "")

    def code(self, name: str) -> str | None:
        """A FHIR code (status, priority, gender, unit), trimmed."""
        value = self.json.get(name)
        if value is None or value == "":
            return None
        text = value.strip() if isinstance(value, str) else None
        if not text:
            self.note(name)
        return text or None

    def boolean(self, name: str) -> bool | None:
        result: bool | None = self._read(name, lambda v: v if isinstance(v, bool) else None)
        return result

    def integer(self, name: str, *, minimum: int = MIN_INTEGER) -> int | None:
        """An integer; `minimum=1` reads a positiveInt (0 is then unreadable)."""
        value = read_integer(self.json.get(name))
        if value is None or value < minimum:
            if self.present(name):
                self.note(name)
            return None
        return value

    def decimal(self, name: str) -> Decimal | None:
        result: Decimal | None = self._read(name, read_decimal)
        return result

    def date(self, name: str) -> dt.date | None:
        """A date, dateTime or instant as its calendar day (see `read_date`)."""
        result: date | None = self._read(name, read_date)
        return result

    def times(self, name: str) -> tuple[time, ...]:
        """A list of FHIR times (timing.repeat.timeOfDay); unreadable items are skipped."""
        value = self.json.get(name)
        found = []
        for index, item in enumerate([value] if isinstance(value, str) else self._list(name)):
            parsed = read_time(item)
            if parsed is None:
                self.note(f"{name}[{index}]")
            else:
                found.append(parsed)
        return tuple(found)

    # ── elements ──────────────────────────────────────────────────────────────────

    def element(self, name: str) -> Reader | None:
        """A nested object (timing, repeat, period…) to read further."""
        value = self.json.get(name)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.note(name)
            return None
        return Reader(value, f"{self.path}{name}.", self.unreadable)

    def elements(self, name: str) -> tuple[Reader, ...]:
        """A list of objects; a single object is read as a one-item list, junk is skipped."""
        value = self.json.get(name)
        if isinstance(value, dict):
            return (Reader(value, f"{self.path}{name}.", self.unreadable),)
        found = []
        for index, item in enumerate(self._list(name)):
            if isinstance(item, dict):
                found.append(Reader(item, f"{self.path}{name}[{index}].", self.unreadable))
            else:
                self.note(f"{name}[{index}]")
        return tuple(found)

    def _list(self, name: str) -> list[Any]:
        value = self.json.get(name)
        if value is None:
            return []
        if isinstance(value, list):
            return value
        if isinstance(value, dict):
            return [value]
        self.note(name)
        return []

    # ── data types ────────────────────────────────────────────────────────────────

    def concept(self, name: str) -> Concept | None:
        """A CodeableConcept. A bare Coding in its place is read as a concept of one coding."""
        element = self.element(name)
        return element.as_concept() if element is not None else None

    def concepts(self, name: str) -> tuple[Concept, ...]:
        """A list of CodeableConcepts (a single one is a list of one)."""
        return tuple(e.as_concept() for e in self.elements(name))

    def as_concept(self) -> Concept:
        """This object read as a CodeableConcept (codings read in place: this is the
        path every resource's codes take, so it makes no reader per coding)."""
        json = self.json
        text = self.string("text")
        if "coding" not in json and ("code" in json or "system" in json):
            coding = self._coding(json, "")
            return Concept((coding,) if coding else (), text)
        value = json.get("coding")
        if value is None:
            return Concept((), text)
        if isinstance(value, dict):
            coding = self._coding(value, "coding.")
            return Concept((coding,) if coding else (), text)
        if not isinstance(value, list):
            self.note("coding")
            return Concept((), text)
        codings = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                self.note(f"coding[{index}]")
            elif (coding := self._coding(item, f"coding[{index}].")) is not None:
                codings.append(coding)
        return Concept(tuple(codings), text)

    def _coding(self, item: JsonObject, path: str) -> Coding | None:
        """A Coding; None when it has neither a code nor a display."""
        raw = item.get("code")
        code = _code_text(raw)
        if code is None and raw not in (None, ""):
            self.note(path + "code")
        display = self._text_in(item, "display", path)
        if code is None and display is None:
            return None
        return Coding(self._text_in(item, "system", path), code, display)

    def _text_in(self, item: JsonObject, name: str, path: str) -> str | None:
        value = item.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            return value
        self.note(path + name)
        return None

    def quantity(self, name: str) -> Quantity | None:
        """A Quantity (also Age, Duration, SimpleQuantity) with a readable value."""
        element = self.element(name)
        if element is None:
            return None
        value = element.decimal("value")
        if value is None:
            return None
        return Quantity(value, element.string("unit"), element.code("code"))

    def period_start(self, name: str) -> dt.date | None:
        element = self.element(name)
        return element.date("start") if element is not None else None

    def reference(self, name: str) -> Reference | None:
        element = self.element(name)
        if element is None:
            return None
        return Reference(element.string("reference"), element.string("display"))

    def notes(self, name: str = "note") -> tuple[Note, ...]:
        """Annotations that have text, with the time each was written."""
        found = []
        for element in self.elements(name):
            text = element.string("text")
            if text:
                found.append(Note(text, element.date("time")))
        return tuple(found)

    def contained(self, reference: Reference | None) -> Reader | None:
        """The contained resource a local reference ("#id") points to, if there is one."""
        if reference is None or not reference.reference or not reference.reference.startswith("#"):
            return None
        wanted = reference.reference[1:]
        for element in self.elements("contained"):
            if element.json.get("id") == wanted:
                return element
        return None
