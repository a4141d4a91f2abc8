"""Feature extraction: PatientData -> PatientFeatures (clinical-logic v2 §2).

model.py         the typed result (PatientFeatures, FootDrop, CareEvent, RenalAssessment…)
records.py       reading FHIR dates, statuses and texts the same way everywhere
conditions.py    Condition entries: features, status, onset, side, words
observations.py  measurements (labs, vitals, strength) and findings recorded as Observations
onset.py         onset, duration, phase and laterality of the foot drop
care.py          orders, procedures, studies, devices and medications as care events
renal.py         creatinine clearance for dalfampridine (Cockcroft-Gault and fallbacks)
progression.py   strength decline and progression words
text.py          features only free text expresses
extract.py       puts it together
"""

from service.clinical.features.extract import extract
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
    "RenalAssessment",
    "extract",
]
