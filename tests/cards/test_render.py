"""Rendering: every topic gives a spec-valid card (CDS Hooks 2.0 §3) with valid R4 orders,
worded as clinical-logic v3 §1 asks (the basis shown, ids only in the extension)."""

from __future__ import annotations

import re
import uuid
from dataclasses import replace
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from cards.catalogue import CardCatalogue, only_citing
from cards.model import BASIS_EXTENSION, Card
from cards.render import RenderError, fitted, render, sentence_start
from service.clinical.features.model import Evidence
from service.clinical.recommendation import (
    Recommendation,
    SuggestedAction,
    most_urgent_first,
)
from service.fhir.patient_data import PatientData, Resource
from tests.cards.conftest import (
    DALFAMPRIDINE_DRAFT,
    EVIDENCE,
    MRI_DRAFT,
    full_recommendation,
    patient,
    richest_situation,
)
from tests.support.spec_checks import empty_values

DOCS_URL = "https://cds.example.org/docs/clinical"
OUR_REASONS = "urn:footdrop-cds:override-reason"
HL7_REASONS = "http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes"
RESOURCE_ID = re.compile(r"^[A-Za-z]+/[A-Za-z0-9\-.]+$")
TOPICS = sorted(CardCatalogue.load().templates)


def _json(card: Card) -> dict[str, Any]:
    """The card as the service sends it: no None values (protocol G-2)."""
    return card.model_dump(mode="json", exclude_none=True)


def _render_one(
    rec: Recommendation,
    catalogue: CardCatalogue,
    data: PatientData | None = None,
    hook: str | None = None,
) -> Card:
    template = catalogue.templates.get(rec.topic)
    default = template.hooks[0] if template else "patient-view"
    cards = render([rec], data or patient(), catalogue, hook=hook or default, docs_url=DOCS_URL)
    assert len(cards) == 1
    return cards[0]


def _validate_r4(resource: dict[str, Any]) -> None:
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)


@pytest.mark.parametrize("topic", TOPICS)
def test_each_topic_renders_a_spec_valid_card(topic: str, catalogue: CardCatalogue) -> None:
    template = catalogue.templates[topic]
    card = _render_one(full_recommendation(template, catalogue), catalogue)
    body = _json(card)

    assert empty_values(body) == []
    assert uuid.UUID(body["uuid"]).version == 4
    assert len(body["summary"]) < 140
    assert body["source"] == {
        "label": catalogue.content.sources[template.source].label_for(richest_situation(template)),
        "url": DOCS_URL,
        "topic": {
            "system": "urn:footdrop-cds:card-topic",
            "code": topic,
            "display": template.display,
        },
    }
    suggestions = body.get("suggestions", [])
    assert len(suggestions) == len(template.suggestions)
    assert ("selectionBehavior" in body) == bool(suggestions)
    if body.get("selectionBehavior") == "at-most-one":
        assert sum(s.get("isRecommended", False) for s in suggestions) <= 1
    ids = [body["uuid"], *(s["uuid"] for s in suggestions)]
    assert len(set(ids)) == len(ids) and all(uuid.UUID(i).version == 4 for i in ids)
    for reason in body["overrideReasons"]:
        assert set(reason) == {"system", "code", "display"} and reason["display"]
    own = [(OUR_REASONS, reason.code) for reason in template.override_reasons]
    standard = [(HL7_REASONS, code) for code in catalogue.content.override_reasons.offered]
    assert [(r["system"], r["code"]) for r in body["overrideReasons"]] == own + standard
    assert body["links"] == [
        {
            "label": "How this recommendation works",
            "url": f"{DOCS_URL}#topic-{topic}",
            "type": "absolute",
        }
    ]
    assert body["extension"] == {
        BASIS_EXTENSION: [f"{e.resource_type}/{e.resource_id}" for e in EVIDENCE]
    }


@pytest.mark.parametrize("topic", TOPICS)
def test_detail_ends_with_the_basis_and_the_disclaimer(
    topic: str, catalogue: CardCatalogue
) -> None:
    template = catalogue.templates[topic]
    detail = _render_one(full_recommendation(template, catalogue), catalogue).detail
    assert detail is not None
    assert detail.endswith("Decision support for licensed clinicians; not a diagnosis.")
    why = detail[detail.index("### Why this card") :]
    assert "- Foot drop, left foot (2026-10-01)" in why
    assert "- Creatinine clearance: 72 mL/min (2026-11-01)" in why
    assert "- Ankle dorsiflexion strength: MRC grade 4 (2026-11-20)" in why
    assert "- eGFR: 42 mL/min/1.73 m² (2026-11-20)" in why
    assert catalogue.content.notes["onset_approximate"] in why
    assert f"Content version {catalogue.content.version}" in why
    assert not re.search(r"<[A-Za-z/!?]", detail)
    assert "{" not in detail.replace("\\{", "")
    for evidence in EVIDENCE:
        assert f"{evidence.resource_type}/{evidence.resource_id}" not in detail


@pytest.mark.parametrize("topic", TOPICS)
def test_actions_are_complete_r4_resources(topic: str, catalogue: CardCatalogue) -> None:
    template = catalogue.templates[topic]
    card = _render_one(full_recommendation(template, catalogue), catalogue)
    drafts = {
        "ServiceRequest/mri-draft": MRI_DRAFT,
        "MedicationRequest/dalf-draft": DALFAMPRIDINE_DRAFT,
    }
    for suggestion in card.suggestions or []:
        for action in suggestion.actions or []:
            if action.type == "delete":
                assert action.resource is None
                assert action.resourceId in drafts and RESOURCE_ID.match(action.resourceId)
                continue
            resource = action.resource
            assert resource is not None
            _validate_r4(resource)
            if action.type == "update":
                draft = drafts[f"{resource['resourceType']}/{resource['id']}"]
                assert resource["note"] == draft["note"], "an update sends the complete resource"
                assert resource["subject"] == draft["subject"]
            else:
                assert "id" not in resource
                assert resource["status"] == "draft"
                assert resource["intent"] == "order"
                assert resource["subject"] == {"reference": "Patient/p1"}
                assert resource["encounter"] == {"reference": "Encounter/e1"}
                assert resource["requester"] == {"reference": "Practitioner/u1"}
                assert resource["authoredOn"] == "2026-11-24T09:30:00+00:00"


def test_every_order_template_renders_as_valid_r4(catalogue: CardCatalogue) -> None:
    rendered: set[str] = set()
    for template in catalogue.templates.values():
        card = _render_one(full_recommendation(template, catalogue), catalogue)
        for suggestion_template, suggestion in zip(
            template.suggestions, card.suggestions or [], strict=True
        ):
            for action_template, action in zip(
                suggestion_template.actions, suggestion.actions or [], strict=True
            ):
                if action.type == "create" and action.resource is not None:
                    _validate_r4(action.resource)
                    rendered.add(action_template.order_id)
    assert rendered == set(catalogue.orders)


def test_red_flag_stat_orders(catalogue: CardCatalogue) -> None:
    rec = Recommendation(
        topic="red-flag-urgent-evaluation",
        indicator="critical",
        suggestions=(
            SuggestedAction("mri-lumbar-stat"),
            SuggestedAction("mri-lumbar-make-stat", target="ServiceRequest/mri-draft"),
            SuggestedAction("spine-surgery-referral-stat"),
        ),
        evidence=EVIDENCE,
        facts={"findings": "urinary retention (2026-11-23)", "duration": "3 weeks"},
    )
    card = _render_one(rec, catalogue)
    assert card.selectionBehavior == "any"
    resources = [a.resource for s in card.suggestions or [] for a in s.actions or []]
    assert [r["priority"] for r in resources if r] == ["stat", "stat", "stat"]
    update = resources[1]
    assert (
        update is not None and update["id"] == "mri-draft" and update["code"] == MRI_DRAFT["code"]
    )
    assert card.detail is not None and card.detail.startswith("**Arrange same-day emergency")


def test_dose_update_replaces_the_medication_and_keeps_the_rest(catalogue: CardCatalogue) -> None:
    rec = Recommendation(
        topic="dalfampridine-dose",
        indicator="warning",
        suggestions=(
            SuggestedAction("dalfampridine-correct-dose", target="MedicationRequest/dalf-draft"),
        ),
        facts={"dose_problem": "20 mg per dose"},
    )
    action = (_render_one(rec, catalogue).suggestions or [])[0].actions or []
    resource = action[0].resource
    assert resource is not None
    assert "medicationReference" not in resource
    assert resource["medicationCodeableConcept"]["coding"][0]["code"] == "897021"
    assert resource["dosageInstruction"][0]["maxDosePerPeriod"]["numerator"]["value"] == 20
    assert resource["id"] == "dalf-draft" and resource["note"] == DALFAMPRIDINE_DRAFT["note"]
    _validate_r4(resource)


def test_update_of_an_order_in_the_record(catalogue: CardCatalogue) -> None:
    """patient-view: a pending non-stat MRI in the record (not a draft) is updated to stat."""
    pending = Resource.of({**MRI_DRAFT, "id": "mri-active", "status": "active"})
    data = replace(patient(drafts=()), resources={"ServiceRequest": (pending,)})
    rec = Recommendation(
        topic="red-flag-urgent-evaluation",
        indicator="critical",
        suggestions=(SuggestedAction("mri-lumbar-make-stat", target="ServiceRequest/mri-active"),),
        facts={"findings": "saddle numbness", "duration": "2 weeks"},
    )
    resource = ((_render_one(rec, catalogue, data).suggestions or [])[0].actions or [])[0].resource
    assert resource is not None
    assert resource["id"] == "mri-active" and resource["status"] == "active"
    assert resource["priority"] == "stat" and resource["note"] == MRI_DRAFT["note"]


@pytest.mark.parametrize(
    ("suggestion", "target"),
    [
        ("remove-dalfampridine", None),
        ("remove-dalfampridine", "MedicationRequest/not-in-request"),
        ("remove-dalfampridine", "ServiceRequest/mri-draft-gone"),
    ],
)
def test_a_suggestion_without_its_target_is_left_out(
    catalogue: CardCatalogue, suggestion: str, target: str | None
) -> None:
    rec = Recommendation(
        topic="dalfampridine-contraindicated",
        indicator="critical",
        suggestions=(SuggestedAction(suggestion, target=target),),
        facts={
            "contraindication": "epilepsy (Condition/c9)",
            "reason": "seizure history recorded",
            "crcl_limit": "50 mL/min or less",
        },
    )
    body = _json(_render_one(rec, catalogue))
    assert "suggestions" not in body and "selectionBehavior" not in body
    assert empty_values(body) == []


def test_an_update_on_a_target_of_another_type_is_left_out(catalogue: CardCatalogue) -> None:
    rec = Recommendation(
        topic="stat-imaging",
        indicator="critical",
        suggestions=(
            SuggestedAction("mri-lumbar-make-stat", target="MedicationRequest/dalf-draft"),
        ),
        facts={"order": "MRI lumbar spine"},
    )
    assert _render_one(rec, catalogue).suggestions is None


def test_a_missing_declared_fact_raises(catalogue: CardCatalogue) -> None:
    rec = Recommendation(topic="orthosis", indicator="warning", facts={})
    with pytest.raises(RenderError, match="side"):
        _render_one(rec, catalogue)


def test_a_missing_fact_of_a_flagged_paragraph_raises(catalogue: CardCatalogue) -> None:
    rec = Recommendation(
        topic="dalfampridine-contraindicated",
        indicator="critical",
        facts={
            "contraindication": "eGFR 42 mL/min/1.73 m²",
            "reason": "eGFR 42 mL/min/1.73 m², no CrCl on record",
            "crcl_limit": "50 mL/min or less",
        },
        flags=frozenset({"probable_contraindication"}),
    )
    with pytest.raises(RenderError, match=r"\['missing_inputs'\]"):
        _render_one(rec, catalogue)


@pytest.mark.parametrize(
    "rec",
    [
        Recommendation(topic="no-such-topic", indicator="info"),
        Recommendation(
            topic="duplicate-order",
            indicator="info",
            facts={"order": "x", "existing_order": "y"},
            suggestions=(SuggestedAction("nope"),),
        ),
        Recommendation(
            topic="duplicate-order",
            indicator="info",
            facts={"order": "x", "existing_order": "y"},
            notes=("nope",),
        ),
    ],
)
def test_rules_asking_for_undefined_content_raise(
    catalogue: CardCatalogue, rec: Recommendation
) -> None:
    with pytest.raises(RenderError, match=r"nope|no-such-topic"):
        _render_one(rec, catalogue)


def test_rules_choice_of_recommended_replaces_the_default(catalogue: CardCatalogue) -> None:
    rec = Recommendation(
        topic="orthosis",
        indicator="warning",
        suggestions=(
            SuggestedAction("orthotist-referral"),
            SuggestedAction("afo-prefabricated", recommended=True),
        ),
        facts={"side": "left", "foot_drop": "Left foot drop"},
    )
    suggestions = _render_one(rec, catalogue).suggestions or []
    assert [s.isRecommended for s in suggestions] == [None, True]


def test_cards_keep_the_rules_order_most_urgent_first_and_stable(
    catalogue: CardCatalogue,
) -> None:
    side = {"side": "left", "foot_drop": "Left foot drop"}
    recs = [
        Recommendation(topic="physical-therapy", indicator="info", facts=side),
        Recommendation(topic="orthosis", indicator="warning", facts=side),
        Recommendation(topic="spasticity-botulinum", indicator="info", facts=side),
        Recommendation(
            topic="red-flag-urgent-evaluation",
            indicator="critical",
            facts={"findings": "Retention of urine", "duration": "2 weeks"},
        ),
    ]
    cards = render(
        most_urgent_first(recs), patient(), catalogue, hook="patient-view", docs_url=DOCS_URL
    )
    topics = [card.source.topic.code for card in cards if card.source.topic]
    assert topics == [
        "red-flag-urgent-evaluation",
        "orthosis",
        "physical-therapy",
        "spasticity-botulinum",
    ]


def test_requester_and_encounter_only_when_known(catalogue: CardCatalogue) -> None:
    rec = Recommendation(
        topic="physical-therapy",
        indicator="warning",
        suggestions=(SuggestedAction("pt-referral"),),
        facts={"side": "right", "foot_drop": "Right foot drop"},
    )
    data = patient(encounter_id=None, user_id="Patient/p1")
    resource = ((_render_one(rec, catalogue, data).suggestions or [])[0].actions or [])[0].resource
    assert resource is not None
    assert "requester" not in resource and "encounter" not in resource
    _validate_r4(resource)


def _workup(possible_cause: str) -> Recommendation:
    """A work-up card whose summary names the central conditions on record (a fact list)."""
    return Recommendation(
        topic="localization-workup",
        indicator="info",
        facts={"side": "right side", "duration": "2 weeks", "possible_cause": possible_cause},
        flags=frozenset({"central_chronic_first"}),
    )


def test_a_long_list_keeps_whole_items_and_says_how_many_it_left_out(
    catalogue: CardCatalogue,
) -> None:
    """A fact list too long for the summary drops whole trailing items, never a word."""
    items = [
        "Multiple sclerosis (2012-01-01)",
        "Cerebral palsy (1970-05-02)",
        "Hereditary spastic paraplegia (2001-03-04)",
        "Myelopathy (2019-09-09)",
    ]
    card = _render_one(_workup("; ".join(items)), catalogue)
    assert card.summary == (
        "Foot drop (right side, 2 weeks) with Multiple sclerosis (2012-01-01) and 3 more:"
        " consider neurology review first"
    )
    assert len(card.summary) < 140 and "…" not in card.summary
    assert card.detail is not None and "; ".join(items) in card.detail


def test_a_fact_with_no_item_that_fits_reads_as_its_brief(catalogue: CardCatalogue) -> None:
    one_long_item = (
        "Relapsing-remitting multiple sclerosis with optic neuritis and a spinal cord lesion"
        " at T10, diagnosed by the regional neuro-immunology service (2012-01-01)"
    )
    card = _render_one(_workup(one_long_item), catalogue)
    assert card.summary == (
        "Foot drop (right side, 2 weeks) with a central condition on record:"
        " consider neurology review first"
    )
    assert card.detail is not None and one_long_item in card.detail


def test_a_list_that_fits_is_shown_whole(catalogue: CardCatalogue) -> None:
    card = _render_one(_workup("Multiple sclerosis; Cerebral palsy"), catalogue)
    assert card.summary == (
        "Foot drop (right side, 2 weeks) with Multiple sclerosis; Cerebral palsy:"
        " consider neurology review first"
    )


@pytest.mark.parametrize(
    ("value", "fitted_value"),
    [
        ("short enough", "short enough"),
        ("first item; second item; third item", "first item and 2 more"),
        ("first; second; third; fourth", "first; second and 2 more"),
        ("one single item far too long to fit", "see details"),
    ],
)
def test_fitting_keeps_whole_items(catalogue: CardCatalogue, value: str, fitted_value: str) -> None:
    content = catalogue.content.model_copy(
        update={
            "facts": {
                "findings": catalogue.content.facts["findings"].model_copy(
                    update={"max_length": 25, "example": "x"}
                )
            }
        }
    )
    assert fitted(value, "findings", content) == fitted_value
    assert len(fitted(value, "findings", content)) <= 25


def test_a_summary_starts_with_a_capital_unless_the_word_has_one_inside() -> None:
    assert sentence_start("left foot drop, no orthosis") == "Left foot drop, no orthosis"
    assert sentence_start("eGFR 42 mL/min/1.73 m²") == "eGFR 42 mL/min/1.73 m²"
    assert sentence_start("Dalfampridine") == "Dalfampridine"


def test_record_ids_never_reach_the_text(catalogue: CardCatalogue) -> None:
    """Rules that still name records as `Display (Type/id, date)` lose the ids in text."""
    rec = Recommendation(
        topic="dalfampridine-contraindicated",
        indicator="critical",
        evidence=(Evidence("Condition", "cond-e-ep", "Epilepsy", "2001-05-01"),),
        facts={
            "contraindication": "seizure history: Epilepsy (Condition/cond-e-ep, 2001-05-01)",
            "reason": "seizure history recorded",
            "crcl_limit": "50 mL/min or less",
        },
        suggestions=(SuggestedAction("remove-dalfampridine"),),
        about_order="MedicationRequest/dalf-draft",
    )
    card = _render_one(rec, catalogue, hook="order-sign")
    assert card.summary == (
        "Dalfampridine being signed is contraindicated: seizure history recorded — remove the draft"
    )
    assert "seizure history: Epilepsy (2001-05-01)" in (card.detail or "")
    assert "cond-e-ep" not in (card.detail or "") and "dalf-draft" not in (card.detail or "")
    assert card.extension == {
        BASIS_EXTENSION: ["Condition/cond-e-ep", "MedicationRequest/dalf-draft"]
    }


def test_each_record_is_listed_once(catalogue: CardCatalogue) -> None:
    foot_drop = Evidence("Condition", "fd1", "Foot drop, left foot", "2026-10-01")
    rec = Recommendation(
        topic="orthosis",
        indicator="warning",
        facts={"side": "left side", "foot_drop": "Left foot drop"},
        evidence=(foot_drop, foot_drop, replace(foot_drop, display="Foot drop")),
    )
    detail = _render_one(rec, catalogue).detail or ""
    assert detail.count("Foot drop") == 1
    assert _render_one(rec, catalogue).extension == {BASIS_EXTENSION: ["Condition/fd1"]}


def test_units_read_as_a_clinician_writes_them(catalogue: CardCatalogue) -> None:
    rec = Recommendation(
        topic="dalfampridine-dose",
        indicator="warning",
        facts={"dose_problem": "2 {tbl} per dose, every 12 h"},
        evidence=(Evidence("Observation", "w1", "Body mass index", "2026-11-01", "31.2 kg/m2"),),
    )
    detail = _render_one(rec, catalogue).detail or ""
    assert "Found in the draft: 2 tablets per dose, every 12 hours." in detail
    assert "Body mass index: 31.2 kg/m² (2026-11-01)" in detail


def test_an_unknown_ucum_annotation_loses_its_braces(catalogue: CardCatalogue) -> None:
    assert catalogue.units.humanise("72 {beats}/min") == "72 beats/min"
    assert catalogue.units.humanise("1 {tbl} twice daily") == "1 tablet twice daily"


def test_only_the_references_of_the_shown_paragraphs_are_cited(catalogue: CardCatalogue) -> None:
    """A peroneal patient's orthosis card (no FES, no spinal cause) cites neither the stroke
    and FES guidance nor the disc-herniation summary [4] (issue 9)."""

    def cited(rec: Recommendation) -> list[str]:
        why = (_render_one(rec, catalogue).detail or "").split("### Why this card")[1]
        return re.findall(r"^- \[([^\]]+)\]", why, flags=re.MULTILINE)

    rec = Recommendation(
        topic="orthosis",
        indicator="warning",
        facts={"side": "right side", "foot_drop": "Right foot drop"},
        flags=frozenset({"fes_needs_intact_nerve"}),
    )
    assert cited(rec) == ["1"]
    disc = replace(rec, flags=frozenset({"fes_needs_intact_nerve", "disc_cause_possible"}))
    assert cited(disc) == ["1", "4"]
    with_fes = replace(rec, flags=frozenset({"fes_offered"}))
    assert cited(with_fes) == ["1", "NICE-IPG278", "AHA-ASA-2016"]


@pytest.mark.parametrize(
    ("hook", "summary"),
    [
        ("order-select", "Lumbar fusion selected with disc herniation"),
        ("order-sign", "Lumbar fusion being signed with disc herniation"),
    ],
)
def test_the_summary_follows_the_hook(catalogue: CardCatalogue, hook: str, summary: str) -> None:
    rec = Recommendation(topic="fusion-not-indicated", indicator="info", facts={"order": "Fusion"})
    assert _render_one(rec, catalogue, hook=hook).summary.startswith(summary)


def test_the_warning_tier_leads_with_a_check_today(catalogue: CardCatalogue) -> None:
    rec = Recommendation(
        topic="red-flag-urgent-evaluation",
        indicator="warning",
        facts={"findings": "Retention of urine (2026-09-01)", "duration": "10 days"},
    )
    card = _render_one(rec, catalogue)
    assert card.summary.endswith("check today for cauda equina symptoms")
    assert (card.detail or "").startswith("**Examine today** for progression")
    progression = replace(rec, flags=frozenset({"progression_text_only"}))
    assert _render_one(progression, catalogue).summary == (
        "Possible progression of foot drop (from a note): check today"
    )


@pytest.mark.parametrize(
    ("rec", "hook", "message"),
    [
        (Recommendation(topic="orthosis", indicator="critical", facts={"side": "x"}), None, "as"),
        (
            Recommendation(topic="orthosis", indicator="warning", facts={"side": "x"}),
            "order-select",
            "hook",
        ),
        (
            Recommendation(
                topic="orthosis",
                indicator="warning",
                facts={"side": "x"},
                flags=frozenset({"fes_offered", "fes_needs_intact_nerve"}),
            ),
            None,
            "exclude",
        ),
    ],
)
def test_situations_the_template_does_not_word_raise(
    catalogue: CardCatalogue, rec: Recommendation, hook: str | None, message: str
) -> None:
    with pytest.raises(RenderError, match=message):
        _render_one(rec, catalogue, hook=hook)


def test_a_card_carries_only_known_extensions() -> None:
    card = {
        "uuid": "8f1c2b4e-5d6a-4b7c-8d9e-0f1a2b3c4d5e",
        "summary": "s",
        "indicator": "info",
        "source": {"label": "l"},
    }
    Card.model_validate({**card, "extension": {BASIS_EXTENSION: ["Condition/c1"]}})
    for extension in ({"org.example.other": ["Condition/c1"]}, {BASIS_EXTENSION: ["not a ref"]}):
        with pytest.raises(ValueError, match=r"extension|references"):
            Card.model_validate({**card, "extension": extension})


def test_patient_text_cannot_inject_markdown_or_html(catalogue: CardCatalogue) -> None:
    rec = Recommendation(
        topic="orthosis",
        indicator="warning",
        facts={"side": "<script>alert(1)</script> *left*", "foot_drop": "<b>Left</b> foot drop"},
        evidence=(Evidence("Condition", "c1", "[click](https://evil.example)"),),
    )
    detail = _render_one(rec, catalogue).detail or ""
    assert "<script>" not in detail and "[click](" not in detail
    assert r"\<script\>" in detail and r"\*left\*" in detail


def test_no_evidence_and_no_notes_are_said_not_left_empty(catalogue: CardCatalogue) -> None:
    rec = Recommendation(
        topic="fusion-not-indicated", indicator="info", facts={"order": "Lumbar fusion"}
    )
    body = _json(_render_one(rec, catalogue))
    assert catalogue.content.why.no_data in body["detail"]
    assert catalogue.content.why.missing not in body["detail"]
    assert "suggestions" not in body
    assert [r["code"] for r in body["overrideReasons"]][:3] == [
        "instability",
        "recurrent-herniation-axial-pain",
        "other-indication",
    ]


def test_without_a_target_the_card_order_is_acted_on(catalogue: CardCatalogue) -> None:
    rec = Recommendation(
        topic="dalfampridine-contraindicated",
        indicator="critical",
        suggestions=(SuggestedAction("remove-dalfampridine"),),
        facts={
            "contraindication": "epilepsy (Condition/c9)",
            "reason": "seizure history recorded",
            "crcl_limit": "50 mL/min or less",
        },
        about_order="MedicationRequest/dalf-draft",
    )
    action = ((_render_one(rec, catalogue).suggestions or [])[0].actions or [])[0]
    assert action.type == "delete" and action.resourceId == "MedicationRequest/dalf-draft"
    assert action.resource is None


def test_null_and_empty_values_of_a_draft_are_not_sent_back(catalogue: CardCatalogue) -> None:
    draft = {**MRI_DRAFT, "reasonCode": [], "occurrenceDateTime": None, "requisition": {}}
    rec = Recommendation(
        topic="stat-imaging",
        indicator="critical",
        suggestions=(SuggestedAction("mri-lumbar-make-stat", target="ServiceRequest/mri-draft"),),
        facts={"order": "MRI lumbar spine"},
    )
    card = _render_one(rec, catalogue, patient(drafts=(draft,)))
    resource = ((card.suggestions or [])[0].actions or [])[0].resource
    assert resource == {**MRI_DRAFT, "priority": "stat"}
    assert empty_values(_json(card)) == []


def test_record_names_lose_semantic_tags_and_codes(catalogue: CardCatalogue) -> None:
    """v3 §1: no code-system notation where a clinician reads; words otherwise as recorded."""
    rec = Recommendation(
        topic="red-flag-urgent-evaluation",
        indicator="critical",
        evidence=(
            Evidence("Condition", "c-1", "Retention of urine (disorder)", "2026-11-22"),
            Evidence("Condition", "c-2", "Lumbar radiculopathy (L5) [M54.16]", "2026-11-01"),
        ),
        facts={
            "findings": "Retention of urine (disorder) (2026-11-22)",
            "duration": "3 weeks",
            "recorded_ago": "recorded 2 days ago",
        },
        flags=frozenset({"lead_urinary_retention"}),
    )
    card = _render_one(rec, catalogue)
    detail = card.detail or ""
    assert "- Retention of urine (2026-11-22)" in detail
    assert "- Lumbar radiculopathy (L5) (2026-11-01)" in detail
    assert "red-flag finding (Retention of urine (2026-11-22))" in detail
    assert "(disorder)" not in detail and "M54.16" not in detail


def test_a_record_without_a_name_is_listed_by_its_kind(catalogue: CardCatalogue) -> None:
    rec = Recommendation(
        topic="orthosis",
        indicator="warning",
        facts={"side": "left side", "foot_drop": "Left foot drop"},
        evidence=(Evidence("Observation", "o-1", " ", "2026-11-20", "4 {score}"),),
    )
    assert "- Observation: MRC grade 4 (2026-11-20)" in (_render_one(rec, catalogue).detail or "")


@pytest.mark.parametrize(
    ("flags", "action", "cited"),
    [
        (frozenset(), "impairs gait [1]; a prefabricated", ["1"]),
        (frozenset({"spinal_cause_possible"}), "impairs gait [1, 4]; a prefabricated", ["1", "4"]),
    ],
)
def test_a_reference_is_cited_only_with_its_flag(
    catalogue: CardCatalogue, flags: frozenset[str], action: str, cited: list[str]
) -> None:
    """`cite_when`: the disc-herniation summary [4] behind the orthosis advice only when a
    spinal cause is possible (issue 9: not on a peroneal patient's card)."""
    template = catalogue.templates["orthosis"].model_copy(
        update={"cite_when": {"4": "spinal_cause_possible"}}
    )
    only_4_when = replace(catalogue, templates={**catalogue.templates, "orthosis": template})
    rec = Recommendation(
        topic="orthosis",
        indicator="warning",
        facts={"side": "left side", "foot_drop": "Left foot drop"},
        flags=flags,
    )
    detail = _render_one(rec, only_4_when).detail or ""
    assert action in detail
    assert re.findall(r"^- \[([^\]]+)\] \[", detail, flags=re.MULTILINE) == cited


def test_only_citing_drops_whole_groups_with_their_space() -> None:
    keep_1 = lambda ref: ref == "1"  # noqa: E731
    assert only_citing("gait [1, 4]; and [4]. Done [4, 1].", keep_1) == "gait [1]; and. Done [1]."


def test_every_card_and_suggestion_has_its_own_random_uuid(catalogue: CardCatalogue) -> None:
    """The uuids of one render come from one read of the random source: each is still a
    distinct version 4 (RFC 4122 variant) uuid, across cards and across calls."""
    recs = [
        full_recommendation(template, catalogue)
        for template in catalogue.templates.values()
        if "patient-view" in template.hooks
    ]
    ids = [
        value
        for _ in range(2)
        for card in render(recs, patient(), catalogue, hook="patient-view", docs_url=DOCS_URL)
        for value in [card.uuid, *(s.uuid for s in card.suggestions or ())]
    ]
    assert len(ids) > 2 * len(recs) and len(set(ids)) == len(ids)
    assert all(uuid.UUID(i).version == 4 and uuid.UUID(i).variant == uuid.RFC_4122 for i in ids)


def test_what_cards_share_cannot_be_changed(catalogue: CardCatalogue) -> None:
    """Cards share one source, topic, override reason and link object each, from the
    content: changing one is refused, so no card can change what another shows."""
    recs = [full_recommendation(catalogue.templates["orthosis"], catalogue)] * 2
    first, second = render(recs, patient(), catalogue, hook="patient-view", docs_url=DOCS_URL)
    assert first.overrideReasons and second.overrideReasons and first.links and second.links
    assert first.source.topic is not None
    shared = [
        (first.overrideReasons[0], second.overrideReasons[0], "code"),
        (first.source.topic, second.source.topic, "display"),
        (first.source, second.source, "label"),
        (first.links[0], second.links[0], "url"),
    ]
    for one, other, field in shared:
        assert one is other
        with pytest.raises(ValidationError):
            setattr(one, field, "changed")
