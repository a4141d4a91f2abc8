"""Reading codes first (issue 15): Observations and care resources are glanced at on the
JSON as sent, and read in full only when a code or word may matter or the JSON is not
plain. That must be the same reading as reading every resource in full: the same
features, decisions (with the features each read), draft readings and unreadable fields,
for every vignette, gallery example, request example, Synthea chart and scenario, the
bench's generated chart, and resources malformed at every field the glance looks at.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import records as bench_records
from cards.gallery import load_examples
from service.clinical import order_checks, patient_view
from service.clinical.features.care import KINDS, CareReader, CareReading
from service.clinical.features.extract import read_record
from service.clinical.features.observations import read_observations
from service.clinical.orders import review
from service.clinical.thresholds import ClinicalThresholds
from service.fhir.patient_data import PatientData, Resource, assemble
from tests.support import synthea
from tests.support.clinical import (
    NOW,
    PATIENT_ID,
    THRESHOLDS,
    index,
    patterns,
    request_patient_data,
)
from tests.support.vignettes import VIGNETTE_DIR, load, vignette_files

Json = dict[str, Any]
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def _draft_view(reading: CareReading) -> tuple[Any, ...]:
    """A draft's reading without its `Reader` (compared by identity, not by what it read)."""
    return (
        reading.resource,
        reading.events,
        reading.display,
        reading.priority,
        reading.codes,
        reading.words,
        reading.from_text,
        reading.unreadable,
    )


def _reading(data: PatientData, thresholds: ClinicalThresholds, *, codes_first: bool) -> Any:
    """What the pipeline decides from `data` (patient-view, or the checks of its drafts)."""
    record = read_record(data, index(), patterns(), thresholds, codes_first=codes_first)
    features = record.features()
    decisions = patient_view.decide(features, data.now, thresholds, observe=True)
    if data.draft_orders:
        checked = data.selected_orders or data.draft_orders
        reviews = review(record, checked)
        decisions += order_checks.decide(reviews, data.now, thresholds, observe=True)
    drafts = [(order, _draft_view(reading)) for order, reading in record.drafts]
    return features, decisions, record.unreadable, drafts, record.care


def assert_same_reading(data: PatientData, thresholds: ClinicalThresholds = THRESHOLDS) -> None:
    full = _reading(data, thresholds, codes_first=False)
    assert _reading(data, thresholds, codes_first=True) == full


def _chart_data(resources: Sequence[Json], drafts: Sequence[Json] = ()) -> PatientData:
    return assemble(
        [resources],
        patient_id=synthea.patient_of(list(resources))["id"],
        now=datetime.now(UTC),
        draft_entries=[{"resource": d} for d in drafts],
    )


@pytest.mark.parametrize(
    "path", vignette_files(), ids=lambda p: str(p.relative_to(VIGNETTE_DIR).with_suffix(""))
)
def test_every_vignette_reads_the_same(path: Path) -> None:
    vignette = load(path)
    data = assemble(
        [[vignette.patient, *vignette.record]],
        patient_id=PATIENT_ID,
        now=NOW,
        draft_entries=[{"resource": d} for d in vignette.context.draftOrders],
        selections=vignette.context.selections,
    )
    assert_same_reading(data, ClinicalThresholds(**vignette.clinical))


@pytest.mark.parametrize("name", [name for name, _ in load_examples()])
def test_every_gallery_example_reads_the_same(name: str) -> None:
    example = dict(load_examples())[name]
    assert_same_reading(request_patient_data(example.request, example.now))


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.stem)
def test_every_request_example_reads_the_same(path: Path) -> None:
    assert_same_reading(request_patient_data(json.loads(path.read_text()), NOW))


@pytest.mark.parametrize("name", [name for name, _ in synthea.iter_fixture_charts()])
def test_every_synthea_chart_reads_the_same(name: str) -> None:
    chart = dict(synthea.iter_fixture_charts())[name]
    assert_same_reading(_chart_data(chart))
    assert_same_reading(_chart_data([*chart, synthea.foot_drop(chart)]))


@pytest.mark.parametrize("name", sorted(synthea.SCENARIOS))
def test_every_synthea_scenario_reads_the_same(name: str) -> None:
    scenario = synthea.SCENARIOS[name]()
    assert_same_reading(_chart_data(scenario.record, scenario.drafts))


def test_the_bench_chart_reads_the_same() -> None:
    """Every resource type of the Synthea mix, most of them ones the rules never read."""
    record = bench_records.generated(300, date.today(), unread=100)
    request = {"context": {"patientId": record.patient_id}, "prefetch": record.prefetch}
    assert_same_reading(request_patient_data(request, datetime.now(UTC)))


# ── malformed resources: odd types at every field the glance looks at ──────────────────

#: Codes that match (body weight, creatinine, an orthosis, dalfampridine, a foot drop, a
#: generic spine MRI that needs words, urinary retention), codes that match nothing, junk.
_CODES = (
    st.sampled_from(
        [
            "29463-7",
            "2160-0",
            "183153006",
            "897021",
            "M21.371",
            "241645008",
            "236648008",
            "12345-6",
            "",
            " ",
            " 29463-7 ",
            None,
        ]
    )
    | st.integers(-3, 10**9)
    | st.booleans()
    | st.just(2160.0)
)
_SYSTEMS = (
    st.sampled_from(
        [
            "http://loinc.org",
            "http://snomed.info/sct",
            "http://snomed.info/sct/",
            "http://www.nlm.nih.gov/research/umls/rxnorm",
            "http://hl7.org/fhir/sid/icd-10-cm",
            "",
            None,
        ]
    )
    | st.integers()
    | st.just(["http://loinc.org"])
)
_WORDS = (
    st.sampled_from(
        [
            "ankle foot orthosis fitting",
            "Body weight",
            "Encounter for check up",
            "dalfampridine",
            "4-aminopyridine compounded",
            "MRI lumbar spine",
            "cimetidine 400 mg",
            "tendon transfer",
            "no orthosis",
            "",
            " ",
        ]
    )
    | st.none()
    | st.integers()
    | st.just({"text": "orthosis"})
    | st.just(["orthosis"])
)


#: Codings that match as sent: a body weight, a creatinine, an orthosis, dalfampridine,
#: a generic spine MRI (which needs words), urinary retention.
_MATCHING = st.sampled_from(
    [
        ("http://loinc.org", "29463-7"),
        ("http://loinc.org", "2160-0"),
        ("http://snomed.info/sct", "183153006"),
        ("http://www.nlm.nih.gov/research/umls/rxnorm", "897021"),
        ("http://snomed.info/sct", "241645008"),
        ("http://snomed.info/sct", "236648008"),
    ]
)


_TEXTS = st.sampled_from(["ankle foot orthosis fitting", "Body weight", "Encounter", ""])
_MATCHING_CODING = st.tuples(_MATCHING, st.none() | _TEXTS).map(
    lambda pair: {"system": pair[0][0], "code": pair[0][1], "display": pair[1]}
)
#: As most records send them: a list of codings (that match, or plain ones that may not).
_PLAIN_CONCEPT = st.fixed_dictionaries(
    {
        "coding": st.lists(
            _MATCHING_CODING
            | st.fixed_dictionaries({"system": _SYSTEMS, "code": _CODES, "display": _TEXTS}),
            min_size=1,
            max_size=2,
        )
    },
    optional={"text": _TEXTS},
)


def _coding() -> st.SearchStrategy[Any]:
    fields = {"system": _SYSTEMS, "code": _CODES, "display": _WORDS}
    junk = st.sampled_from([None, "x", 3, []])
    return _MATCHING_CODING | st.fixed_dictionaries({}, optional=fields) | junk


def _concept() -> st.SearchStrategy[Any]:
    codings = st.lists(_coding(), max_size=3) | _coding()
    as_concept = st.fixed_dictionaries({}, optional={"coding": codings, "text": _WORDS})
    bare_coding = st.fixed_dictionaries({}, optional={"system": _SYSTEMS, "code": _CODES})
    extension_only = st.just({"extension": [{"url": "http://example.org/x", "valueString": "y"}]})
    return (
        as_concept
        | bare_coding
        | extension_only
        | st.lists(as_concept, max_size=2)
        | st.sampled_from([None, "orthosis", 29463, True, {}, []])
    )


#: The fields each resource type is named by: its concepts (the first step of a path),
#: text names and the reference to a Device or Medication.
_NAMED_BY = {
    "Observation": ("code",),
    **{
        kind: (
            *dict.fromkeys(p.split(".")[0].removesuffix("[]") for p in k.concepts),
            *k.texts,
            *([k.reference] if k.reference else []),
        )
        for kind, k in KINDS.items()
    },
}
_OTHER_FIELDS = {
    "status": st.sampled_from(["final", "completed", "active", "finished", "cancelled", 3]),
    "valueBoolean": st.booleans(),
    "valueQuantity": st.just({"value": 80, "unit": "kg"}),
    "contained": st.just(
        [{"resourceType": "Medication", "id": "med", "code": {"text": "dalfampridine 10 mg"}}]
    ),
}


def _resources() -> st.SearchStrategy[Json]:
    """An Observation or care resource, its naming fields (and a status) drawn at random."""

    def resource(kind: str) -> st.SearchStrategy[Json]:
        fields = {name: _PLAIN_CONCEPT | _concept() | _WORDS for name in _NAMED_BY[kind]}
        if "medicationReference" in fields:
            fields["medicationReference"] = st.just({"reference": "#med"}) | _WORDS
        return st.fixed_dictionaries(
            {"resourceType": st.just(kind), "id": st.just("r-1")},
            optional={**fields, **_OTHER_FIELDS},
        )

    # Half Observations: one type among the care types would be drawn too seldom.
    return resource("Observation") | st.sampled_from(sorted(KINDS)).flatmap(resource)


def _care_view(reading: CareReading | None) -> tuple[Any, ...] | None:
    return None if reading is None else _draft_view(reading)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_resources())
def test_a_malformed_resource_reads_the_same(json_resource: Json) -> None:
    """Whatever the shape, glancing first gives the full reader's reading, and what it
    could not read is recorded the same: fail-safe reading (v3) is never skipped."""
    resource = Resource.of(json_resource)
    if resource.type == "Observation":
        glanced = read_observations([resource], index(), patterns(), codes_first=True)
        full = read_observations([resource], index(), patterns(), codes_first=False)
        assert glanced == full
    else:
        glance = CareReader(index(), patterns(), codes_first=True).read(resource)
        read = CareReader(index(), patterns(), codes_first=False).read(resource)
        assert _care_view(glance) == _care_view(read)


@pytest.mark.parametrize(
    "code",
    [
        {"coding": [{"system": "http://loinc.org", "code": " "}]},  # a blank code
        {"coding": [{"system": 7, "code": "12345-6"}]},  # a numeric system
        {"coding": ["12345-6"]},  # a coding that is not an object
        {"coding": [{"code": "12345-6", "display": 5}]},  # a numeric display
        {"coding": [], "text": 5},  # a numeric text
        {"coding": "12345-6"},  # coding as a string
        "12345-6",  # code as a string
    ],
)
def test_an_observation_whose_code_cannot_be_read_is_recorded(code: Any) -> None:
    """The glance never skips an Observation its full reading would record as unreadable."""
    resource = Resource.of({"resourceType": "Observation", "id": "o-1", "code": code})
    glanced = read_observations([resource], index(), patterns(), codes_first=True)
    assert glanced.unreadable
    assert glanced == read_observations([resource], index(), patterns(), codes_first=False)


@pytest.mark.parametrize(
    "code",
    [
        {"coding": {"system": "http://loinc.org", "code": "29463-7"}},  # coding as an object
        {"system": "http://loinc.org", "code": "29463-7"},  # a bare Coding
        {"coding": [{"system": "http://loinc.org/", "code": " 29463-7 "}]},  # spaces, a slash
    ],
)
def test_an_observation_coded_in_an_odd_shape_is_still_measured(code: Any) -> None:
    resource = Resource.of(
        {
            "resourceType": "Observation",
            "id": "o-1",
            "status": "final",
            "code": code,
            "valueQuantity": {"value": 80, "unit": "kg"},
        }
    )
    glanced = read_observations([resource], index(), patterns(), codes_first=True)
    assert [m.feature for m in glanced.measurements] == ["body_weight"]
    assert glanced == read_observations([resource], index(), patterns(), codes_first=False)


@pytest.mark.parametrize(
    ("resource", "feature"),
    [
        (
            {"resourceType": "Procedure", "code": {"text": "ankle foot orthosis fitting"}},
            "orthosis",
        ),
        (
            {"resourceType": "Encounter", "type": [{"coding": [{"display": "AFO fitting"}]}]},
            "orthosis",
        ),
        ({"resourceType": "CarePlan", "title": "Ankle foot orthosis"}, "orthosis"),
        (
            {"resourceType": "MedicationRequest", "medicationCodeableConcept": {"text": "Ampyra"}},
            "dalfampridine",
        ),
    ],
)
def test_care_named_only_in_words_is_read(resource: Json, feature: str) -> None:
    """No code, only words: the glance's screen keeps it, and the words name the care."""
    done = {"Procedure": "completed", "Encounter": "finished", "CarePlan": "completed"}
    status = done.get(resource["resourceType"], "active")
    care = Resource.of({**resource, "id": "c-1", "status": status})
    reading = CareReader(index(), patterns(), codes_first=True).read(care)
    assert reading is not None and reading.features == {feature}


_ORTHOSIS = {"coding": [{"system": "http://snomed.info/sct", "code": "183153006"}]}
_DALFAMPRIDINE = {
    "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "897021"}]
}


@pytest.mark.parametrize(
    ("resource", "feature"),
    [
        (
            {
                "resourceType": "CarePlan",
                "status": "completed",
                "activity": [{"detail": {"code": _ORTHOSIS}}],
            },
            "orthosis",
        ),
        (
            {
                "resourceType": "MedicationRequest",
                "status": "active",
                "medicationReference": {"reference": "#med"},
                "contained": [{"resourceType": "Medication", "id": "med", "code": _DALFAMPRIDINE}],
            },
            "dalfampridine",
        ),
        (
            {
                "resourceType": "DeviceUseStatement",
                "status": "active",
                "device": {"reference": "#afo"},
                "contained": [{"resourceType": "Device", "id": "afo", "type": _ORTHOSIS}],
            },
            "orthosis",
        ),
    ],
)
def test_care_named_in_a_nested_or_referenced_element_is_read(resource: Json, feature: str) -> None:
    """What the glance does not look at (activities, a contained Medication or Device)
    sends the resource to the full reader, which finds its code."""
    care = Resource.of({**resource, "id": "c-1"})
    reading = CareReader(index(), patterns(), codes_first=True).read(care)
    assert reading is not None and {m.feature for m in reading.codes} == {feature}
