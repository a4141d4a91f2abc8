"""Readers of raw FHIR JSON: what strict models reject is read where it can be, and noted
where it cannot."""

from __future__ import annotations

import json
from datetime import date, time
from decimal import Decimal
from typing import Any

import pytest

from service.fhir.readers import Reader, read_date, read_decimal, read_integer
from service.fhir.units import unit_key

SCT = "http://snomed.info/sct"


def reader(**fields: Any) -> Reader:
    return Reader(dict(fields))


@pytest.mark.parametrize(
    ("value", "day"),
    [
        ("2026-06-15", date(2026, 6, 15)),
        ("2026-06-15T23:30:00+10:00", date(2026, 6, 15)),  # as written: no shift to UTC
        ("2026-06-15T09:00:00.123456789Z", date(2026, 6, 15)),
        (" 2026-06-15 ", date(2026, 6, 15)),
        ("2025", date(2025, 12, 31)),  # a partial date is its last possible day
        ("2024-02", date(2024, 2, 29)),
        ("2026-13-01", None),
        ("2025-02-30", None),
        ("0000-01-01", None),
        ("2026-06-15T25:00:00Z", None),
        ("15/06/2026", None),
        ("yesterday", None),
        (20260615, None),
    ],
)
def test_dates(value: object, day: date | None) -> None:
    assert read_date(value) == day


@pytest.mark.parametrize(
    ("value", "number"),
    [
        (10, Decimal(10)),
        (0.1, Decimal("0.1")),
        (Decimal("2.50"), Decimal("2.50")),
        (10**15, Decimal(10**15)),
        (float("nan"), None),
        (float("inf"), None),
        (-float("inf"), None),
        (1e30, None),
        (10**30, None),
        (Decimal("1." + "0" * 5000 + "1"), None),  # 5,000 digits
        (Decimal("NaN"), None),
        (True, None),
        ("10", None),
    ],
)
def test_decimals_within_sane_bounds(value: object, number: Decimal | None) -> None:
    assert read_decimal(value) == number


def test_integers_are_32_bit() -> None:
    assert read_integer(2**31 - 1) == 2**31 - 1
    assert read_integer(2**31) is None
    assert read_integer(2.0) == 2
    assert read_integer(2.5) is None
    assert read_integer(False) is None
    r = reader(frequency=0, frequencyMax=2**31)
    assert r.integer("frequency", minimum=1) is None  # a positiveInt
    assert r.integer("frequencyMax") is None
    assert r.unreadable == ["frequency", "frequencyMax"]


def test_absent_is_not_unreadable() -> None:
    r = reader(status=None, text="")
    assert r.code("status") is None
    assert r.string("text") is None
    assert r.date("onsetDateTime") is None
    assert r.concept("code") is None
    assert r.concepts("bodySite") == ()
    assert r.unreadable == []


def test_present_but_unreadable_fields_are_noted_with_their_path() -> None:
    r = reader(
        status=42,
        authoredOn="2026-13-01",
        code="M21.371",
        dosageInstruction=[
            {"timing": {"repeat": {"frequency": 2**31, "timeOfDay": ["08:00:00", "noon"]}}}
        ],
    )
    assert r.code("status") is None
    assert r.date("authoredOn") is None
    assert r.concept("code") is None
    (dosage,) = r.elements("dosageInstruction")
    timing = dosage.element("timing")
    assert timing is not None
    repeat = timing.element("repeat")
    assert repeat is not None
    assert repeat.integer("frequency") is None
    assert repeat.times("timeOfDay") == (time(8, 0),)
    assert r.unreadable == [
        "status",
        "authoredOn",
        "code",
        "dosageInstruction[0].timing.repeat.frequency",
        "dosageInstruction[0].timing.repeat.timeOfDay[1]",
    ]


def test_codings_a_single_object_is_a_list_of_one_and_junk_is_skipped() -> None:
    r = reader(
        code={
            "coding": {"system": SCT, "code": "6077001", "display": "Foot drop"},
            "text": "Right foot drop",
        },
        bodySite={"coding": ["junk", {"system": SCT, "code": 7771000}, {"system": SCT}]},
    )
    code = r.concept("code")
    assert code is not None
    assert [(c.system, c.code) for c in code.codings] == [(SCT, "6077001")]
    assert code.name == "Right foot drop"
    assert code.words == "Right foot drop; Foot drop"
    (site,) = r.concepts("bodySite")  # a single concept where a list is expected
    assert [c.code for c in site.codings] == ["7771000"]  # an integer code is read as text
    assert r.unreadable == ["bodySite.coding[0]"]


def test_a_bare_coding_in_place_of_a_concept_is_read() -> None:
    concept = reader(code={"system": SCT, "code": "6077001", "display": "Foot drop"}).concept(
        "code"
    )
    assert concept is not None and concept.name == "Foot drop"
    assert [c.code for c in concept.codings] == ["6077001"]


def test_quantities_periods_references_notes_and_contained() -> None:
    r = reader(
        valueQuantity={"value": 1.1, "unit": "mg/dL", "code": "mg/dL"},
        weight={"value": float("inf"), "unit": "kg"},
        effectivePeriod={"start": "2026-06-01T08:00:00Z"},
        medicationReference={"reference": "#m1", "display": "dalfampridine"},
        note=[{"text": "worse", "time": "2026-06-10T09:00:00Z"}, {"time": "2026-06-11"}, 3],
        contained=[{"resourceType": "Medication", "id": "m1", "code": {"text": "Ampyra"}}],
    )
    quantity = r.quantity("valueQuantity")
    assert quantity is not None
    assert (quantity.value, quantity.ucum_or_unit) == (Decimal("1.1"), "mg/dL")
    assert r.quantity("weight") is None
    assert r.period_start("effectivePeriod") == date(2026, 6, 1)
    ref = r.reference("medicationReference")
    assert ref is not None and ref.display == "dalfampridine"
    medication = r.contained(ref)
    assert medication is not None and medication.json["id"] == "m1"
    assert [(n.text, n.time) for n in r.notes()] == [("worse", date(2026, 6, 10))]
    assert r.unreadable == ["weight.value", "note[2]"]


def test_contained_fields_are_noted_on_the_owner() -> None:
    r = reader(contained=[{"resourceType": "Device", "id": "d", "type": "AFO"}])
    device = r.contained(r.reference("missing") or _ref("#d"))
    assert device is not None and device.concept("type") is None
    assert r.unreadable == ["contained[0].type"]


def _ref(target: str) -> Any:
    return Reader({"r": {"reference": target}}).reference("r")


def test_json_constants_python_accepts_are_unreadable_numbers() -> None:
    parsed = json.loads('{"value": NaN, "other": Infinity, "big": 1e400}')
    r = Reader({"q": parsed})
    assert r.quantity("q") is None
    assert r.unreadable == ["q.value"]


def test_unit_keys() -> None:
    assert unit_key(" µmol/L") == "umol/l"
    assert unit_key("μmol / L") == "umol/l"
    assert unit_key("[lb_av]") == "[lb_av]"
