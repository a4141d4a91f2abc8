"""Creatinine clearance for dalfampridine, in the order of clinical-logic §2 and A8.

    1. a creatinine-clearance Observation within 12 months        -> known
    2. Cockcroft-Gault from the latest serum creatinine (12 months),
       if stable (no rise >= 0.3 mg/dL or >= 1.5x within 7 days, no
       recent acute kidney injury), weight (12 months), age and sex -> known
    3. CKD stage 3b-5 or dialysis                                  -> probable_impaired
    4. eGFR <= 50 (per 1.73 m2)                                     -> probable_impaired
       eGFR > 50                                                    -> unknown (eGFR is not CrCl)
    5. an unstable creatinine                                       -> unreliable
    6. otherwise                                                    -> unknown

Cockcroft-Gault: (140 - age) x weight / (72 x creatinine mg/dL), x 0.85 for women;
unknown or other sex uses 0.85 and says so. With BMI >= 30 and a height, it is also
computed with adjusted body weight (ideal body weight, Devine, + 0.4 x excess; the
female formula when sex is not male) and the lower result is used. Comparisons use
the unrounded value; the text shows one decimal.

Choices where the spec is silent: the latest height of any date is used (adult
height is stable); measurements without a date or with an unknown unit are not
used (a guessed unit could hide a contraindication), nor a creatinine or weight of
0 or less (a data error); CKD stage 3 unspecified or 3a changes nothing (CrCl may
exceed 50); a CrCl per 1.73 m² is not accepted as CrCl.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from service.clinical.features.conditions import ConditionEntry, with_feature
from service.clinical.features.model import (
    Evidence,
    RenalAssessment,
    RenalMethod,
    RenalNote,
    RenalStatus,
    Sex,
)
from service.clinical.features.observations import Measurement, ObservationData
from service.clinical.features.records import months_before
from service.clinical.thresholds import ClinicalThresholds
from service.fhir.units import unit_key

_UMOL_PER_MG_DL = Decimal("88.4")
_KG_PER_LB = Decimal("0.45359237")
_CM_PER_IN = Decimal("2.54")

#: Factors to the unit the formula uses, keyed by `units.unit_key` (lower case, µ -> u,
#: no spaces, UCUM brackets kept). UCUM codes and the common free-text spellings.
_TO_MG_DL = {
    "mg/dl": Decimal(1),
    "umol/l": 1 / _UMOL_PER_MG_DL,
    "micromol/l": 1 / _UMOL_PER_MG_DL,
    "mmol/l": 1000 / _UMOL_PER_MG_DL,
    "mg/l": Decimal("0.1"),
}
_TO_KG = {
    "kg": Decimal(1),
    "g": Decimal("0.001"),
    **dict.fromkeys(("[lb_av]", "lb", "lbs", "pound", "pounds"), _KG_PER_LB),
}
_TO_CM = {
    "cm": Decimal(1),
    "m": Decimal(100),
    "mm": Decimal("0.1"),
    **dict.fromkeys(("[in_i]", "[in_us]", "in", "inch", "inches"), _CM_PER_IN),
}
_TO_ML_MIN = {"ml/min": Decimal(1), "ml/s": Decimal(60)}


def _converted(m: Measurement, table: dict[str, Decimal]) -> Decimal | None:
    if m.quantity is None:
        return None
    value, unit = m.quantity
    factor = table.get(unit_key(unit))
    return value * factor if factor is not None else None


def _egfr_value(m: Measurement) -> Decimal | None:
    """eGFR in mL/min/1.73 m²; per-second units converted, anything else refused."""
    if m.quantity is None:
        return None
    value, unit = m.quantity
    key = unit_key(unit)
    if key.startswith("ml/min"):
        return value
    if key.startswith("ml/s"):
        return value * 60
    return None


def _recent(
    measurements: Sequence[Measurement], table: dict[str, Decimal], since: date | None
) -> list[tuple[Measurement, Decimal]]:
    """Usable (measurement, converted value) pairs, newest first."""
    usable = [
        (m, v)
        for m in measurements
        if m.date is not None
        and (since is None or m.date >= since)
        and (v := _converted(m, table)) is not None
    ]
    return sorted(usable, key=lambda pair: pair[0].date or date.min, reverse=True)


def _positive(
    pairs: list[tuple[Measurement, Decimal]],
) -> list[tuple[Measurement, Decimal]]:
    """Only values above zero: a creatinine or weight of 0 or less is a data error, unusable."""
    return [(m, v) for m, v in pairs if v > 0]


def _unstable(series: Sequence[tuple[Measurement, Decimal]], t: ClinicalThresholds) -> bool:
    """Any rise of >= 0.3 mg/dL or >= 1.5x within the 7 days up to the latest value."""
    latest_day = series[0][0].date or date.min
    window = [
        (m.date or date.min, v)
        for m, v in series
        if m.date and m.date >= latest_day - timedelta(days=t.creatinine_stability_days)
    ]
    return any(
        later - earlier >= t.creatinine_rise_mg_dl or later >= earlier * t.creatinine_rise_ratio
        for day_a, earlier in window
        for day_b, later in window
        if day_a <= day_b and (day_a, earlier) != (day_b, later)
    )


def _recent_aki(conditions: Sequence[ConditionEntry], today: date, t: ClinicalThresholds) -> bool:
    since = today - timedelta(days=t.aki_lookback_days)
    return any(
        e.onset.date is None or e.onset.date >= since
        for e in with_feature(conditions, "acute_kidney_injury")
    )


def _fmt(value: Decimal) -> str:
    return f"{value:.1f}"


def _cockcroft_gault(
    age: int, weight_kg: Decimal, creatinine: Decimal, factor: Decimal
) -> tuple[Decimal, str]:
    crcl = (140 - age) * weight_kg * factor / (72 * creatinine)
    text = (
        f"(140 − {age} y) × {_fmt(weight_kg)} kg"
        + (f" × {factor}" if factor != 1 else "")
        + f" / (72 × {creatinine:.2f} mg/dL) = {_fmt(crcl)} mL/min"
    )
    return crcl, text


@dataclass
class RenalAssessor:
    """One assessment; collects evidence and notes as it goes down the order (`assess`)."""

    obs: ObservationData
    conditions: Sequence[ConditionEntry]
    patient: Evidence | None
    age: int | None
    sex: Sex
    today: date
    t: ClinicalThresholds
    evidence: list[Evidence] = field(default_factory=list)
    notes: list[RenalNote] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def since(self) -> date:
        return months_before(self.today, self.t.renal_lookback_months)

    def result(
        self,
        status: RenalStatus,
        method: RenalMethod,
        value: Decimal | None = None,
        computation: str = "",
        contraindicated: bool = False,
    ) -> RenalAssessment:
        above = value is not None and status == "known" and value > self.t.crcl_contraindication
        return RenalAssessment(
            status=status,
            method=method,
            value=value,
            computation=computation,
            notes=tuple(dict.fromkeys(self.notes)),
            evidence=tuple(dict.fromkeys(self.evidence)),
            missing_inputs=tuple(dict.fromkeys(self.missing)),
            contraindicated=contraindicated,
            borderline=above and value is not None and value <= self.t.crcl_borderline_upper,
            mild=above and value is not None and value <= self.t.crcl_caution_upper,
        )

    def known(self, value: Decimal, method: RenalMethod, computation: str) -> RenalAssessment:
        """A CrCl value; at or below the limit (unrounded) is a contraindication."""
        return self.result(
            "known", method, value, computation, value <= self.t.crcl_contraindication
        )

    def assess(self) -> RenalAssessment:
        measured = _recent(self.obs.of("creatinine_clearance"), _TO_ML_MIN, self.since)
        if measured:
            m, value = measured[0]
            self.evidence.append(m.evidence)
            return self.known(
                value, "crcl_observation", f"Creatinine clearance {_fmt(value)} mL/min"
            )
        estimate = self.cockcroft_gault()
        if isinstance(estimate, RenalAssessment):
            return estimate
        unreliable = estimate
        ckd = with_feature(self.conditions, "renal_probable_impairment")
        if ckd:
            self.evidence.extend(e.finding("renal_probable_impairment").evidence for e in ckd)
            return self.result(
                status="probable_impaired",
                method="ckd_stage",
                computation=f"{ckd[0].display}: creatinine clearance probably ≤ 50 mL/min",
                contraindicated=True,
            )
        egfr = [
            (m, v)
            for m in self.obs.of("egfr")
            if m.date and m.date >= self.since and (v := _egfr_value(m)) is not None
        ]
        if egfr:
            m, value = max(egfr, key=lambda pair: pair[0].date or date.min)
            self.evidence.append(m.evidence)
            self.notes.append("egfr_in_place_of_crcl")
            text = f"eGFR {_fmt(value)} mL/min/1.73 m² (not creatinine clearance)"
            if value <= self.t.crcl_contraindication:
                return self.result(
                    status="probable_impaired",
                    method="egfr",
                    value=value,
                    computation=text,
                    contraindicated=True,
                )
            return self.result(
                status="unreliable" if unreliable else "unknown",
                method="egfr",
                value=value,
                computation=text,
            )
        return self.result(status="unreliable" if unreliable else "unknown", method="none")

    def cockcroft_gault(self) -> RenalAssessment | bool:
        """The C-G assessment, or whether the creatinine was unreliable when none is possible."""
        creatinine = _positive(_recent(self.obs.of("serum_creatinine"), _TO_MG_DL, self.since))
        weights = _positive(_recent(self.obs.of("body_weight"), _TO_KG, self.since))
        if not weights:
            self.notes.append("weight_missing")
            self.missing.append("body weight (last 12 months)")
        if not creatinine:
            self.missing.append("serum creatinine (last 12 months)")
            return False
        scr_m, scr = creatinine[0]
        self.evidence.append(scr_m.evidence)
        if _unstable(creatinine, self.t) or _recent_aki(self.conditions, self.today, self.t):
            self.notes.append("crcl_unreliable")
            self.missing.append("a stable serum creatinine")
            return True
        if self.age is None:
            self.missing.append("age (birth date)")
        if not weights or self.age is None:
            return False
        weight_m, weight = weights[0]
        self.evidence.append(weight_m.evidence)
        if self.patient is not None:
            self.evidence.append(self.patient)
        factor = Decimal("0.85") if self.sex != "male" else Decimal(1)
        if self.sex == "unknown":
            self.notes.append("sex_unknown_female_factor")
        crcl, text = _cockcroft_gault(self.age, weight, scr, factor)
        text = f"Cockcroft-Gault: {text}"
        adjusted = self.adjusted(weight, scr, factor)
        if adjusted is not None:
            adj_crcl, adj_text = adjusted
            self.notes.append("adjusted_body_weight_used")
            text += f"; {adj_text}"
            if adj_crcl < crcl:
                crcl = adj_crcl
            text += f"; the lower, {_fmt(crcl)} mL/min, is used"
        return self.known(crcl, "cockcroft_gault", text)

    def adjusted(
        self, weight: Decimal, creatinine: Decimal, factor: Decimal
    ) -> tuple[Decimal, str] | None:
        """C-G with adjusted body weight when BMI >= 30 and a height exists."""
        heights = _recent(self.obs.of("body_height"), _TO_CM, None)
        if not heights or self.age is None:
            return None
        height_m, height_cm = heights[0]
        if height_cm <= 0:
            return None
        bmi = weight / (height_cm / 100) ** 2
        if bmi < self.t.obesity_bmi:
            return None
        self.evidence.append(height_m.evidence)
        base = Decimal(50) if self.sex == "male" else Decimal("45.5")
        ideal = base + Decimal("2.3") * (height_cm / _CM_PER_IN - 60)
        adjusted = ideal + Decimal("0.4") * (weight - ideal)
        if adjusted <= 0:
            return None
        crcl, text = _cockcroft_gault(self.age, adjusted, creatinine, factor)
        return crcl, (
            f"BMI {_fmt(bmi)} (height {_fmt(height_cm)} cm): with adjusted body weight "
            f"{_fmt(adjusted)} kg, {text}"
        )
