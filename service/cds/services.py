"""The CDS services this deployment offers, and the data each one asks for.

Prefetch templates use only CDS Hooks 2.0 tokens (`{{context.patientId}}`) and
the spec's query subset: a read, type searches by patient, and token equality
on `code` so that Observations and reports are limited to the codes the rules
read. The code lists come from the value sets, so the queries follow the
clinical content without edits here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from mappings.matcher import ValueSetIndex
from service.cds.models import ServiceDescriptor
from service.cds.prefetch import PrefetchKey
from service.clinical.features.observations import MEASUREMENTS

PATIENT = "{{context.patientId}}"

#: Observation value sets the features read: the measurements (renal function, weight,
#: strength) and red-flag findings or spasticity recorded as Observations.
OBSERVATION_FEATURES = (
    "cauda_equina",
    "urinary_retention",
    "bowel_dysfunction",
    "saddle_anesthesia",
    "spasticity",
    *sorted(MEASUREMENTS),
)
#: Report value sets: imaging and electrodiagnostic studies already done.
REPORT_FEATURES = ("mri_lumbar", "mri_plexus", "nerve_imaging", "ncs_emg")

USAGE = (
    "Send the prefetch keys listed, or a fhirServer on the service's allowlist with a "
    "fhirAuthorization token granting patient-level read of Patient, Condition, Observation, "
    "Procedure, ServiceRequest, DeviceRequest, DeviceUseStatement, MedicationRequest, "
    "MedicationStatement, AllergyIntolerance and DiagnosticReport. Adults only."
)


@dataclass(frozen=True)
class ServiceSpec:
    id: str
    hook: str
    title: str
    description: str
    prefetch: Mapping[str, PrefetchKey]

    def descriptor(self) -> ServiceDescriptor:
        return ServiceDescriptor(
            hook=self.hook,
            id=self.id,
            title=self.title,
            description=self.description,
            prefetch={name: key.query for name, key in self.prefetch.items()},
            usageRequirements=USAGE,
        )


def _code_filter(index: ValueSetIndex, features: Iterable[str]) -> str:
    codes = sorted(
        {f"{system}|{code}" for feature in features for system, code in index.codes(feature)}
    )
    return ",".join(codes)


def prefetch_keys(index: ValueSetIndex) -> dict[str, PrefetchKey]:
    """Every key a foot-drop service asks for; Patient and Condition are essential."""
    by_patient = f"?patient={PATIENT}"
    keys = [
        PrefetchKey("patient", f"Patient/{PATIENT}", essential=True),
        # All clinical statuses: a resolved seizure disorder still contraindicates dalfampridine.
        PrefetchKey("conditions", f"Condition{by_patient}", essential=True),
        PrefetchKey(
            "observations",
            f"Observation{by_patient}&code={_code_filter(index, OBSERVATION_FEATURES)}",
        ),
        PrefetchKey("procedures", f"Procedure{by_patient}"),
        PrefetchKey("serviceRequests", f"ServiceRequest{by_patient}"),
        PrefetchKey("deviceRequests", f"DeviceRequest{by_patient}"),
        PrefetchKey("deviceUseStatements", f"DeviceUseStatement{by_patient}"),
        PrefetchKey("medicationRequests", f"MedicationRequest{by_patient}"),
        PrefetchKey("medicationStatements", f"MedicationStatement{by_patient}"),
        PrefetchKey("allergies", f"AllergyIntolerance{by_patient}"),
        PrefetchKey(
            "reports",
            f"DiagnosticReport{by_patient}&code={_code_filter(index, REPORT_FEATURES)}",
        ),
    ]
    return {key.name: key for key in keys}


def build_registry(index: ValueSetIndex) -> dict[str, ServiceSpec]:
    keys = prefetch_keys(index)
    services = [
        ServiceSpec(
            id="footdrop-patient-view",
            hook="patient-view",
            title="Foot drop: care recommendations",
            description=(
                "When an adult's chart with an active foot-drop condition is opened, suggests "
                "the next steps of a foot-drop guideline summary: urgent evaluation of red "
                "flags, orthosis, physical therapy, localization work-up and referrals."
            ),
            prefetch=keys,
        ),
        ServiceSpec(
            id="footdrop-order-select",
            hook="order-select",
            title="Foot drop: order checks",
            description=(
                "Checks foot-drop related orders as they are selected (orthoses, physical "
                "therapy, imaging, surgery, dalfampridine) against the patient's record."
            ),
            prefetch=keys,
        ),
        ServiceSpec(
            id="footdrop-order-sign",
            hook="order-sign",
            title="Foot drop: order safety checks before signing",
            description=(
                "Runs the foot-drop order checks on every draft order just before signing. "
                "Send the request extension org.footdrop-cds.suppress-repeated-cards = true to "
                "leave out cards already shown at order-select for the same order."
            ),
            prefetch=keys,
        ),
    ]
    return {spec.id: spec for spec in services}
