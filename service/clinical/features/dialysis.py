"""Dialysis or end-stage renal disease: a definite CrCl ≤ 50 mL/min (clinical-logic v3 §2).

    ESRD, CKD 5, dependence on dialysis (N18.6, N18.5, Z99.2, Z91.15-, SNOMED ESRD and
    CKD 5 codes)                                        any date, not resolved
    dialysis care (a dialysis Procedure or Encounter, Z49.-, T82.4-)
    and pre/post-dialysis weights (8344-4, 8347-7)      only within the last 90 days

Creatinine-based estimates are invalid on dialysis, so these mean CrCl ≤ 50 whatever a
creatinine says. A kidney transplant (Z94.0, 236436003) sets them aside only when it is
dated later than every dialysis or ESRD record, of any date, and no kidney transplant
failure or rejection (T86.1-) is dated on or after it; creatinine-based CrCl then applies.

Choices where the spec is silent: a dialysis record without a date is not "within 90
days" (the window exists to leave an old episode, such as dialysis during an acute
kidney injury, behind), but it still keeps a transplant from setting dialysis aside, as
does an undated ESRD or transplant-failure record; a transplant without a date, or
resolved, sets nothing aside; a dialysis Encounter counts like a Procedure, and a
planned or in-progress one like a completed one (dialysis care under way).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from service.clinical.features.conditions import ConditionEntry, with_feature
from service.clinical.features.model import CareEvent, Finding
from service.clinical.thresholds import ClinicalThresholds

#: Care resource types whose dialysis codes mean dialysis was given (not merely ordered).
DIALYSIS_CARE_TYPES = frozenset({"Procedure", "Encounter"})


def dialysis_or_esrd(
    conditions: Sequence[ConditionEntry],
    observed: Sequence[Finding],
    care: Sequence[CareEvent],
    today: date,
    t: ClinicalThresholds,
) -> tuple[Finding, ...]:
    """The records that put the patient on dialysis or in ESRD now, or () when none does."""
    esrd = [
        e.finding("dialysis_or_esrd")
        for e in with_feature(conditions, "dialysis_or_esrd", active_only=False)
        if not e.resolved
    ]
    dialysis = [
        *(
            e.finding("dialysis_recent")
            for e in with_feature(conditions, "dialysis_recent", active_only=False)
        ),
        *(x for x in observed if x.feature == "dialysis_weight"),
        *(
            Finding(e.feature, e.evidence, e.date)
            for e in care
            if e.feature == "dialysis_recent"
            and not e.draft
            and e.evidence.resource_type in DIALYSIS_CARE_TYPES
        ),
    ]
    since = today - timedelta(days=t.dialysis_recent_days)
    found = [*esrd, *(x for x in dialysis if x.date is not None and x.date >= since)]
    if not found or _transplant_sets_aside(conditions, [*esrd, *dialysis]):
        return ()
    return tuple(dict.fromkeys(found))


def _transplant_sets_aside(
    conditions: Sequence[ConditionEntry], renal_records: Sequence[Finding]
) -> bool:
    """A kidney transplant later than every dialysis/ESRD record, and no failure since."""
    transplants = [
        e.onset.date
        for e in with_feature(conditions, "kidney_transplant", active_only=False)
        if not e.resolved and e.onset.date is not None
    ]
    if not transplants:
        return False
    latest = max(transplants)
    if any(x.date is None or x.date >= latest for x in renal_records):
        return False
    failures = with_feature(conditions, "kidney_transplant_failure", active_only=False)
    return not any(e.onset.date is None or e.onset.date >= latest for e in failures)
