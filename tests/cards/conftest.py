"""Shared fixtures: the shipped catalogue, a sample patient and full recommendations.

Everything is built here, without /work/shared or a FHIR server: a patient with
one draft of each order type a suggestion can update or delete.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from cards.catalogue import CardCatalogue, CardTemplate, Situation
from service.clinical.features.model import Evidence
from service.clinical.recommendation import Indicator, Recommendation, SuggestedAction
from service.fhir.patient_data import PatientData, parse_draft_orders

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)

MRI_DRAFT: dict[str, Any] = {
    "resourceType": "ServiceRequest",
    "id": "mri-draft",
    "status": "draft",
    "intent": "order",
    "priority": "routine",
    "subject": {"reference": "Patient/p1"},
    "code": {"text": "MRI lumbar spine"},
    "note": [{"text": "Kept as the EHR sent it"}],
}
DALFAMPRIDINE_DRAFT: dict[str, Any] = {
    "resourceType": "MedicationRequest",
    "id": "dalf-draft",
    "status": "draft",
    "intent": "order",
    "subject": {"reference": "Patient/p1"},
    "medicationReference": {"reference": "Medication/m1"},
    "dosageInstruction": [{"text": "20 mg twice daily"}],
    "note": [{"text": "Kept as the EHR sent it"}],
}
EVIDENCE = (
    Evidence("Condition", "fd1", "Foot drop, left foot", "2026-10-01"),
    Evidence("Observation", "crcl1", "Creatinine clearance", "2026-11-01", "72 mL/min"),
    Evidence("Observation", "mrc1", "Ankle dorsiflexion strength", "2026-11-20", "4 {score}"),
    Evidence("Observation", "egfr1", "eGFR", "2026-11-20", "42 mL/min/{1.73_m2}"),
)


@pytest.fixture(scope="session")
def catalogue() -> CardCatalogue:
    return CardCatalogue.load()


def patient(
    *,
    drafts: tuple[dict[str, Any], ...] = (MRI_DRAFT, DALFAMPRIDINE_DRAFT),
    encounter_id: str | None = "e1",
    user_id: str | None = "Practitioner/u1",
) -> PatientData:
    orders, skipped = parse_draft_orders({"resource": draft} for draft in drafts)
    assert skipped == 0
    return PatientData(
        patient_id="p1",
        now=NOW,
        encounter_id=encounter_id,
        user_id=user_id,
        draft_orders=orders,
    )


def target_for(template: CardTemplate, suggestion_id: str, catalogue: CardCatalogue) -> str | None:
    """`Type/id` of the sample draft a suggestion's update or delete acts on."""
    suggestion = template.suggestion(suggestion_id)
    assert suggestion is not None
    for action in suggestion.actions:
        if action.type == "delete":
            return "MedicationRequest/dalf-draft"
        if action.type == "update":
            return {
                "ServiceRequest": "ServiceRequest/mri-draft",
                "MedicationRequest": "MedicationRequest/dalf-draft",
            }[catalogue.orders[action.order_id].resource_type]
    return None


def richest_situation(template: CardTemplate) -> Situation:
    """The situation with the most flags the template allows together."""
    return max(template.situations(), key=lambda situation: len(situation.flags))


def full_recommendation(
    template: CardTemplate, catalogue: CardCatalogue, indicator: Indicator | None = None
) -> Recommendation:
    """Every flag (that may go together), fact and suggestion the template knows."""
    return Recommendation(
        topic=template.topic,
        indicator=indicator or template.indicators[0],
        suggestions=tuple(
            SuggestedAction(s.id, target=target_for(template, s.id, catalogue))
            for s in template.suggestions
        ),
        evidence=EVIDENCE,
        facts={name: f"sample {name}" for name in template.facts},
        flags=richest_situation(template).flags,
        notes=("onset_approximate", "finding_from_text"),
    )
