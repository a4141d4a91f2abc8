"""The dalfampridine cards say what the configured label says (clinical-logic v3 §1 wording
duties and source.label, §2 renal function (1)–(3) and dialysis_or_esrd, §4).

Each case runs the rules on a record and renders the card with the shipped content, then
reads it as a clinician would: the summary, the limits stated in the detail, the
references behind them and `source.label`, under the US label (the default) and the EU
label (CDS_CLINICAL__LABEL_JURISDICTION=EU). The limits come from the settings: a site
with other limits reads those, never the defaults (the wording cannot disagree with the
configuration).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from cards.catalogue import CardCatalogue
from cards.model import Card
from cards.render import render
from service.clinical.thresholds import ClinicalThresholds
from tests.support.clinical import (
    CPT,
    SCT,
    condition,
    crcl,
    creatinine,
    days_ago,
    egfr,
    foot_drop,
    medication_statement,
    patient_data,
    procedure,
    recommendations,
    weight,
)
from tests.support.drafts import dalfampridine, select

Json = dict[str, Any]
US = ClinicalThresholds()
EU = ClinicalThresholds(label_jurisdiction="EU")
CATALOGUE = CardCatalogue.load()
DOCS = "https://cds.example.org/docs/clinical"
FDA_SOURCE = "Foot-drop CDS, based on the FDA dalfampridine label"
EU_SOURCE = "Foot-drop CDS, based on the EU dalfampridine product information (Fampyra SmPC)"
FDA_REFERENCE = "[8] [Dalfampridine extended-release tablets, US prescribing information]"
EU_REFERENCE = "[Fampyra-SmPC] Fampyra summary of product characteristics (SmPC)"
WHY = "### Why this card"


def order_cards(
    *resources: Json, thresholds: ClinicalThresholds, hook: str = "order-select"
) -> list[Card]:
    order = dalfampridine(rid="dalf-draft")
    recs = select(*resources, order=order, thresholds=thresholds)
    data = patient_data(*resources, drafts=(order,))
    return render(recs, data, CATALOGUE, hook=hook, docs_url=DOCS)


def one(cards: list[Card], topic: str) -> Card:
    found = [c for c in cards if c.source.topic.code == topic]
    assert len(found) == 1, [c.source.topic.code for c in cards]
    return found[0]


def body(card: Card) -> str:
    """The detail before "Why this card": what the clinician reads first."""
    return (card.detail or "").split(WHY)[0]


def assert_reads_the_eu_label(card: Card) -> None:
    """The EU limits only, the SmPC cited and named as the source."""
    text = body(card)
    assert "50 mL/min or less" not in text and "51–80" not in text
    assert card.source.label == EU_SOURCE
    assert EU_REFERENCE in (card.detail or "")


def contraindicated(*resources: Json, thresholds: ClinicalThresholds) -> Card:
    return one(order_cards(*resources, thresholds=thresholds), "dalfampridine-contraindicated")


# ── dialysis or end-stage renal disease: definite, under either label ───────────────


@pytest.mark.parametrize(
    "dialysis",
    [
        condition("N18.6", onset="2019-01-01"),
        procedure("90935", CPT, performed=days_ago(7)),
    ],
    ids=["esrd", "hemodialysis"],
)
@pytest.mark.parametrize("thresholds", [US, EU], ids=["US", "EU"])
def test_dialysis_is_worded_as_a_definite_contraindication(
    dialysis: Json, thresholds: ClinicalThresholds
) -> None:
    card = contraindicated(dialysis, creatinine(0.7), weight(80), thresholds=thresholds)
    assert card.summary == (
        "Dalfampridine contraindicated: dialysis or end-stage renal disease recorded"
        " — remove the draft"
    )
    text = body(card)
    assert "This is a definite contraindication, not a probable one" in text
    assert (
        "creatinine-based estimates (serum creatinine, eGFR, Cockcroft-Gault) are invalid" in text
    )
    assert "probable" not in text.replace("not a probable one", "")
    assert "3b" not in text  # no CKD-stage wording of the probable case
    assert [s.label for s in card.suggestions or []] == ["Remove the dalfampridine draft order"]


# ── a probable renal contraindication states the configured limit ───────────────────


def test_us_egfr_42_is_probable_at_50_or_less() -> None:
    card = contraindicated(egfr(42), thresholds=US)
    assert card.summary == (
        "Dalfampridine probably contraindicated: eGFR 42 mL/min/1.73 m², no CrCl on record"
        " — remove the draft"
    )
    text = body(card)
    assert "This is a **probable** contraindication" in text
    assert "suggests it is 50 mL/min or less" in text
    assert "a creatinine clearance (CrCl) of 50 mL/min or less" in text
    assert "80 mL/min" not in text and "Fampyra" not in text
    assert card.source.label == FDA_SOURCE
    assert FDA_REFERENCE in (card.detail or "") and EU_REFERENCE not in (card.detail or "")


def test_eu_egfr_70_is_probable_below_80_and_names_the_smpc() -> None:
    assert "dalfampridine-contraindicated" not in [
        c.source.topic.code for c in order_cards(egfr(70), thresholds=US)
    ]
    card = contraindicated(egfr(70), thresholds=EU)
    assert card.summary.startswith("Dalfampridine probably contraindicated: eGFR 70 mL/min/1.73 m²")
    text = body(card)
    assert "suggests it is below 80 mL/min" in text
    assert "This site follows the EU label (Fampyra SmPC)" in text
    assert_reads_the_eu_label(card)


# ── EU contraindications the US label does not have ──────────────────────────────────


def test_eu_crcl_70_contraindicated_with_the_eu_limit_and_source() -> None:
    us = order_cards(crcl(70), thresholds=US)
    assert "dalfampridine-contraindicated" not in [c.source.topic.code for c in us]
    card = contraindicated(crcl(70), thresholds=EU)
    assert (
        card.summary
        == "Dalfampridine contraindicated: creatinine clearance 70 mL/min — remove the draft"
    )
    text = body(card)
    assert "creatinine clearance below 80 mL/min (EU label): 70.0 mL/min" in text
    assert "a creatinine clearance (CrCl) below 80 mL/min and a concurrent OCT2 inhibitor" in text
    assert "probable" not in text
    assert_reads_the_eu_label(card)


def test_eu_cimetidine_contraindicated_and_named() -> None:
    cimetidine = medication_statement("Cimetidine 400 mg tablet")
    assert order_cards(cimetidine, crcl(95), thresholds=US) == []
    card = contraindicated(cimetidine, crcl(95), thresholds=EU)
    assert card.summary == (
        "Dalfampridine contraindicated: a concurrent OCT2 inhibitor recorded (EU label)"
        " — remove the draft"
    )
    text = body(card)
    assert "Cimetidine 400 mg tablet" in text
    assert "below 80 mL/min" in text
    assert_reads_the_eu_label(card)


def test_us_seizure_card_keeps_the_fda_label_and_limit() -> None:
    card = contraindicated(condition("84757009", SCT, onset="2001-05-01"), crcl(95), thresholds=US)
    assert (
        card.summary == "Dalfampridine contraindicated: seizure history recorded — remove the draft"
    )
    assert "a creatinine clearance (CrCl) of 50 mL/min or less" in body(card)
    assert card.source.label == FDA_SOURCE


# ── every dalfampridine card names the configured label as its source ───────────────


@pytest.mark.parametrize(
    ("thresholds", "source", "limit"),
    [
        (US, FDA_SOURCE, "contraindicates it at 50 mL/min or less"),
        (EU, EU_SOURCE, "a CrCl below 80 mL/min contraindicates it"),
    ],
    ids=["US", "EU"],
)
def test_renal_function_needed_states_the_configured_limit(
    thresholds: ClinicalThresholds, source: str, limit: str
) -> None:
    card = one(order_cards(thresholds=thresholds), "renal-function-needed")
    assert card.summary.startswith("Dalfampridine selected without a usable creatinine clearance")
    assert limit in body(card)
    assert card.source.label == source


def test_the_dose_card_names_the_eu_product_information_under_eu() -> None:
    order = dalfampridine(rid="dalf-draft", dose=20)
    for thresholds, source in ((US, FDA_SOURCE), (EU, EU_SOURCE)):
        recs = select(crcl(95), order=order, thresholds=thresholds)
        data = patient_data(crcl(95), drafts=(order,))
        (card,) = render(recs, data, CATALOGUE, hook="order-select", docs_url=DOCS)
        assert card.source.topic.code == "dalfampridine-dose"
        assert card.source.label == source


# ── the limits come from the settings, never from the wording ─────────────────────────


def test_a_site_with_other_limits_reads_its_own_numbers() -> None:
    us_45 = ClinicalThresholds(
        crcl_contraindication=Decimal(45),
        crcl_borderline_upper=Decimal(55),
        crcl_caution_upper=Decimal(75),
    )
    card = contraindicated(egfr(44), thresholds=us_45)
    assert "suggests it is 45 mL/min or less" in body(card)
    assert "of 45 mL/min or less" in body(card) and "50 mL/min" not in body(card)
    borderline = one(order_cards(crcl(52), thresholds=us_45), "renal-function-needed")
    assert "borderline (45–55 mL/min)" in body(borderline)
    eu_85 = ClinicalThresholds(label_jurisdiction="EU", crcl_eu_contraindication_below=Decimal(85))
    card = contraindicated(crcl(82), thresholds=eu_85)
    assert "below 85 mL/min" in body(card) and "80 mL/min" not in body(card)


# ── patient-view: the MS dalfampridine card ───────────────────────────────────────────

MS = condition("G35.A", onset="2012-01-01")
FD = foot_drop(onset=days_ago(200))


def ms_card(*resources: Json, thresholds: ClinicalThresholds) -> Card:
    recs = [
        r
        for r in recommendations(FD, MS, *resources, thresholds=thresholds)
        if r.topic == "ms-dalfampridine"
    ]
    assert len(recs) == 1
    data = patient_data(FD, MS, *resources)
    (card,) = render(recs, data, CATALOGUE, hook="patient-view", docs_url=DOCS)
    return card


def test_ms_card_us_caution_band_from_the_settings() -> None:
    card = ms_card(crcl(70), thresholds=US)
    text = body(card)
    assert "With CrCl 51–80 mL/min, exposure may approach that of 15 mg twice daily" in text
    assert "No seizure history, CrCl of 50 mL/min or less" in text
    assert card.source.label == FDA_SOURCE
    wider = ClinicalThresholds(crcl_caution_upper=Decimal(90))
    assert "With CrCl 51–90 mL/min" in body(ms_card(crcl(85), thresholds=wider))


def test_ms_card_eu_states_the_eu_label() -> None:
    card = ms_card(crcl(95), thresholds=EU)
    text = body(card)
    assert "No seizure history, CrCl below 80 mL/min, OCT2 inhibitor such as cimetidine" in text
    assert_reads_the_eu_label(card)
