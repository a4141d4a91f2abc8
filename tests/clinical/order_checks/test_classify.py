"""classify: what a draft order is (by code and by text), its name, priority and dose."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from service.clinical.orders import SelectedOrder, classify, read_dose
from service.fhir.patient_data import parse_draft_orders
from tests.support.clinical import index, patterns
from tests.support.drafts import (
    ER_TEXT,
    afo,
    dalfampridine,
    mri_lumbar,
    peroneal_decompression,
    service_draft,
    tendon_transfer,
)

Json = dict[str, Any]


def classified(draft: Json) -> SelectedOrder:
    """Parsed as the pipeline parses draftOrders (repairing what clients leave out)."""
    (order,), skipped = parse_draft_orders([{"resource": draft}])
    assert skipped == 0
    return classify(order, index(), patterns())


def dose_of(draft: Json) -> Any:
    result = classified(draft).dose
    assert result is not None
    return result


def test_codes_of_each_request_type_give_their_feature() -> None:
    assert classified(mri_lumbar()).features == {"mri_lumbar"}
    assert classified(afo()).features == {"orthosis"}
    assert classified(dalfampridine()).features == {"dalfampridine"}


def test_uncoded_procedures_are_read_from_their_text() -> None:
    transfer = classified(tendon_transfer())
    assert transfer.features == {"tendon_transfer"}
    assert transfer.from_text == {"tendon_transfer"}
    assert classified(peroneal_decompression()).features == {"peroneal_decompression"}
    neurolysis = service_draft(text="Neurolysis of the left common fibular nerve")
    assert classified(neurolysis).features == {"peroneal_decompression"}


def test_4ap_words_count_and_amifampridine_never() -> None:
    four_ap = classified(dalfampridine(text="4-aminopyridine 10 mg capsule", coded=False))
    assert four_ap.features == {"other_4ap"}
    assert four_ap.is_dalfampridine
    brand = classified(dalfampridine(text="Ampyra 10 mg", coded=False))
    assert brand.features == {"dalfampridine"}
    amifampridine = classified(dalfampridine(text="amifampridine 10 mg", coded=False))
    assert amifampridine.features == frozenset()
    assert amifampridine.dose is None


def test_display_priority_and_reference() -> None:
    mri = classified(mri_lumbar(rid="m1", priority="urgent"))
    assert mri.display == "MR Lumbar spine"  # the value set's display when the draft has none
    assert mri.priority == "urgent"
    assert mri.reference == "ServiceRequest/m1"
    assert mri.evidence.value == "draft order, priority urgent"
    assert classified(tendon_transfer()).display == "Posterior tibial tendon transfer, right"


def test_a_draft_without_intent_from_a_real_client_is_still_classified() -> None:
    draft = afo()
    del draft["intent"]
    draft["reasonCode"] = {"text": "foot drop"}
    assert classified(draft).features == {"orthosis"}


def test_contained_medication_and_device_are_read() -> None:
    med = dalfampridine(coded=False, text=None)
    del med["medicationCodeableConcept"]
    med["contained"] = [{"resourceType": "Medication", "id": "m", "code": {"text": ER_TEXT}}]
    med["medicationReference"] = {"reference": "#m"}
    assert classified(med).features == {"dalfampridine"}
    assert dose_of(med).as_labelled

    device = afo()
    del device["codeCodeableConcept"]
    device["contained"] = [
        {"resourceType": "Device", "id": "d", "type": {"text": "ankle-foot orthosis"}}
    ]
    device["codeReference"] = {"reference": "#d"}
    assert classified(device).features == {"orthosis"}


def test_labelled_dose_is_read_in_full() -> None:
    dose = dose_of(dalfampridine())
    assert (dose.mg_per_dose, dose.doses_per_day, dose.mg_per_day) == (10, 2, 20)
    assert dose.extended_release is True
    assert dose.as_labelled


def test_grams_ranges_and_maximum_per_period() -> None:
    grams = dalfampridine(dose=0.015, unit="g")
    assert dose_of(grams).mg_per_dose == Decimal(15)
    ranged = dalfampridine()
    ranged["dosageInstruction"][0]["doseAndRate"] = [
        {"doseRange": {"low": {"value": 10, "unit": "mg"}, "high": {"value": 20, "unit": "mg"}}}
    ]
    assert dose_of(ranged).mg_per_dose == Decimal(20)
    ceiling = dalfampridine()
    ceiling["dosageInstruction"][0]["maxDosePerPeriod"] = {
        "numerator": {"value": 40, "unit": "mg"},
        "denominator": {"value": 1, "unit": "d"},
    }
    assert any("maximum of 40 mg" in p for p in dose_of(ceiling).problems)


def test_schedules_that_are_not_every_12_hours() -> None:
    once = dose_of(dalfampridine(frequency=1, period=1, period_unit="d"))
    assert "once a day, not every 12 hours" in once.problems
    every_other_day = dose_of(dalfampridine(frequency=None, period=None, timing_code="QOD"))
    assert any("every 2 days" in p for p in every_other_day.problems)
    q12h = dose_of(dalfampridine(frequency=None, period=None, timing_code="Q12H"))
    assert q12h.as_labelled
    prn = dalfampridine()
    prn["dosageInstruction"][0]["asNeededBoolean"] = True
    assert "as needed rather than on a fixed schedule" in dose_of(prn).problems
    variable = dalfampridine()
    variable["dosageInstruction"][0]["timing"]["repeat"]["periodMax"] = 24
    assert "a variable dosing interval" in dose_of(variable).problems


def test_concurrent_instructions_add_up_and_sequential_ones_do_not() -> None:
    draft = dalfampridine()
    instruction = draft["dosageInstruction"][0]
    draft["dosageInstruction"] = [instruction, instruction]
    concurrent = dose_of(draft)
    assert concurrent.mg_per_day == Decimal(40)
    assert any("concurrent" in p for p in concurrent.problems)
    draft["dosageInstruction"] = [dict(instruction, sequence=1), dict(instruction, sequence=2)]
    assert dose_of(draft).as_labelled


def test_unreadable_doses_are_unknown_not_fine() -> None:
    tablets = dalfampridine(dose=1, unit="tablet", text="dalfampridine ER", coded=False)
    no_strength = dose_of(tablets)
    assert no_strength.mg_per_dose is None
    assert any("strength is not stated" in u for u in no_strength.unknown)
    no_unit = dalfampridine()
    del no_unit["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["unit"]
    assert any("has no unit" in u for u in dose_of(no_unit).unknown)
    assert read_dose([], "dalfampridine").unknown == (
        "no dosage instructions",
        "the form is not stated as extended-release",
    )


def test_release_form_words() -> None:
    assert dose_of(dalfampridine(text="dalfampridine ER 10 mg", coded=False)).extended_release
    every_12 = dalfampridine(text="dalfampridine 10 mg", coded=False, sig="every 12 hours")
    assert dose_of(every_12).extended_release is None  # a schedule, not a product name
    immediate = dalfampridine(text="dalfampridine 10 mg IR", coded=False)
    assert dose_of(immediate).extended_release is False


def test_well_known_cpt_order_codes_trigger() -> None:
    """clinical-logic v3 §4: the sandbox orders a lumbar MRI as CPT 72148 (V since codes-v3)."""
    cpt = "http://www.ama-assn.org/go/cpt"
    assert classified(service_draft("72148", cpt)).features == {"mri_lumbar"}
    assert classified(service_draft("95907", cpt)).features == {"ncs_emg"}
    assert classified(service_draft("24968-0", "http://loinc.org")).features == {"mri_lumbar"}
