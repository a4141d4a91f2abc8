"""Feature extraction: PatientData -> PatientFeatures (clinical-logic v3 §2).

model.py         the typed result (PatientFeatures, FootDrop, CareEvent, RenalAssessment…)
records.py       statuses, names and evidence read the same way everywhere
codes.py         the one confidence policy: which value-set codes count
conditions.py    Condition entries: features, status, onset, side, words
observations.py  measurements (labs, vitals, strength) and findings recorded as Observations
onset.py         onset, duration, phase and laterality of the foot drop
care.py          orders, procedures, studies, devices, medications and draft orders as care
dialysis.py      dialysis or end-stage renal disease now (a definite CrCl <= 50 mL/min)
renal.py         creatinine clearance for dalfampridine (every estimate, and fallbacks)
progression.py   strength decline and progression words
central.py       whether a central cause explains the foot drop (linked in time)
text.py          features only free text expresses
extract.py       puts it together: the record read once, features with drafts as ordered
"""

from service.clinical.features.extract import RecordReading, extract, read_record
from service.clinical.features.model import (
    CareEvent,
    Finding,
    FootDrop,
    Onset,
    PatientFeatures,
    Progression,
    RenalAssessment,
)

__all__ = [
    "CareEvent",
    "Finding",
    "FootDrop",
    "Onset",
    "PatientFeatures",
    "Progression",
    "RecordReading",
    "RenalAssessment",
    "extract",
    "read_record",
]
