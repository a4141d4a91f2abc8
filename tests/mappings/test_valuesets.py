"""The value-set files themselves: valid FHIR, named by contract, documented."""

from __future__ import annotations

from pathlib import Path

import pytest
from fhir.resources.R4B.valueset import ValueSet

from mappings.matcher import (
    CONFIDENCE_URL,
    CPT,
    HCPCS,
    ICD10CM,
    KNOWN_SYSTEMS,
    LEGACY_URL,
    LOCAL,
    LOINC,
    RXNORM,
    SNOMED,
    ValueSetIndex,
)
from tests.mappings.conftest import VALUESET_FILES, read_json

# The contract with the features engineer: exactly these file stems.
EXPECTED_FEATURES = frozenset(
    {
        # conditions
        "foot_drop", "peroneal_neuropathy", "l5_radiculopathy", "disc_herniation",
        "disc_degeneration", "lumbar_stenosis", "sciatic_neuropathy", "sciatica",
        "lumbosacral_plexopathy", "stroke", "stroke_without_residual", "lower_limb_monoplegia",
        "multiple_sclerosis", "spinal_cord", "cerebral_palsy", "motor_neuron_disease",
        "spasticity", "muscle_spasm", "peripheral_neuropathy", "diabetic_neuropathy",
        "nerve_trauma", "knee_dislocation", "fibular_fracture", "weakness", "non_ambulatory",
        "cardiac_device", "spine_other", "cauda_equina", "urinary_retention",
        "urinary_retention_drug", "bowel_dysfunction", "bladder_dysfunction",
        "saddle_anesthesia", "skin_sensation_unsited", "seizure_history",
        "seizure_history_nonspecific", "seizure_verify", "ckd_stage3",
        "renal_probable_impairment", "acute_kidney_injury",
        # observations
        "creatinine_clearance", "egfr", "serum_creatinine", "body_weight", "body_height",
        "dorsiflexion_strength",
        # orders, procedures, devices, medications
        "orthosis", "fes", "physical_therapy", "ncs_emg", "mri_lumbar", "mri_plexus",
        "nerve_imaging", "spine_surgery_referral", "neurology_referral",
        "rehabilitation_referral", "ankle_arthrodesis", "tendon_transfer", "discectomy",
        "lumbar_decompression", "lumbar_fusion", "botulinum", "peroneal_decompression",
        "dalfampridine",
    }
)  # fmt: skip

# Every legacy entry (recognised only, never ordered), as (system, code).
EXPECTED_LEGACY = {
    (ICD10CM, "G35"),
    (ICD10CM, "M51.36"),
    (ICD10CM, "M51.37"),
    (LOINC, "33914-3"),
    (SNOMED, "428191000124101"),
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
        assert not ("concept" in inc and "filter" in inc), "FHIR vsd-3"
        for element in [*inc.get("concept", []), *inc.get("filter", [])]:
            urls = [e["url"] for e in element["extension"]]
            assert urls.count(CONFIDENCE_URL) == 1
            assert set(urls) <= {CONFIDENCE_URL, LEGACY_URL, "urn:footdrop-cds:display"}
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
    local = {(m.feature, m.code) for f in index.features for m in index.concepts(f)}
    local = {pair for pair in local if pair[0] in {"body_height", "dorsiflexion_strength"}}
    assert local == {
        ("body_height", "body-height"),
        ("dorsiflexion_strength", "ankle-dorsiflexion-mrc"),
    }
    for f in index.features - {"body_height", "dorsiflexion_strength"}:
        assert all(m.system != LOCAL for m in index.concepts(f)), f
    assert index.concepts("dorsiflexion_strength")[0].display == (
        "Ankle dorsiflexion strength (MRC 0-5)"
    )


def test_peroneal_decompression_is_empty_and_site_extensible(index: ValueSetIndex) -> None:
    assert index.concepts("peroneal_decompression") == ()
    assert index.families("peroneal_decompression") == ()
    data = read_json(next(p for p in VALUESET_FILES if p.stem == "peroneal_decompression"))
    assert "site adds" in data["description"]


def test_every_other_value_set_has_codes(index: ValueSetIndex) -> None:
    for f in index.features - {"peroneal_decompression"}:
        assert index.concepts(f) or index.families(f), f
