"""The order checks decide the patient-view red flag alone (issue 15), not all ten
patient-view cards: it must be the red-flag card `recommend` gives, but for the flag
`critical_withheld_others` it gets beside other cards, for every record the order checks
see (the rest of each order under review) and every patient-view record, in every
vignette, gallery example, request example and Synthea scenario.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cards.gallery import load_examples
from service.clinical.features.extract import read_record
from service.clinical.features.model import PatientFeatures
from service.clinical.orders import review
from service.clinical.patient_view import RED_FLAG, recommend, red_flag
from service.clinical.recommendation import Recommendation
from service.clinical.thresholds import ClinicalThresholds
from service.fhir.patient_data import PatientData, assemble
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
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _of_recommend(
    features: PatientFeatures, now: datetime, thresholds: ClinicalThresholds
) -> Recommendation | None:
    """The red flag as the order checks took it before: from all patient-view cards."""
    red = next((r for r in recommend(features, now, thresholds) if r.topic == RED_FLAG), None)
    return replace(red, flags=red.flags - {"critical_withheld_others"}) if red else None


def _assert_alone_is_the_same(data: PatientData, thresholds: ClinicalThresholds) -> int:
    """Compare on the whole record and the rest of each order; the critical cards seen."""
    record = read_record(data, index(), patterns(), thresholds)
    orders = data.selected_orders or data.draft_orders
    seen = [record.features(), *(r.rest for r in review(record, orders))]
    for features in seen:
        assert red_flag(features, data.now, thresholds) == _of_recommend(
            features, data.now, thresholds
        )
    return sum(
        red.indicator == "critical"
        for red in (red_flag(f, data.now, thresholds) for f in seen)
        if red is not None
    )


def test_every_vignette_has_the_same_red_flag() -> None:
    critical = 0
    for path in vignette_files():
        vignette = load(path)
        data = assemble(
            [[vignette.patient, *vignette.record]],
            patient_id=PATIENT_ID,
            now=NOW,
            draft_entries=[{"resource": d} for d in vignette.context.draftOrders],
            selections=vignette.context.selections,
        )
        thresholds = ClinicalThresholds(**vignette.clinical)
        try:
            critical += _assert_alone_is_the_same(data, thresholds)
        except AssertionError as error:
            raise AssertionError(f"{path.relative_to(VIGNETTE_DIR)}: {error}") from error
    assert critical, "no vignette has a critical red flag: the comparison proves little"


@pytest.mark.parametrize("name", [name for name, _ in load_examples()])
def test_every_gallery_example_has_the_same_red_flag(name: str) -> None:
    example = dict(load_examples())[name]
    _assert_alone_is_the_same(request_patient_data(example.request, example.now), THRESHOLDS)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.stem)
def test_every_request_example_has_the_same_red_flag(path: Path) -> None:
    _assert_alone_is_the_same(request_patient_data(json.loads(path.read_text()), NOW), THRESHOLDS)


@pytest.mark.parametrize("name", sorted(synthea.SCENARIOS))
def test_every_synthea_scenario_has_the_same_red_flag(name: str) -> None:
    scenario = synthea.SCENARIOS[name]()
    data = assemble(
        [scenario.record],
        patient_id=synthea.patient_of(list(scenario.record))["id"],
        now=datetime.now(UTC),
        draft_entries=[{"resource": d} for d in scenario.drafts],
    )
    _assert_alone_is_the_same(data, THRESHOLDS)
