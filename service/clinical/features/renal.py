"""Creatinine clearance for dalfampridine, in the order of clinical-logic v3 §2 and A8.

    1. dialysis or end-stage renal disease (features.dialysis)      -> known, ≤ 50, definite
    2. every estimate within 12 months that is not unreliable       -> known; the lowest
         - the newest measured CrCl (2164-2, 33558-8): replaced only by a newer measured
           one, unreliable when the creatinine from a week before it on is unstable,
           unless it contraindicates (a rise cannot mean better function)
         - the newest stored Cockcroft-Gault result (35591-7), read the same way
         - Cockcroft-Gault from the newest serum creatinine, if stable (no rise
           >= 0.3 mg/dL or >= 1.5x within 7 days, no recent acute kidney injury),
           weight (12 months), age and sex
       any of them at the label's limit contraindicates (US: ≤ 50; EU: < 80)
    3. CKD stage 3b-4 (EU label: any CKD stage 3)                    -> probable_impaired
    4. eGFR at the limit (per 1.73 m2)                               -> probable_impaired
       eGFR above it                                                 -> unknown (eGFR is not CrCl)
    5. an unstable creatinine                                        -> unreliable
    6. otherwise                                                     -> unknown

Cockcroft-Gault: (140 - age) x weight / (72 x creatinine mg/dL), x 0.85 for women;
unknown or other sex uses 0.85 and says so. With BMI >= 30 (computed, or a BMI
recorded within 12 months) and a height (LOINC 8302-2 and the other body-height
codes), it is also computed with adjusted body weight (ideal body weight, Devine,
+ 0.4 x excess; the female formula when sex is not male) and the lower result is
used. Comparisons use the unrounded value; the text shows one decimal.

Choices where the spec is silent: the latest height of any date is used (adult
height is stable); measurements without a date or with an unknown unit are not
used (a guessed unit could hide a contraindication), nor a creatinine, weight or
height of 0 or less (a data error); under the US label CKD stage 3 unspecified or
3a changes nothing (CrCl may exceed 50), under the EU label it is a probable
contraindication (its eGFR is under 60, so CrCl is probably under 80); a CrCl per
1.73 m² is not accepted as CrCl; a self-reported weight is used, and the card says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal

from service.clinical.features.conditions import ConditionEntry, with_feature
from service.clinical.features.model import (
    Evidence,
    Finding,
    RenalAssessment,
    RenalEstimate,
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


def _rises(
    series: Sequence[tuple[Measurement, Decimal]], lo: date, hi: date, t: ClinicalThresholds
) -> bool:
    """Any rise of >= 0.3 mg/dL or >= 1.5x within 7 days among the values dated lo..hi."""
    window = [(m.date, v) for m, v in series if m.date and lo <= m.date <= hi]
    span = timedelta(days=t.creatinine_stability_days)
    return any(
        later - earlier >= t.creatinine_rise_mg_dl or later >= earlier * t.creatinine_rise_ratio
        for day_a, earlier in window
        for day_b, later in window
        if day_a <= day_b <= day_a + span and (day_a, earlier) != (day_b, later)
    )


def _unstable(series: Sequence[tuple[Measurement, Decimal]], t: ClinicalThresholds) -> bool:
    """Any rise within the 7 days up to the latest value (A8)."""
    latest_day = series[0][0].date or date.min
    return _rises(series, latest_day - timedelta(days=t.creatinine_stability_days), latest_day, t)


def _unstable_since(
    day: date | None,
    series: Sequence[tuple[Measurement, Decimal]],
    today: date,
    t: ClinicalThresholds,
) -> bool:
    """A clearance measured (or estimated) on `day` is unreliable when the creatinine
    around it meets the instability rule (v3 §2 (2)): a rise from 7 days before it up to
    the request, since a later rise means it no longer reflects renal function."""
    if day is None:
        return False
    return _rises(series, day - timedelta(days=t.creatinine_stability_days), today, t)


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
    dialysis: Sequence[Finding]
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
        estimates: tuple[RenalEstimate, ...] = (),
    ) -> RenalAssessment:
        above = value is not None and status == "known" and not contraindicated
        us_band = above and not self.t.eu_label and value is not None
        assessment = RenalAssessment(
            status=status,
            method=method,
            value=value,
            computation=computation,
            estimates=estimates,
            notes=tuple(dict.fromkeys(self.notes)),
            evidence=tuple(dict.fromkeys(self.evidence)),
            missing_inputs=tuple(dict.fromkeys(self.missing)),
            contraindicated=contraindicated,
            borderline=us_band and value is not None and value <= self.t.crcl_borderline_upper,
            mild=us_band and value is not None and value <= self.t.crcl_caution_upper,
        )
        if not contraindicated:
            return assessment
        if method == "dialysis_or_esrd":
            named = f"dialysis or end-stage renal disease: {computation}"
        elif status == "probable_impaired":
            named = f"probable creatinine clearance {self.t.crcl_limit}: {computation}"
        else:
            named = f"creatinine clearance {self.t.crcl_limit}: {assessment.quoted}"
        return replace(assessment, contraindication=named)

    def assess(self) -> RenalAssessment:
        if self.dialysis:
            return self.on_dialysis()
        creatinine = _positive(_recent(self.obs.of("serum_creatinine"), _TO_MG_DL, self.since))
        estimates = [
            *self.stored(creatinine, "creatinine_clearance_measured", "crcl_measured"),
            *self.stored(creatinine, "creatinine_clearance", "crcl_estimate"),
        ]
        computed = self.cockcroft_gault(creatinine)
        if isinstance(computed, RenalEstimate):
            estimates.append(computed)
        if estimates:
            # What C-G lacked is not missing when a clearance is known.
            self.notes = [n for n in self.notes if n != "weight_missing"]
            self.missing.clear()
            return self.known(estimates)
        unreliable = computed or "crcl_unreliable" in self.notes
        ckd = with_feature(self.conditions, "renal_probable_impairment")
        if self.t.eu_label:
            # EU label: CrCl < 80 contraindicates; CKD stage 3 means an eGFR under 60.
            ckd += with_feature(self.conditions, "ckd_stage3")
        if ckd:
            self.evidence.extend(e.finding("renal_probable_impairment").evidence for e in ckd)
            return self.result(
                status="probable_impaired",
                method="ckd_stage",
                computation=f"{ckd[0].display} (no creatinine clearance on record)",
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
            text = f"eGFR {_fmt(value)} mL/min/1.73 m² on {m.date} (not creatinine clearance)"
            if self.t.crcl_contraindicates(value):
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

    def on_dialysis(self) -> RenalAssessment:
        """Dialysis or ESRD: CrCl ≤ 50 mL/min, definite; creatinine says nothing here."""
        self.evidence.extend(x.evidence for x in self.dialysis)
        records = "; ".join(
            f"{x.evidence.display}" + (f" ({x.date})" if x.date else "") for x in self.dialysis
        )
        text = (
            f"{records}; creatinine clearance is {self.t.crcl_contraindication} mL/min or less "
            "on dialysis or with end-stage renal disease, whatever a creatinine says"
        )
        return self.result("known", "dialysis_or_esrd", None, text, contraindicated=True)

    def known(self, estimates: list[RenalEstimate]) -> RenalAssessment:
        """Every estimate counts: the lowest decides, each is shown with its date."""
        lowest = min(estimates, key=lambda e: e.value)
        for estimate in estimates:
            self.evidence.extend(estimate.evidence)
        if len(estimates) == 1:
            text = lowest.source or lowest.text
        else:
            text = "lowest of: " + "; ".join(e.text for e in estimates)
        return self.result(
            "known",
            lowest.method,
            lowest.value,
            text,
            contraindicated=any(self.t.crcl_contraindicates(e.value) for e in estimates),
            estimates=tuple(estimates),
        )

    def stored(
        self,
        creatinine: Sequence[tuple[Measurement, Decimal]],
        feature: str,
        method: RenalMethod,
    ) -> list[RenalEstimate]:
        """The newest clearance result of `feature` within 12 months, unless the creatinine
        around it was unstable and the value does not contraindicate (a rising creatinine
        cannot make a low clearance safe). A measured CrCl is replaced only by a newer one;
        a stored Cockcroft-Gault result (`creatinine_clearance` minus the measured ones)
        is an estimate like a computed one."""
        measured = {m.evidence for m in self.obs.of("creatinine_clearance_measured")}
        results = [
            (m, v)
            for m, v in _recent(self.obs.of(feature), _TO_ML_MIN, self.since)
            if feature == "creatinine_clearance_measured" or m.evidence not in measured
        ]
        if not results:
            return []
        m, value = results[0]
        # A rise cannot mean better function: a contraindicating value is kept.
        if not self.t.crcl_contraindicates(value) and _unstable_since(
            m.date, creatinine, self.today, self.t
        ):
            self.evidence.append(m.evidence)
            self.notes.append("crcl_unreliable")
            return []
        name = "measured creatinine clearance" if method == "crcl_measured" else m.evidence.display
        text = f"{name} {_fmt(value)} mL/min ({m.date})"
        return [RenalEstimate(method, value, m.date, text, (m.evidence,), f"{name}, {m.date}")]

    def cockcroft_gault(
        self, creatinine: Sequence[tuple[Measurement, Decimal]]
    ) -> RenalEstimate | bool:
        """The C-G estimate, or whether the creatinine was unreliable when none is possible."""
        weights = _positive(_recent(self.obs.of("body_weight"), _TO_KG, self.since))
        if not weights:
            self.notes.append("weight_missing")
            self.missing.append("body weight (last 12 months)")
        if not creatinine:
            self.missing.append("serum creatinine (last 12 months)")
            return False
        scr_m, scr = creatinine[0]
        if _unstable(creatinine, self.t) or _recent_aki(self.conditions, self.today, self.t):
            self.evidence.append(scr_m.evidence)
            self.notes.append("crcl_unreliable")
            self.missing.append("a stable serum creatinine")
            return True
        if self.age is None:
            self.missing.append("age (birth date)")
        if not weights or self.age is None:
            self.evidence.append(scr_m.evidence)
            return False
        weight_m, weight = weights[0]
        evidence = [scr_m.evidence, weight_m.evidence]
        if weight_m.evidence in {m.evidence for m in self.obs.of("body_weight_self_reported")}:
            self.notes.append("weight_self_reported")
        if self.patient is not None:
            evidence.append(self.patient)
        factor = Decimal("0.85") if self.sex != "male" else Decimal(1)
        if self.sex == "unknown":
            self.notes.append("sex_unknown_female_factor")
        crcl, text = _cockcroft_gault(self.age, weight, scr, factor)
        text = f"Cockcroft-Gault from the creatinine of {scr_m.date}: {text}"
        adjusted = self.adjusted(weight, scr, factor)
        if adjusted is not None:
            adj_crcl, adj_text, height_evidence = adjusted
            evidence.append(height_evidence)
            self.notes.append("adjusted_body_weight_used")
            text += f"; {adj_text}"
            crcl = min(crcl, adj_crcl)
            text += f"; the lower, {_fmt(crcl)} mL/min, is used"
        return RenalEstimate("cockcroft_gault", crcl, scr_m.date, text, tuple(evidence))

    def obese(self, weight: Decimal, height_cm: Decimal) -> tuple[bool, str]:
        """BMI >= 30, computed from weight and height or recorded (12 months)."""
        bmi = weight / (height_cm / 100) ** 2
        recorded = [
            (m, m.quantity[0])
            for m in self.obs.of("body_mass_index")
            if m.date and m.date >= self.since and m.quantity is not None
        ]
        if bmi >= self.t.obesity_bmi:
            return True, f"BMI {_fmt(bmi)} (height {_fmt(height_cm)} cm)"
        if recorded:
            m, value = max(recorded, key=lambda pair: pair[0].date or date.min)
            if value >= self.t.obesity_bmi:
                self.evidence.append(m.evidence)
                return True, f"BMI {_fmt(value)} recorded {m.date} (height {_fmt(height_cm)} cm)"
        return False, ""

    def adjusted(
        self, weight: Decimal, creatinine: Decimal, factor: Decimal
    ) -> tuple[Decimal, str, Evidence] | None:
        """C-G with adjusted body weight when BMI >= 30 and a height exists."""
        heights = _positive(_recent(self.obs.of("body_height"), _TO_CM, None))
        if not heights or self.age is None:
            return None
        height_m, height_cm = heights[0]
        obese, bmi_text = self.obese(weight, height_cm)
        if not obese:
            return None
        base = Decimal(50) if self.sex == "male" else Decimal("45.5")
        ideal = base + Decimal("2.3") * (height_cm / _CM_PER_IN - 60)
        adjusted = ideal + Decimal("0.4") * (weight - ideal)
        if adjusted <= 0:
            return None
        crcl, text = _cockcroft_gault(self.age, adjusted, creatinine, factor)
        return (
            crcl,
            f"{bmi_text}: with adjusted body weight {_fmt(adjusted)} kg, {text}",
            (height_m.evidence),
        )
