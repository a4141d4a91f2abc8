"""Small FHIR R4 resources for feature and rule tests, assembled the way prefetch does.

Every factory returns plain JSON (a dict) that is valid R4; `patient_data` hands it over
with `service.fhir.patient_data.assemble` and `features_of` runs extraction on it. Dates
are written relative to `NOW`, so a test reads "10 days ago", not a calendar date.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from mappings.matcher import ValueSetIndex
from mappings.text import TextPatterns
from service.clinical.features import PatientFeatures, extract
from service.clinical.patient_view import decide, recommend
from service.clinical.recommendation import Recommendation
from service.clinical.thresholds import ClinicalThresholds
from service.clinical.trace import Decision
from service.fhir.patient_data import PatientData, assemble
from service.fhir.r4 import as_valid_r4

Json = dict[str, Any]

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
PATIENT_ID = "pat-1"

SCT = "http://snomed.info/sct"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
CPT = "http://www.ama-assn.org/go/cpt"
LOCAL = "urn:footdrop-cds:local"
UCUM = "http://unitsofmeasure.org"

# Codes used by the tests (from mappings/valuesets; codes.md).
FOOT_DROP = {"right": "M21.371", "left": "M21.372", None: "M21.379"}
PERONEAL = {"right": "G57.31", "left": "G57.32", "bilateral": "G57.33", None: "G57.30"}
STRENGTH = "ankle-dorsiflexion-mrc"

_ids = itertools.count(1)
THRESHOLDS = ClinicalThresholds()


def days_ago(days: float) -> str:
    return (TODAY - timedelta(days=days)).isoformat()


def weeks_ago(weeks: float) -> str:
    return days_ago(weeks * 7)


def _next_id(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"


def _subject() -> Json:
    return {"reference": f"Patient/{PATIENT_ID}"}


def concept(code: str | None, system: str = SCT, text: str | None = None) -> Json:
    out: Json = {}
    if code is not None:
        out["coding"] = [{"system": system, "code": code}]
    if text is not None:
        out["text"] = text
    return out


def patient(birth: str | None = "1964-03-01", gender: str | None = "female") -> Json:
    resource: Json = {"resourceType": "Patient", "id": PATIENT_ID}
    if birth:
        resource["birthDate"] = birth
    if gender:
        resource["gender"] = gender
    return resource


def condition(
    code: str | None,
    system: str = ICD,
    *,
    rid: str | None = None,
    status: str | None = "active",
    verification: str | None = None,
    onset: str | None = None,
    recorded: str | None = None,
    onset_period: str | None = None,
    onset_age: tuple[float, str] | None = None,
    body_site: Json | None = None,
    text: str | None = None,
    notes: list[tuple[str, str | None]] | None = None,
) -> Json:
    resource: Json = {
        "resourceType": "Condition",
        "id": rid or _next_id("cond"),
        "subject": _subject(),
        "code": concept(code, system, text),
    }
    if status:
        resource["clinicalStatus"] = {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": status,
                }
            ]
        }
    if verification:
        resource["verificationStatus"] = {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                    "code": verification,
                }
            ]
        }
    if onset:
        resource["onsetDateTime"] = onset
    if onset_period:
        resource["onsetPeriod"] = {"start": onset_period}
    if onset_age:
        value, unit = onset_age
        resource["onsetAge"] = {"value": value, "unit": unit, "system": UCUM, "code": unit}
    if recorded:
        resource["recordedDate"] = recorded
    if body_site:
        resource["bodySite"] = [body_site]
    if notes:
        resource["note"] = [
            {"text": note, **({"time": f"{when}T09:00:00Z"} if when else {})}
            for note, when in notes
        ]
    return resource


def foot_drop(side: str | None = "right", onset: str | None = None, **kw: Any) -> Json:
    """An ICD-10-CM foot drop; onset defaults to 10 days ago unless given or recorded."""
    if onset is None and not any(k in kw for k in ("recorded", "onset_period", "onset_age")):
        onset = days_ago(10)
    return condition(FOOT_DROP[side], ICD, onset=onset, **kw)


def observation(
    code: str,
    system: str = LOINC,
    *,
    value: float | None = None,
    unit: str | None = None,
    ucum: bool = True,
    value_string: str | None = None,
    value_boolean: bool | None = None,
    when: str | None = None,
    body_site: Json | None = None,
    status: str = "final",
) -> Json:
    resource: Json = {
        "resourceType": "Observation",
        "id": _next_id("obs"),
        "status": status,
        "subject": _subject(),
        "code": concept(code, system),
        "effectiveDateTime": when or days_ago(1),
    }
    if value is not None:
        quantity: Json = {"value": value}
        if unit is not None:
            quantity.update(
                {"unit": unit, "system": UCUM, "code": unit} if ucum else {"unit": unit}
            )
        resource["valueQuantity"] = quantity
    if value_string is not None:
        resource["valueString"] = value_string
    if value_boolean is not None:
        resource["valueBoolean"] = value_boolean
    if body_site:
        resource["bodySite"] = body_site
    return resource


def creatinine(value: float, unit: str = "mg/dL", days: float = 2, **kw: Any) -> Json:
    return observation("2160-0", value=value, unit=unit, when=days_ago(days), **kw)


def weight(value: float, unit: str = "kg", days: float = 30, **kw: Any) -> Json:
    return observation("29463-7", value=value, unit=unit, when=days_ago(days), **kw)


def height(value: float, unit: str = "cm", days: float = 400) -> Json:
    return observation("body-height", LOCAL, value=value, unit=unit, when=days_ago(days))


def egfr(value: float, days: float = 5) -> Json:
    return observation("62238-1", value=value, unit="mL/min/{1.73_m2}", when=days_ago(days))


def crcl(value: float, days: float = 5) -> Json:
    return observation("2164-2", value=value, unit="mL/min", when=days_ago(days))


def strength(grade: str | float, days: float, side: str | None = None) -> Json:
    site = {"text": f"{side} ankle"} if side else None
    if isinstance(grade, str):
        return observation(STRENGTH, LOCAL, value_string=grade, when=days_ago(days), body_site=site)
    return observation(STRENGTH, LOCAL, value=grade, when=days_ago(days), body_site=site)


def service_request(
    code: str | None,
    system: str = SCT,
    *,
    status: str = "active",
    priority: str | None = None,
    authored: str | None = None,
    text: str | None = None,
    rid: str | None = None,
) -> Json:
    resource: Json = {
        "resourceType": "ServiceRequest",
        "id": rid or _next_id("sr"),
        "status": status,
        "intent": "order",
        "subject": _subject(),
        "code": concept(code, system, text),
        "authoredOn": authored or days_ago(3),
    }
    if priority:
        resource["priority"] = priority
    return resource


def procedure(
    code: str | None,
    system: str = SCT,
    *,
    status: str = "completed",
    performed: str | None = None,
    text: str | None = None,
) -> Json:
    return {
        "resourceType": "Procedure",
        "id": _next_id("proc"),
        "status": status,
        "subject": _subject(),
        "code": concept(code, system, text),
        "performedDateTime": performed or days_ago(3),
    }


def imaging_report(code: str, *, when: str | None = None, status: str = "final") -> Json:
    return {
        "resourceType": "DiagnosticReport",
        "id": _next_id("dr"),
        "status": status,
        "subject": _subject(),
        "code": concept(code, LOINC),
        "effectiveDateTime": when or days_ago(3),
    }


def device_request(code: str | None, system: str = SCT, *, status: str = "active") -> Json:
    return {
        "resourceType": "DeviceRequest",
        "id": _next_id("devreq"),
        "status": status,
        "intent": "order",
        "subject": _subject(),
        "codeCodeableConcept": concept(code, system),
        "authoredOn": days_ago(3),
    }


def device_use(display: str, *, status: str = "active") -> Json:
    return {
        "resourceType": "DeviceUseStatement",
        "id": _next_id("dus"),
        "status": status,
        "subject": _subject(),
        "device": {"display": display},
    }


def medication_request(
    code: str | None = None, text: str | None = None, *, status: str = "active"
) -> Json:
    return {
        "resourceType": "MedicationRequest",
        "id": _next_id("medreq"),
        "status": status,
        "intent": "order",
        "subject": _subject(),
        "medicationCodeableConcept": concept(code, RXNORM, text),
        "authoredOn": days_ago(100),
    }


def medication_statement(text: str, *, status: str = "active") -> Json:
    return {
        "resourceType": "MedicationStatement",
        "id": _next_id("medst"),
        "status": status,
        "subject": _subject(),
        "medicationCodeableConcept": {"text": text},
    }


def allergy(text: str | None = None, code: str | None = None) -> Json:
    return {
        "resourceType": "AllergyIntolerance",
        "id": _next_id("allergy"),
        "patient": _subject(),
        "code": concept(code, RXNORM, text),
    }


def patient_data(
    *resources: Json,
    drafts: tuple[Json, ...] = (),
    unavailable: frozenset[str] = frozenset(),
    now: datetime = NOW,
    with_patient: bool = True,
    valid_r4: bool = True,
) -> PatientData:
    """The hand-off prefetch builds; a default adult woman unless a Patient is given.

    The factories make valid R4 (checked); `valid_r4=False` is for resources that are
    deliberately not, as real EHRs send them.
    """
    all_resources = list(resources)
    if with_patient and not any(r["resourceType"] == "Patient" for r in resources):
        all_resources.insert(0, patient())
    for raw in [*all_resources, *drafts] if valid_r4 else []:
        assert as_valid_r4(raw) is not None, f"invalid test resource: {raw}"
    return assemble(
        [all_resources],
        patient_id=PATIENT_ID,
        now=now,
        draft_entries=[{"resource": draft} for draft in drafts],
        unavailable=unavailable,
    )


@lru_cache(maxsize=1)
def patterns() -> TextPatterns:
    return TextPatterns.load()


@lru_cache(maxsize=1)
def index() -> ValueSetIndex:
    return ValueSetIndex.load()


def features_of(
    *resources: Json, thresholds: ClinicalThresholds = THRESHOLDS, **kw: Any
) -> PatientFeatures:
    return extract(patient_data(*resources, **kw), index(), patterns(), thresholds)


def recommendations(
    *resources: Json, thresholds: ClinicalThresholds = THRESHOLDS, **kw: Any
) -> list[Recommendation]:
    return recommend(features_of(*resources, thresholds=thresholds, **kw), NOW, thresholds)


def topics(*resources: Json, **kw: Any) -> list[str]:
    return [r.topic for r in recommendations(*resources, **kw)]


def card(topic: str, *resources: Json, **kw: Any) -> Recommendation | None:
    return next((r for r in recommendations(*resources, **kw) if r.topic == topic), None)


def decisions(
    *resources: Json, thresholds: ClinicalThresholds = THRESHOLDS, **kw: Any
) -> dict[str, Decision]:
    """Every patient-view topic's decision (the rule trace), by topic."""
    features = features_of(*resources, thresholds=thresholds, **kw)
    return {d.topic: d for d in decide(features, NOW, thresholds, observe=True)}


def suggestion_ids(rec: Recommendation | None) -> list[str]:
    return [s.suggestion_id for s in rec.suggestions] if rec else []


def as_date(text: str) -> date:
    return date.fromisoformat(text)


def request_patient_data(request: dict[str, Any], now: datetime) -> PatientData:
    """A hook request's prefetch and draft orders as `assemble` receives them (no HTTP)."""
    obtained = [
        [e.get("resource") for e in value.get("entry", [])]
        if value.get("resourceType") == "Bundle"
        else [value]
        for value in request.get("prefetch", {}).values()
        if isinstance(value, dict)
    ]
    context = request["context"]
    return assemble(
        obtained,
        patient_id=context["patientId"],
        now=now,
        draft_entries=context.get("draftOrders", {}).get("entry", []),
        selections=context.get("selections", ()),
    )
