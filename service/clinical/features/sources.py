"""Where the features read: each resource type, and the value sets read from it.

The one table behind clinical-logic v3 §2 "Every source is fetched". Each type
named in the spec's "from" column is here:

- `EVERY` (None): every resource of the type is read, whatever its codes —
  Conditions above all, so that text-only problem-list entries (a seizure, a
  urinary retention written as free text) reach the rules. Such a type is
  fetched without a code filter.
- a tuple of value sets: only codes of these value sets are read from the type
  (the Observation reader's own `READ` and the care reader enforce it), so the discovery query that
  serves the type may filter by code, and must then carry every code of every one
  of them (`{{codes:<Type>}}` in `service/cds/services.toml`; tested from this
  table in tests/cds/test_prefetch_completeness.py).

Only the large types (clinical-logic v3 §2: Observation, DiagnosticReport,
Procedure, Encounter, ImagingStudy, MedicationAdministration, CarePlan) are read
by value set. ImagingStudy is read whole: R4 has no search parameter on its
`procedureCode`, and a lumbar MRI may be named only by modality, body site or
description.
"""

from __future__ import annotations

from collections.abc import Mapping

from service.clinical.features.observations import READ as OBSERVATIONS_READ

EVERY = None

#: Care features the rules read from a Procedure (clinical-logic v3 §2: orthosis and FES
#: in use, PT since onset, studies done, surgery done, botulinum, dialysis).
_PROCEDURE_CARE = (
    "orthosis",
    "fes",
    "physical_therapy",
    "ncs_emg",
    "mri_lumbar",
    "mri_spine_generic",
    "mri_plexus",
    "nerve_imaging",
    "spine_surgery_referral",
    "orthopaedic_referral",
    "neurology_referral",
    "rehabilitation_referral",
    "discectomy",
    "lumbar_decompression",
    "lumbar_fusion",
    "tendon_transfer",
    "ankle_arthrodesis",
    "peroneal_decompression",
    "botulinum",
    "limb_pelvis_imaging",
    "dialysis_recent",
)

READS: Mapping[str, tuple[str, ...] | None] = {
    "Patient": EVERY,
    "Condition": EVERY,
    "AllergyIntolerance": EVERY,
    "ServiceRequest": EVERY,
    "DeviceRequest": EVERY,
    "DeviceUseStatement": EVERY,
    "Device": EVERY,
    "MedicationRequest": EVERY,
    "MedicationStatement": EVERY,
    "ImagingStudy": EVERY,
    "Observation": tuple(sorted(OBSERVATIONS_READ)),
    "DiagnosticReport": (
        "ncs_emg",
        "mri_lumbar",
        "mri_spine_generic",
        "mri_plexus",
        "nerve_imaging",
        "limb_pelvis_imaging",
        "physical_therapy",
    ),
    "Procedure": _PROCEDURE_CARE,
    "Encounter": ("physical_therapy", "dialysis_recent"),
    "CarePlan": ("physical_therapy",),
    "MedicationAdministration": ("botulinum", "botulinum_toxin_drug", "dalfampridine"),
}
"""Resource type -> the value sets read from it, or EVERY."""


def reads(resource_type: str, feature: str) -> bool:
    """Whether the features read value set `feature` from a resource of this type."""
    value_sets = READS.get(resource_type, ())
    return value_sets is EVERY or feature in value_sets
