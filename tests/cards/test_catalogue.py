"""The shipped content loads, matches the rules' contract, and bad content fails at load."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from cards.catalogue import (
    CardCatalogue,
    ContentError,
    Situation,
    code_notation,
    resource_references,
)

CONTENT = Path(__file__).resolve().parents[2] / "cards"

#: Topic codes and suggestion ids the rules emit (the rules/cards contract).
CONTRACT = {
    "red-flag-urgent-evaluation": {
        "mri-lumbar-stat",
        "mri-lumbar-make-stat",
        "mri-lumbar-urgent",
        "mri-lumbar-make-urgent",
        "spine-surgery-referral-stat",
        "spine-surgery-referral-make-stat",
        "neurology-referral-urgent",
    },
    "orthosis": {"orthotist-referral", "afo-prefabricated", "fes"},
    "physical-therapy": {"pt-referral"},
    "localization-workup": {
        "ncs-emg",
        "mri-lumbar",
        "mri-plexus",
        "nerve-imaging",
        "neurology-referral",
    },
    "peroneal-decompression": {"nerve-surgery-referral"},
    "nerve-injury-referral": {"nerve-surgery-referral"},
    "disc-surgery-referral": {"spine-surgery-referral"},
    "palliative-surgery": {"foot-ankle-surgery-referral"},
    "spasticity-botulinum": {"botulinum-evaluation-referral"},
    "ms-dalfampridine": {"dalfampridine-er-10mg", "serum-creatinine", "body-weight"},
    "add-physical-therapy": {"pt-referral"},
    "fusion-not-indicated": set(),
    "premature-palliative-surgery": {"orthotist-referral", "pt-referral"},
    "dalfampridine-contraindicated": {
        "remove-dalfampridine",
        "serum-creatinine",
        "body-weight",
        "measured-crcl",
    },
    "dalfampridine-dose": {"dalfampridine-correct-dose"},
    "renal-function-needed": {"serum-creatinine", "body-weight"},
    "localize-before-decompression": {"ncs-emg"},
    "stat-imaging": {"mri-lumbar-make-stat"},
    "stat-referral": {"referral-make-stat"},
    "seizure-history-verify": set(),
    "record-incomplete": set(),
    "duplicate-order": set(),
}
#: Topics whose override reasons the clinical logic lists (clinical-logic §3, §4).
OVERRIDE_TOPICS = {
    "orthosis",
    "physical-therapy",
    "fusion-not-indicated",
    "premature-palliative-surgery",
    "dalfampridine-contraindicated",  # v3 §2: febrile/neonatal seizure only
}


def test_every_topic_of_the_contract_has_exactly_its_suggestions(catalogue: CardCatalogue) -> None:
    found = {
        topic: {suggestion.id for suggestion in template.suggestions}
        for topic, template in catalogue.templates.items()
    }
    assert found == CONTRACT


def test_summaries_are_single_sentences_without_ids_or_codes(catalogue: CardCatalogue) -> None:
    for template in catalogue.templates.values():
        for variant in template.summary:
            assert "\n" not in variant.text and not re.search(r"[.!?]\s", variant.text)
            assert not resource_references(variant.text) and not code_notation(variant.text)
        assert not template.summary[-1].conditional, "the last summary is the default"


def test_order_checks_say_being_signed_at_order_sign(catalogue: CardCatalogue) -> None:
    """clinical-logic v3 §1: at order-sign the wording says the order is being signed."""
    for template in catalogue.templates.values():
        if "order-sign" not in template.hooks:
            continue
        for variant in template.summary:
            text = variant.text
            if "selected" in text:
                assert "order-sign" not in variant.hooks, (template.topic, text)
            if "being signed" in text:
                assert variant.hooks == ("order-sign",), (template.topic, text)
        signing = [v for v in template.summary if "order-sign" in v.hooks]
        assert all("being signed" in v.text for v in signing)


def test_contraindication_summaries_say_contraindicated(catalogue: CardCatalogue) -> None:
    for variant in catalogue.templates["dalfampridine-contraindicated"].summary:
        assert "contraindicated" in variant.text and "remove the draft" in variant.text


def test_red_flag_warning_tier_reads_differently(catalogue: CardCatalogue) -> None:
    """v3 §3: the warning tier has its own summary and detail lead, "check today"."""
    template = catalogue.templates["red-flag-urgent-evaluation"]
    warning = [v for v in template.summary if v.indicators == ("warning",)]
    assert warning and all("check today" in v.text for v in warning)
    leads = {b.indicators: b.text for b in template.detail if b.action}
    assert leads[("warning",)].startswith("**Examine today** for progression")
    assert leads[("critical",)].startswith("**Arrange same-day emergency assessment.**")


def test_override_reasons_only_where_the_logic_lists_them(catalogue: CardCatalogue) -> None:
    with_reasons = {t.topic for t in catalogue.templates.values() if t.override_reasons}
    assert with_reasons == OVERRIDE_TOPICS


def test_a_conditional_override_reason_is_offered_only_with_its_flag(
    catalogue: CardCatalogue,
) -> None:
    """clinical-logic v3 §2: the febrile/neonatal override reason belongs to a seizure
    contraindication that rests on febrile, neonatal or provoked seizures only."""
    template = catalogue.templates["dalfampridine-contraindicated"]
    code = "febrile-neonatal-seizure-only"

    def offered(flags: set[str]) -> list[str]:
        situation = Situation(frozenset(flags), "order-select", "critical")
        return [c for _, c, _ in catalogue.override_reasons(template, situation)]

    assert code in offered({"seizure_febrile_neonatal_only"})
    assert code not in offered(set())
    assert code not in offered({"probable_contraindication"})
    assert catalogue.reason_meaning(catalogue.content.override_reason_system, code) is not None


def test_orthotist_referral_is_the_recommended_orthosis(catalogue: CardCatalogue) -> None:
    orthosis = catalogue.templates["orthosis"]
    assert [s.id for s in orthosis.suggestions if s.recommended] == ["orthotist-referral"]


def test_delete_actions_only_where_the_logic_asks_for_them(catalogue: CardCatalogue) -> None:
    """fusion-not-indicated and premature-palliative-surgery: "no delete action"."""
    deleting = {
        template.topic
        for template in catalogue.templates.values()
        for suggestion in template.suggestions
        for action in suggestion.actions
        if action.type == "delete"
    }
    assert deleting == {"dalfampridine-contraindicated"}


def test_source_label_names_what_the_card_draws_on(catalogue: CardCatalogue) -> None:
    """v3 §1: the guideline summary for foot-drop cards, the FDA label for dalfampridine cards,
    the EU product information for them where the site follows the EU label (v3 §2 (3))."""
    sources = catalogue.content.sources
    assert "foot-drop guideline summary" in sources["guideline-summary"].label
    assert "FDA dalfampridine label" in sources["dalfampridine-label"].label
    eu = sources["dalfampridine-label"].variants
    assert [(v.when, v.label) for v in eu] == [
        (
            ("label_eu",),
            "Foot-drop CDS, based on the EU dalfampridine product information (Fampyra SmPC)",
        )
    ]
    for source in sources.values():
        for label in source.labels():
            assert "Foot-drop CDS" in label
            assert "clinical practice guideline" not in label.lower()
    for topic, template in catalogue.templates.items():
        expected = "dalfampridine-label" if "dalfampridine" in topic else "guideline-summary"
        if topic in ("renal-function-needed", "seizure-history-verify", "record-incomplete"):
            expected = "dalfampridine-label"
        assert template.source == expected, topic


def test_disclaimer_and_topic_system(catalogue: CardCatalogue) -> None:
    assert (
        catalogue.content.disclaimer == "Decision support for licensed clinicians; not a diagnosis."
    )
    assert catalogue.content.topic_system == "urn:footdrop-cds:card-topic"
    assert catalogue.content.override_reason_system == "urn:footdrop-cds:override-reason"


def test_references_one_to_six_and_the_dailymed_label(catalogue: CardCatalogue) -> None:
    refs = catalogue.content.references
    assert {"1", "2", "3", "4", "5", "6", "8"} <= set(refs)
    assert "setid=688eb479-debc-4cfc-a74d-14828c347049" in refs["8"].url


def test_orders_carry_only_verified_codes(catalogue: CardCatalogue) -> None:
    """codes.md: only rows of confidence V or V-ICD may be put on an order."""
    for order in catalogue.orders.values():
        verified = {(s.system, s.code) for s in order.sources if s.confidence in ("V", "V-ICD")}
        text = json.dumps(order.resource)
        for system, code in re.findall(r'"system": "([^"]+)", "code": "([^"]+)"', text):
            if system != "http://unitsofmeasure.org":
                assert (system, code) in verified, (order.title, code)


def test_dalfampridine_order_caps_the_daily_dose(catalogue: CardCatalogue) -> None:
    dosage = catalogue.orders["dalfampridine-er-10mg"].resource["dosageInstruction"][0]
    assert dosage["maxDosePerPeriod"]["numerator"]["value"] == 20
    assert dosage["maxDosePerPeriod"]["denominator"] == {
        "value": 24,
        "unit": "h",
        "system": "http://unitsofmeasure.org",
        "code": "h",
    }
    assert dosage["timing"]["repeat"] == {"frequency": 1, "period": 12, "periodUnit": "h"}
    assert "Swallow whole" in dosage["text"] and "Never double a missed dose" in dosage["text"]


# --- wording duties (clinical-logic §1, safety-review A4, C6, F) -----------------------------


def _all_card_text(catalogue: CardCatalogue) -> str:
    texts = []
    for template in catalogue.templates.values():
        texts += template.texts()
        texts += [suggestion.label for suggestion in template.suggestions]
    return "\n".join(texts)


@pytest.mark.parametrize(
    "forbidden",
    [
        "4–24",
        "4-24",
        "within 24",
        "24 hours of",
        "minimal risk",
        "patient has",
        "no contraindication",
        "coverage",
        "covered",
        "medical necessity",
        "eligib",
        "clinical practice guideline",
    ],
)
def test_card_text_avoids_forbidden_wording(catalogue: CardCatalogue, forbidden: str) -> None:
    assert forbidden.lower() not in _all_card_text(catalogue).lower()


def test_red_flag_detail_leads_with_the_emergency_pathway(catalogue: CardCatalogue) -> None:
    detail = catalogue.templates["red-flag-urgent-evaluation"].detail
    assert detail[0].action and detail[0].indicators == ("critical",) and not detail[0].when
    assert "same-day emergency assessment" in detail[0].text
    assert "An electronic referral is not an emergency pathway" in detail[0].text
    assert any("CT myelography if MRI is contraindicated" in block.text for block in detail)
    withheld = [block for block in detail if block.when == ("critical_withheld_others",)]
    assert withheld and "resume after the urgent evaluation" in withheld[0].text


def test_dalfampridine_is_not_called_a_foot_drop_treatment(catalogue: CardCatalogue) -> None:
    texts = [block.text for block in catalogue.templates["ms-dalfampridine"].detail]
    assert any("does not treat foot drop or modify MS" in text for text in texts)


# --- bad content fails at load, naming the file ----------------------------------------------


@pytest.fixture
def content_copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(CONTENT, tmp_path / "cards", ignore=shutil.ignore_patterns("*.py")))


def _edit(path: Path, change: Callable[[str], str]) -> None:
    before = path.read_text()
    after = change(before)
    assert after != before, "the edit did not apply"
    path.write_text(after)


def test_the_copied_content_loads(content_copy: Path) -> None:
    assert CardCatalogue.load(content_copy).templates


ORTHOSIS_SUMMARY = 'text = "{foot_drop}, no orthosis on record'


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        (
            "templates/orthosis.toml",
            ORTHOSIS_SUMMARY,
            ORTHOSIS_SUMMARY + " or anywhere else in the chart that the service was able to read"
            " today, which is a lot of words",
            "characters with every fact at its max_length",
        ),
        ("templates/orthosis.toml", 'order = "fes"', 'order = "no-such-order"', "no-such-order"),
        ("templates/orthosis.toml", '\nselection_behavior = "at-most-one"', "", "selection"),
        (
            "templates/orthosis.toml",
            'label = "Prefab',
            'recommended = true\nlabel = "Prefab',
            "most",
        ),
        (
            "templates/orthosis.toml",
            "{foot_drop}, no orthosis",
            "{foot_drop} {stage}, no orthosis",
            "stage",
        ),
        ("templates/orthosis.toml", 'when = "insensate_feet"', 'when = "nope"', "nope"),
        ("templates/orthosis.toml", "first-line for", "first-line <b>for</b>", "HTML"),
        ("templates/orthosis.toml", "[1, 4]", "[1, 7]", "'7'"),
        (
            "templates/orthosis.toml",
            "first-line for",
            "Condition/fd-1 first-line for",
            "resource ids",
        ),
        ("templates/orthosis.toml", "on record: consider", "on record (M21.371): consider", "code"),
        (
            "templates/orthosis.toml",
            "no orthosis on record:",
            "no orthosis on record. So:",
            "sentence",
        ),
        ("templates/orthosis.toml", "[[summary]]\n", '[[summary]]\nwhen = "fes_offered"\n', "last"),
        ("templates/orthosis.toml", "action = true\n", "", "first paragraph must be an `action`"),
        (
            "templates/orthosis.toml",
            "check the skin under the orthosis daily.",
            "check the skin under the orthosis daily, " + "and again " * 20 + "tomorrow.",
            "words before 'Why this card'",
        ),
        ("templates/orthosis.toml", '"fes_needs_intact_nerve"]]', '"nope"]]', "exclusive group"),
        (
            "templates/red-flag-urgent-evaluation.toml",
            'indicators = ["critical", "warning"]',
            'indicators = ["critical"]',
            "not all among",
        ),
        ("templates/orthosis.toml", 'source = "guideline-summary"', 'source = "nope"', "source"),
        (
            "orders/fes.json",
            '"code": "E0770", "display"',
            '"code": "E0771", "display"',
            "no source",
        ),
        ("orders/fes.json", '"intent": "order"', '"intent": "order", "dose": 1', "R4"),
        ("orders/fes.json", '"intent": "order",', "", "R4"),
        ("orders/fes.json", '"intent": "order"', '"status": "active", "intent": "order"', "status"),
        ("content.toml", "foot-drop guideline summary", "clinical practice guideline", "guideline"),
        (
            "content.toml",
            '[facts.side]\nabout = "The side',
            '[facts.sides]\nabout = "The side',
            "side",
        ),
        (
            "content.toml",
            'example = "left side"',
            'example = "left side, or both, or neither"',
            "example",
        ),
        ("content.toml", '{ text = "MRC grade {value}" }', '{ text = "MRC grade" }', "value"),
        ("content.toml", 'when = "label_eu"', 'when = "label_europe"', "label_europe"),
        (
            "content.toml",
            '(Fampyra SmPC)"',
            '(Fampyra SmPC), a clinical practice guideline"',
            "guideline",
        ),
    ],
)
def test_bad_content_fails_at_load_naming_the_file(
    content_copy: Path, file: str, old: str, new: str, message: str
) -> None:
    _edit(content_copy / file, lambda text: text.replace(old, new, 1))
    with pytest.raises(ContentError) as error:
        CardCatalogue.load(content_copy)
    assert Path(file).name in str(error.value)
    assert message in str(error.value)


def test_an_order_no_template_uses_fails_at_load(content_copy: Path) -> None:
    shutil.copy(content_copy / "orders/fes.json", content_copy / "orders/unused.json")
    with pytest.raises(ContentError, match=r"unused\.json"):
        CardCatalogue.load(content_copy)
