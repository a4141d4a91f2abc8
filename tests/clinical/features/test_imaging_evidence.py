"""Evidence that suppresses or routes uses specific codes (clinical-logic v3 §2, §4).

Lumbar MRI: specific codes, or an ImagingStudy series with modality MR and a lumbar body
site; generic spine codes only with lumbar words (a draft is always one). Plexus or nerve
imaging: 443078008 or plexus/nerve words; a pelvis MRI or limited limb ultrasound alone is
not. An orthopaedic referral is a spine referral only with spine words.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.clinical import (
    CPT,
    PATIENT_ID,
    SCT,
    days_ago,
    features_of,
    foot_drop,
    service_request,
)

ACUTE = foot_drop(onset=days_ago(10))
DCM = "http://dicom.nema.org/resources/ontology/DCM"


def study(site: str, description: str | None = None, modality: str = "MR") -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "ImagingStudy",
        "id": f"is-{site}-{modality}",
        "status": "available",
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "started": f"{days_ago(2)}T10:00:00Z",
        "series": [
            {
                "uid": "1.2.3",
                "modality": {"system": DCM, "code": modality},
                "bodySite": {"system": SCT, "code": site},
            }
        ],
    }
    if description:
        resource["description"] = description
    return resource


@pytest.mark.parametrize(
    ("resource", "lumbar"),
    [
        pytest.param(study("122496007"), True, id="MR lumbar spine site"),
        pytest.param(study("1217253001"), True, id="MR lumbosacral site"),
        pytest.param(study("421060004"), False, id="MR spine, no level"),
        pytest.param(study("421060004", "MRI L-spine"), True, id="MR spine with L-spine words"),
        pytest.param(study("122496007", modality="CR"), False, id="radiograph of lumbar spine"),
        pytest.param(service_request("241645008"), False, id="generic spine MRI order"),
        pytest.param(
            service_request("241645008", text="MRI spine - lumbar"), True, id="generic + lumbar"
        ),
        pytest.param(service_request("72148", CPT), True, id="CPT 72148"),
    ],
)
def test_lumbar_mri_evidence(resource: dict[str, Any], lumbar: bool) -> None:
    assert bool(features_of(ACUTE, resource).lumbar_mri) is lumbar


def test_a_generic_spine_mri_draft_is_a_lumbar_mri_to_upgrade() -> None:
    draft = service_request("241645008", status="draft")
    assert features_of(ACUTE, drafts=(draft,)).lumbar_mri


@pytest.mark.parametrize(
    ("code", "text", "plexus", "nerve"),
    [
        ("443078008", None, True, False),
        ("72195", None, False, False),  # MRI pelvis alone
        ("72195", "MRI pelvis for lumbosacral plexus", True, False),
        ("76882", None, False, False),  # limited limb ultrasound alone
        ("76882", "Ultrasound of the common peroneal nerve", False, True),
    ],
)
def test_plexus_and_nerve_imaging_need_specific_codes_or_words(
    code: str, text: str | None, plexus: bool, nerve: bool
) -> None:
    system = SCT if code == "443078008" else CPT
    f = features_of(ACUTE, service_request(code, system, text=text))
    assert (bool(f.plexus_mri), bool(f.nerve_imaging)) == (plexus, nerve)


@pytest.mark.parametrize(
    ("text", "spine"),
    [
        (None, False),
        ("Foot and ankle clinic", False),
        ("Orthopaedic spine surgery", True),
        ("lumbar disc herniation with radiculopathy", True),
    ],
)
def test_an_orthopaedic_referral_is_a_spine_referral_only_with_spine_words(
    text: str | None, spine: bool
) -> None:
    referral = service_request("308481009", text=text)
    assert bool(features_of(ACUTE, referral).spine_surgery_referral) is spine


def test_an_orthopaedic_referral_with_a_spine_reason_code_is_a_spine_referral() -> None:
    referral = service_request("308481009")
    referral["reasonCode"] = [{"text": "cauda equina syndrome"}]
    assert features_of(ACUTE, referral).spine_surgery_referral
