"""Clinical thresholds the specification calls settings, with its defaults.

clinical-logic v3 §1–§3 and safety-review A1, A2, A6, A8, A10–A13. The service
settings embed this model; features and rules receive it as an argument and never
look it up globally. Values marked "choice" are not in the specification; the
reason is given beside each.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ClinicalThresholds(BaseModel):
    """Durations in the unit their name ends with; renal values in mL/min and mg/dL."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    adult_age_years: int = Field(default=18, ge=18)
    """Population: no foot-drop card below this age (§1). Never lowered: C-G and
    dalfampridine are adult-only."""

    acute_weeks: int = Field(default=6, ge=1)
    """Acute/subacute below this; established from it (§1 Time)."""

    long_standing_months: int = Field(default=12, ge=6)
    """Long-standing from this (§1 Time)."""

    first_line_warning_months: int = Field(default=6, ge=1)
    """Orthosis and PT cards are warnings below this, info after (A10)."""

    red_flag_finding_days: int = Field(default=14, ge=1)
    """A sphincter or saddle finding is "new" within this many days (A1)."""

    cauda_equina_days: int = Field(default=30, ge=1)
    """A cauda equina Condition is recent within this many days (A1)."""

    progression_text_days: int = Field(default=14, ge=1)
    """Note text about progression counts within this many days (§2, A2)."""

    strength_latest_days: int = Field(default=7, ge=1)
    """The latest dorsiflexion strength must be this recent (§2, A2)."""

    strength_window_days: int = Field(default=30, ge=1)
    """The strength series is compared over this many days (§2, A2)."""

    central_event_before_months: int = Field(default=6, ge=0)
    central_event_after_days: int = Field(default=14, ge=0)
    """An acute central event (stroke, spinal cord injury) explains the foot drop when its
    onset falls from this many months before to this many days after the foot drop's
    onset, never later (v3 §2 central_cause)."""

    central_chronic_months: int = Field(default=6, ge=1)
    """A chronic central disease (MS, cerebral palsy, hereditary spastic paraplegia,
    myelopathy) explains a foot drop whose onset is unknown, approximate or at least this
    many months ago (v3 §2 central_cause)."""

    renal_lookback_months: int = Field(default=12, ge=1)
    """CrCl, creatinine, eGFR and weight count within this many months (§2, label: yearly)."""

    creatinine_stability_days: int = Field(default=7, ge=1)
    creatinine_rise_mg_dl: Decimal = Decimal("0.3")
    creatinine_rise_ratio: Decimal = Decimal("1.5")
    """A rise of either size within the stability window makes CrCl unreliable (A8)."""

    aki_lookback_days: int = Field(default=90, ge=1)
    """Choice: an active acute kidney injury Condition dated within this many days (or
    undated) makes creatinine unreliable (codes.md Additions: N17 → unreliable)."""

    label_jurisdiction: Literal["US", "EU"] = "US"
    """Whose dalfampridine label applies (clinical-logic v3 §2 (3)): `US` (FDA label: CrCl
    ≤ 50 contraindicated, 51–80 caution) or `EU` (EU and UK, Fampyra SmPC: CrCl < 80 and
    a concurrent OCT2 inhibitor such as cimetidine are contraindications)."""

    crcl_contraindication: Decimal = Decimal(50)
    """CrCl at or below this contraindicates dalfampridine (label; compared unrounded)."""

    crcl_eu_contraindication_below: Decimal = Decimal(80)
    """EU label: CrCl below this contraindicates dalfampridine (Fampyra SmPC)."""

    dialysis_recent_days: int = Field(default=90, ge=1)
    """Dialysis care and pre/post-dialysis weights mean dialysis within this many days
    (§2 dialysis_or_esrd)."""

    crcl_borderline_upper: Decimal = Decimal(60)
    """Above the contraindication and at or below this is borderline (A8)."""

    crcl_caution_upper: Decimal = Decimal(80)
    """Above the contraindication and at or below this carries the label's caution (A7)."""

    obesity_bmi: Decimal = Decimal(30)
    """From this BMI, C-G is also computed with adjusted body weight (A8)."""

    recent_disc_months: int = Field(default=12, ge=1)
    """A disc herniation is recent when dated within this many months (§2)."""

    disc_surgery_min_weeks: int = Field(default=4, ge=1)
    disc_surgery_max_months: int = Field(default=12, ge=1)
    """Foot-drop duration window of the disc-surgery card (§3, A12)."""

    peroneal_decompression_max_months: int = Field(default=12, ge=1)
    """The peroneal-decompression card needs an onset within this many months (A11)."""

    nerve_trauma_months: int = Field(default=12, ge=1)
    """A nerve injury within this many months asks for early nerve surgery (A11)."""

    palliative_min_months: int = Field(default=12, ge=6)
    """Palliative surgery from this foot-drop duration; never below 6 months (A6)."""

    botulinum_months: int = Field(default=6, ge=1)
    """Botulinum toxin within this many months silences the spasticity card (A13)."""

    @property
    def eu_label(self) -> bool:
        return self.label_jurisdiction == "EU"

    def crcl_contraindicates(self, value: Decimal) -> bool:
        """A CrCl (or eGFR standing in for it) the label contraindicates, unrounded."""
        if self.eu_label:
            return value < self.crcl_eu_contraindication_below
        return value <= self.crcl_contraindication

    @property
    def crcl_range(self) -> str:
        """The contraindicating range of the configured label: "50 mL/min or less" (US),
        "below 80 mL/min" (EU)."""
        if self.eu_label:
            return f"below {self.crcl_eu_contraindication_below} mL/min"
        return f"{self.crcl_contraindication} mL/min or less"

    @property
    def crcl_limit(self) -> str:
        """The contraindicating range as a card names it ("creatinine clearance <limit>")."""
        if self.eu_label:
            return f"{self.crcl_range} (EU label)"
        return f"of {self.crcl_range}"
