"""The value-set files themselves: valid FHIR, named by contract, documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fhir.resources.R4B.valueset import ValueSet

from mappings.matcher import (
    CONFIDENCE_URL,
    CPT,
    DEFAULT_DIRECTORY,
    DISPLAY_URL,
    HCPCS,
    ICD10CM,
    KNOWN_SYSTEMS,
    LEGACY_URL,
    LOCAL,
    LOINC,
    RECOGNISE_ONLY_URL,
    RXNORM,
    SNOMED,
    ValueSetIndex,
)
from tests.mappings.conftest import VALUESET_FILES, read_json

# The contract with the features engineer: exactly these file stems (mappings/README.md).
EXPECTED_FEATURES = frozenset(
    {
        # conditions
        "foot_drop", "peroneal_neuropathy", "l5_radiculopathy", "disc_herniation",
        "disc_degeneration", "lumbar_stenosis", "sciatic_neuropathy", "sciatica",
        "lumbosacral_plexopathy", "stroke", "central_sequela", "central_acute_event",
        "stroke_without_residual", "lower_limb_monoplegia",
        "multiple_sclerosis", "spinal_cord", "cerebral_palsy", "motor_neuron_disease",
        "spasticity", "muscle_spasm", "peripheral_neuropathy", "diabetic_neuropathy",
        "nerve_trauma", "knee_dislocation", "fibular_fracture", "weakness", "non_ambulatory",
        "cardiac_device", "spine_other", "cauda_equina", "urinary_retention",
        "urinary_retention_drug", "bowel_dysfunction", "bladder_dysfunction",
        "saddle_anesthesia", "skin_sensation_unsited", "seizure_history",
        "seizure_history_nonspecific", "seizure_verify", "seizure_febrile_neonatal_provoked",
        "ckd_stage3", "renal_probable_impairment", "acute_kidney_injury", "dialysis_or_esrd",
        "dialysis_recent", "kidney_transplant", "kidney_transplant_failure",
        # observations
        "creatinine_clearance", "creatinine_clearance_measured", "egfr", "serum_creatinine",
        "body_weight", "body_weight_self_reported", "dialysis_weight", "body_height",
        "body_mass_index", "dorsiflexion_strength",
        # orders, procedures, devices, medications, imaging
        "orthosis", "orthosis_not_for_gait", "fes", "physical_therapy", "ncs_emg", "mri_lumbar",
        "mri_spine_generic", "imaging_modality_mr", "lumbar_spine_body_site",
        "spine_body_site_generic", "mri_plexus", "nerve_imaging", "limb_pelvis_imaging",
        "spine_surgery_referral", "orthopaedic_referral", "neurology_referral",
        "rehabilitation_referral", "ankle_arthrodesis", "tendon_transfer", "discectomy",
        "lumbar_decompression", "lumbar_fusion", "botulinum", "botulinum_toxin_drug",
        "chemodenervation_non_limb", "peroneal_decompression", "dalfampridine",
    }
)  # fmt: skip

# Every legacy entry (recognised only, never ordered), as (system, code).
EXPECTED_LEGACY = {
    (ICD10CM, "G35"),
    (ICD10CM, "M51.36"),
    (ICD10CM, "M51.37"),
    # codes.md section 4 marks the race- and sex-specific eGFR variants "(legacy)"
    (LOINC, "48642-3"),
    (LOINC, "48643-1"),
    (LOINC, "88294-4"),
    (LOINC, "88293-6"),
    (LOINC, "50044-7"),
    (LOINC, "70969-1"),
}


def ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


def test_files_are_exactly_the_contracted_features() -> None:
    assert {p.stem for p in VALUESET_FILES} == EXPECTED_FEATURES


@pytest.mark.parametrize("path", VALUESET_FILES, ids=ids(VALUESET_FILES))
def test_file_is_valid_r4b_valueset_named_by_feature(path: Path) -> None:
    vs = ValueSet.model_validate_json(path.read_text(encoding="utf-8"))
    feature = path.stem
    # FHIR ids may not contain "_": the id is the feature with "-".
    assert vs.id == feature.replace("_", "-")
    assert vs.url == f"urn:footdrop-cds:valueset:{feature}"
    assert vs.name == "".join(part.capitalize() for part in feature.split("_"))
    assert vs.status == "active"
    description = str(vs.description)
    assert "2026-11-24" in description
    assert "codes.md" in description or "clinical-logic.md" in description


@pytest.mark.parametrize("path", VALUESET_FILES, ids=ids(VALUESET_FILES))
def test_includes_use_known_systems_and_record_confidence(path: Path) -> None:
    data = read_json(path)
    includes = data.get("compose", {}).get("include", [])
    concept_systems = [inc["system"] for inc in includes if "concept" in inc]
    assert len(concept_systems) == len(set(concept_systems)), "one concept include per system"
    for inc in includes:
        assert inc["system"] in KNOWN_SYSTEMS
        assert sum(key in inc for key in ("concept", "filter", "valueSet")) == 1, "FHIR vsd-3"
        elements = [*inc.get("concept", []), *inc.get("filter", [])]
        if "valueSet" in inc:
            elements.append(inc)  # its extensions apply to every code of the published sets
        for element in elements:
            urls = [e["url"] for e in element["extension"]]
            assert urls.count(CONFIDENCE_URL) == 1
            assert set(urls) <= {CONFIDENCE_URL, LEGACY_URL, RECOGNISE_ONLY_URL, DISPLAY_URL}
        if "filter" in inc:
            assert inc["system"] == ICD10CM
            assert len(inc["filter"]) == 1, "filters in one include are ANDed in FHIR"
            assert inc["filter"][0]["property"] == "concept"
            assert inc["filter"][0]["op"] == "is-a"


def test_system_uris_are_exactly_those_of_codes_md() -> None:
    assert SNOMED == "http://snomed.info/sct"
    assert ICD10CM == "http://hl7.org/fhir/sid/icd-10-cm"
    assert LOINC == "http://loinc.org"
    assert RXNORM == "http://www.nlm.nih.gov/research/umls/rxnorm"
    assert HCPCS == "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
    assert CPT == "http://www.ama-assn.org/go/cpt"
    assert LOCAL == "urn:footdrop-cds:local"


def test_legacy_entries_are_exactly_the_known_legacy_codes(index: ValueSetIndex) -> None:
    legacy = {
        (m.system, m.code)
        for f in index.features
        for m in (*index.concepts(f), *index.families(f))
        if m.legacy
    }
    assert legacy == EXPECTED_LEGACY


def test_local_codes_only_where_no_standard_code_exists(index: ValueSetIndex) -> None:
    local = {
        (m.feature, m.code, m.confidence, m.recognise_only)
        for f in index.features
        for m in index.concepts(f)
        if m.system == LOCAL
    }
    assert local == {
        ("body_height", "body-height", "U", True),
        ("dorsiflexion_strength", "ankle-dorsiflexion-mrc", "U", True),
    }
    assert index.concepts("dorsiflexion_strength")[0].display == (
        "Ankle dorsiflexion strength (MRC 0-5)"
    )


def test_nerve_imaging_is_empty_and_site_extensible(index: ValueSetIndex) -> None:
    """clinical-logic v3: nerve imaging is 443078008 (mri_plexus) or words; knee studies moved."""
    assert index.codes("nerve_imaging") == ()
    data = read_json(next(p for p in VALUESET_FILES if p.stem == "nerve_imaging"))
    assert "site adds" in data["description"]
    assert index.families("nerve_imaging") == ()


def test_every_other_value_set_has_codes(index: ValueSetIndex) -> None:
    for f in index.features - {"nerve_imaging"}:
        assert index.codes(f), f


def test_esrd_and_dialysis_are_never_merely_probable_impairment(index: ValueSetIndex) -> None:
    """ESRD, CKD 5 and dialysis are a definite contraindication (dialysis_or_esrd), never
    "probable": a later kidney transplant must be able to set them aside (clinical-logic v3
    §2 dialysis_or_esrd), which a code also in the probable set would defeat."""
    assert not set(index.codes("dialysis_or_esrd")) & set(index.codes("renal_probable_impairment"))


def test_generic_spine_mri_is_no_lumbar_mri_code(index: ValueSetIndex) -> None:
    """v3 §2: 241645008 counts only with lumbar words (features/care.py QUALIFIED)."""
    overlap = set(index.codes("mri_lumbar")) & set(index.codes("mri_spine_generic"))
    assert overlap == set()


def test_the_hand_off_readme_lists_every_feature_once() -> None:
    readme = (DEFAULT_DIRECTORY.parent / "README.md").read_text(encoding="utf-8")
    listed = re.findall(r"^\| `([a-z0-9_]+)` \|", readme, flags=re.MULTILINE)
    assert sorted(listed) == sorted(EXPECTED_FEATURES)
    assert len(listed) == len(set(listed))
