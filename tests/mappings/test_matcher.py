"""Matcher behaviour: normalisation, aliases, safety traps, contradictions, loud failures."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import simple_icd_10_cm as icd
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coding import Coding

from mappings.matcher import (
    CPT,
    DEFAULT_DIRECTORY,
    HCPCS,
    ICD10CM,
    LOINC,
    RXNORM,
    SNOMED,
    ConceptMatch,
    ValueSetIndex,
    normalize_system,
)

RED_FLAGS = {"cauda_equina", "urinary_retention", "bowel_dysfunction", "saddle_anesthesia"}

# Pairs of features that must never share a code: one excludes the other clinically.
CONTRADICTORY = [
    ("spasticity", "muscle_spasm"),
    ("urinary_retention", "urinary_retention_drug"),
    ("stroke", "stroke_without_residual"),
    ("sciatic_neuropathy", "sciatica"),
    ("disc_herniation", "disc_degeneration"),
    ("bladder_dysfunction", "urinary_retention"),
    ("seizure_history", "seizure_history_nonspecific"),
    ("seizure_history", "seizure_verify"),
    ("seizure_febrile_neonatal_provoked", "seizure_verify"),
    ("ckd_stage3", "renal_probable_impairment"),
    ("ckd_stage3", "dialysis_or_esrd"),
    ("dialysis_or_esrd", "kidney_transplant"),
    ("dialysis_recent", "kidney_transplant"),
    ("saddle_anesthesia", "skin_sensation_unsited"),
    ("creatinine_clearance", "egfr"),
    ("creatinine_clearance_measured", "egfr"),
    ("body_weight", "body_height"),
    ("body_mass_index", "body_weight"),
    ("orthosis", "orthosis_not_for_gait"),
    ("fes", "orthosis_not_for_gait"),
    ("botulinum", "botulinum_toxin_drug"),
    ("botulinum", "chemodenervation_non_limb"),
    ("lumbar_spine_body_site", "spine_body_site_generic"),
    ("mri_plexus", "limb_pelvis_imaging"),
    ("nerve_imaging", "limb_pelvis_imaging"),
    ("spine_surgery_referral", "orthopaedic_referral"),
    *[("bladder_dysfunction", flag) for flag in sorted(RED_FLAGS)],
    *[("urinary_retention_drug", flag) for flag in sorted(RED_FLAGS)],
]


def features(index: ValueSetIndex, system: str, code: str) -> set[str]:
    return {m.feature for m in index.match(system, code)}


# ------------------------------------------------------------------ normalisation
@pytest.mark.parametrize("code", ["M21.371", "M21371", " m21.371 ", "M21.372", "m21379"])
def test_foot_drop_icd_forms_match(index: ValueSetIndex, code: str) -> None:
    assert features(index, ICD10CM, code) == {"foot_drop"}


@pytest.mark.parametrize("code", ["M21.3", "M213", "M21.33", "M21.331", "M21.33x", "M21.9"])
def test_wrist_drop_and_parent_do_not_match_foot_drop(index: ValueSetIndex, code: str) -> None:
    assert "foot_drop" not in features(index, ICD10CM, code)


def test_family_match_reports_the_family_entry(index: ValueSetIndex) -> None:
    (m,) = index.match(ICD10CM, "M21371")
    assert m == ConceptMatch(
        "foot_drop", ICD10CM, "M21.37", "Foot drop (acquired)", "V-ICD", legacy=False
    )


def test_legacy_g35_matches_ms_and_is_legacy(index: ValueSetIndex) -> None:
    for code in ("G35", "g35", " G35 "):
        (m,) = index.match(ICD10CM, code)
        assert (m.feature, m.legacy) == ("multiple_sclerosis", True)
    for code in ("G35.A", "G35B1", "G35.D"):
        (m,) = index.match(ICD10CM, code)
        assert (m.feature, m.legacy) == ("multiple_sclerosis", False)


def test_legacy_disc_degeneration_is_not_herniation(index: ValueSetIndex) -> None:
    for code in ("M51.36", "M51.37"):
        (m,) = index.match(ICD10CM, code)
        assert (m.feature, m.legacy) == ("disc_degeneration", True)
    for code in ("M51.360", "M51.362", "M51.379"):
        assert features(index, ICD10CM, code) == {"disc_degeneration"}
    assert "disc_herniation" in features(index, ICD10CM, "M51.16")


def test_snomed_and_loinc_codes_are_only_stripped(index: ValueSetIndex) -> None:
    assert features(index, SNOMED, " 6077001 ") == {"foot_drop"}
    assert features(index, LOINC, "35591-7") == {"creatinine_clearance"}
    assert features(index, LOINC, "355917") == set()
    assert features(index, SNOMED, "6077001.0") == set()


def test_hcpcs_is_case_insensitive(index: ValueSetIndex) -> None:
    assert features(index, HCPCS, "l1930") == {"orthosis"}
    assert features(index, HCPCS, "E0770") == {"fes"}


# ------------------------------------------------------------------ systems
@pytest.mark.parametrize(
    ("system", "code", "feature"),
    [
        ("urn:oid:2.16.840.1.113883.6.96", "6077001", "foot_drop"),
        ("URN:OID:2.16.840.1.113883.6.96", "6077001", "foot_drop"),
        ("urn:oid:2.16.840.1.113883.6.90", "M21.371", "foot_drop"),
        ("urn:oid:2.16.840.1.113883.6.1", "35591-7", "creatinine_clearance"),
        ("urn:oid:2.16.840.1.113883.6.88", "897021", "dalfampridine"),
        ("http://snomed.info/sct/", "6077001", "foot_drop"),
        ("http://www.nlm.nih.gov/research/umls/hcpcs", "G0257", "dialysis_recent"),
        (" http://loinc.org// ", "29463-7", "body_weight"),
    ],
)
def test_system_aliases_match(index: ValueSetIndex, system: str, code: str, feature: str) -> None:
    assert feature in features(index, system, code)


@pytest.mark.parametrize(
    "system",
    [
        "http://example.org/codes",
        "http://hl7.org/fhir/sid/icd-10",  # WHO ICD-10 is not ICD-10-CM
        "urn:oid:2.16.840.1.113883.6.3",
        "",
        None,
    ],
)
def test_unknown_systems_match_nothing(index: ValueSetIndex, system: str | None) -> None:
    assert index.match(system, "6077001") == ()
    assert index.match(system, "M21.371") == ()


def test_missing_code_matches_nothing(index: ValueSetIndex) -> None:
    assert index.match(SNOMED, None) == ()
    assert index.match(SNOMED, "   ") == ()
    assert index.match(ICD10CM, "") == ()


def test_code_in_the_wrong_system_matches_nothing(index: ValueSetIndex) -> None:
    assert index.match(LOINC, "6077001") == ()
    assert index.match(SNOMED, "M21.371") == ()


def test_normalize_system() -> None:
    assert normalize_system("urn:oid:2.16.840.1.113883.6.88") == RXNORM
    assert normalize_system(None) is None
    assert normalize_system(" / ") is None


# ------------------------------------------------------------------ safety traps
@pytest.mark.parametrize("code", ["R25.2", "R252", "M62.838"])
def test_cramp_and_spasm_are_never_spasticity(index: ValueSetIndex, code: str) -> None:
    assert features(index, ICD10CM, code) == {"muscle_spasm"}


def test_spastic_codes_are_spasticity(index: ValueSetIndex) -> None:
    for code in ("G80.1", "G81.13", "G04.1", "G11.4"):
        assert "spasticity" in features(index, ICD10CM, code), code
    assert "spasticity" not in features(index, ICD10CM, "G81.03")  # flaccid hemiplegia


def test_drug_induced_retention_is_not_a_red_flag(index: ValueSetIndex) -> None:
    assert features(index, ICD10CM, "R33.0") == {"urinary_retention_drug"}
    assert "urinary_retention" in features(index, ICD10CM, "R33.9")


@pytest.mark.parametrize("code", ["N31.9", "N31.0", "R32", "N39.41", "N39.498"])
def test_bladder_codes_are_never_red_flags(index: ValueSetIndex, code: str) -> None:
    found = features(index, ICD10CM, code)
    assert found == {"bladder_dysfunction"}
    assert not found & RED_FLAGS


def test_urinary_incontinence_snomed_is_not_a_red_flag(index: ValueSetIndex) -> None:
    assert features(index, SNOMED, "165232002") == {"bladder_dysfunction"}


def test_stroke_without_residual_is_not_stroke(index: ValueSetIndex) -> None:
    assert features(index, ICD10CM, "Z86.73") == {"stroke_without_residual"}
    assert "stroke" in features(index, ICD10CM, "I69.354")


def test_sciatica_is_not_a_sciatic_nerve_lesion(index: ValueSetIndex) -> None:
    assert features(index, SNOMED, "23056005") == {"sciatica"}
    assert "sciatic_neuropathy" in features(index, ICD10CM, "G57.01")


def test_seizure_look_alikes(index: ValueSetIndex) -> None:
    assert features(index, ICD10CM, "F44.5") == {"seizure_verify"}
    for code in ("191714002", "438113009"):  # in the published set: the spec's exceptions
        assert features(index, SNOMED, code) == {"seizure_verify"}
    assert features(index, ICD10CM, "Z86.69") == {"seizure_history_nonspecific"}
    assert "seizure_history" in features(index, ICD10CM, "G40.909")
    assert "seizure_history" in features(index, ICD10CM, "R56.9")


def test_ckd_stages(index: ValueSetIndex) -> None:
    assert features(index, ICD10CM, "N18.31") == {"ckd_stage3"}
    assert features(index, ICD10CM, "N18.32") == {"renal_probable_impairment"}
    assert features(index, ICD10CM, "N18.9") == set()
    assert features(index, ICD10CM, "N17.9") == {"acute_kidney_injury"}


@pytest.mark.parametrize(
    ("system", "code"),
    [
        (LOINC, "24531-6"),  # US retroperitoneum, mislabelled as MRI in public files
        (LOINC, "24855-9"),  # RF videography oropharynx
        # (codes-v3 rows that must match nothing are in test_codes_v3.py)
        (SNOMED, "42803009"),  # EMG: B without a recognise mark (codes-v3 §11)
        (CPT, "95862"),  # not in codes-v3 §4's needle EMG list
    ],
)
def test_known_wrong_codes_match_nothing(index: ValueSetIndex, system: str, code: str) -> None:
    assert index.match(system, code) == ()


@pytest.mark.parametrize("code", ["L4360", "L4361", "L4386", "L4387", "L4396", "L4398", "L1906"])
def test_boots_splints_and_ankle_supports_are_never_an_afo(index: ValueSetIndex, code: str) -> None:
    assert features(index, HCPCS, code) == {"orthosis_not_for_gait"}


def test_dry_weight_is_a_weight_but_never_dialysis(index: ValueSetIndex) -> None:
    assert features(index, LOINC, "8341-0") == {"body_weight"}
    assert features(index, LOINC, "8344-4") == {"body_weight", "dialysis_weight"}


def test_esrd_with_transplant_is_transplant_not_esrd(index: ValueSetIndex) -> None:
    assert features(index, SNOMED, "236436003") == {"kidney_transplant"}
    assert features(index, ICD10CM, "T86.12") == {"kidney_transplant_failure"}
    assert features(index, ICD10CM, "Z91.151") == {"dialysis_or_esrd"}
    assert features(index, ICD10CM, "Z49.31") == {"dialysis_recent"}


# ------------------------------------------------------------------ contradictions
def all_probes(index: ValueSetIndex) -> set[tuple[str, str]]:
    """Every explicit code, every family and every ICD descendant of every family."""
    probes: set[tuple[str, str]] = set()
    for f in index.features:
        probes.update(index.codes(f))
        for m in index.families(f):
            probes.update((ICD10CM, c) for c in [m.code, *icd.get_descendants(m.code)])
    return probes


def test_contradictory_features_share_no_code(index: ValueSetIndex) -> None:
    for a, b in CONTRADICTORY:
        assert {a, b} <= index.features
    clashes = []
    for system, code in sorted(all_probes(index)):
        found = features(index, system, code)
        clashes += [(code, a, b) for a, b in CONTRADICTORY if a in found and b in found]
    assert clashes == []


def test_no_concept_is_listed_twice_in_one_feature(index: ValueSetIndex) -> None:
    for f in index.features:
        keys = [(m.system, m.code) for m in index.concepts(f)]
        assert len(keys) == len(set(keys)), f


def test_subsets_are_contained_in_their_sets(index: ValueSetIndex) -> None:
    """A subset adds a distinction (a caveat, an override reason) and never removes a code."""
    for subset, superset in [
        ("seizure_febrile_neonatal_provoked", "seizure_history"),
        ("creatinine_clearance_measured", "creatinine_clearance"),
        ("body_weight_self_reported", "body_weight"),
        ("dialysis_weight", "body_weight"),
    ]:
        assert set(index.codes(subset)) <= set(index.codes(superset)), subset


# ------------------------------------------------------------------ match_concept
def test_match_concept_accepts_r4b_models_and_dicts(index: ValueSetIndex) -> None:
    cc = CodeableConcept.model_validate(
        {
            "coding": [
                {"system": SNOMED, "code": "6077001", "display": "a local display"},
                {"system": "urn:oid:2.16.840.1.113883.6.90", "code": "M21372"},
                {"system": "http://example.org", "code": "x"},
            ],
            "text": "foot drop",
        }
    )
    matches = index.match_concept(cc)
    assert [(m.system, m.code) for m in matches] == [(SNOMED, "6077001"), (ICD10CM, "M21.37")]
    assert index.match_concept(cc.model_dump()) == matches
    assert index.match_concept(Coding(system=SNOMED, code="6077001")) == matches[:1]
    assert index.match_concept({"system": ICD10CM, "code": "G35"})[0].legacy is True


def test_match_concept_tolerates_empty_input(index: ValueSetIndex) -> None:
    assert index.match_concept(None) == ()
    assert index.match_concept({"text": "foot drop"}) == ()
    assert index.match_concept(CodeableConcept(text="foot drop")) == ()
    assert index.match_concept({"coding": "not a list"}) == ()
    assert index.match_concept({"coding": [{"system": 1, "code": None}]}) == ()


def test_match_concept_drops_exact_duplicates(index: ValueSetIndex) -> None:
    coding = {"system": SNOMED, "code": "6077001"}
    assert len(index.match_concept({"coding": [coding, coding]})) == 1


# ------------------------------------------------------------------ codes / orderable
def test_codes_lists_every_code_of_the_expansion(index: ValueSetIndex) -> None:
    assert index.codes("foot_drop") == (
        (ICD10CM, "M21.37"),
        (ICD10CM, "M21.371"),
        (ICD10CM, "M21.372"),
        (ICD10CM, "M21.379"),
        (SNOMED, "6077001"),
    )
    both = index.codes("foot_drop", "peroneal_neuropathy")
    assert set(both) == set(index.codes("foot_drop")) | set(index.codes("peroneal_neuropathy"))
    assert list(both) == sorted(set(both))
    assert (RXNORM, "897021") in index.codes("dalfampridine")
    assert (CPT, "27690") in index.codes("tendon_transfer")
    with pytest.raises(KeyError):
        index.codes("no_such_feature")


def test_orderable_excludes_legacy_recognise_only_and_unverified(index: ValueSetIndex) -> None:
    for f in index.features:
        for m in index.orderable(f):
            assert m.confidence in {"V", "V-ICD"} and not m.legacy and not m.recognise_only, m
    assert {m.code for m in index.orderable("botulinum")} == {"64642", "64643", "64644", "64645"}
    assert {m.code for m in index.orderable("tendon_transfer")} == {"27690", "27691", "27692"}
    assert "G35" not in {m.code for m in index.orderable("multiple_sclerosis")}
    assert {m.code for m in index.orderable("orthosis")} == {
        "308455005", "183160000", "L1930", "L1940", "L1960"
    }  # fmt: skip
    assert "703151001" not in {m.code for m in index.orderable("seizure_history")}
    assert index.orderable("orthosis_not_for_gait") == ()


# ------------------------------------------------------------------ loading
def copy_valuesets(tmp_path: Path) -> Path:
    target = tmp_path / "valuesets"
    shutil.copytree(DEFAULT_DIRECTORY, target)
    return target


def edit(path: Path, change: Any) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")


def test_load_from_a_directory(tmp_path: Path) -> None:
    target = copy_valuesets(tmp_path)
    assert ValueSetIndex.load(target).features == ValueSetIndex.load().features


def first_concept(data: dict[str, Any]) -> dict[str, Any]:
    concept: dict[str, Any] = data["compose"]["include"][0]["concept"][0]
    return concept


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(experimental="maybe"), "not a valid FHIR"),
        (lambda d: d.update(id="other"), "does not match the file name"),
        (lambda d: d.update(url="urn:x"), "url"),
        (lambda d: first_concept(d).pop("extension"), "confidence"),
        (lambda d: first_concept(d)["extension"][0].update(valueCode="X"), "confidence"),
        (lambda d: d["compose"]["include"][0].update(system="http://x.org"), "system"),
        (
            lambda d: d["compose"]["include"].append(d["compose"]["include"][0]),
            "duplicate code",
        ),
        (
            lambda d: d["compose"]["include"].append({"system": SNOMED}),
            "concepts, filters or valueSets",
        ),
        (lambda d: first_concept(d)["extension"][0].update(valueCode="B"), "recognise-only"),
        (lambda d: first_concept(d)["extension"][0].update(valueCode="U"), "never recognised"),
        (lambda d: d.pop("expansion"), "no expansion"),
        (lambda d: d["expansion"].update(total=1), "expansion.total"),
        (lambda d: first_concept(d).update(code="404684003"), "out of date"),
        (
            lambda d: d["compose"].update(
                exclude=[{"system": SNOMED, "concept": [{"code": "6077001"}]}]
            ),
            "both included and excluded",
        ),
        (
            lambda d: d["expansion"]["contains"][-1]["extension"].append(
                {"url": "urn:footdrop-cds:family", "valueCode": "M99"}
            ),
            "not a compose is-a filter",
        ),
        (
            lambda d: d["compose"]["include"].append(
                {"system": SNOMED, "filter": [{"property": "concept", "op": "is-a", "value": "1"}]}
            ),
            "filters",
        ),
    ],
)
def test_bad_content_fails_loudly_naming_the_file(
    tmp_path: Path, change: Any, message: str
) -> None:
    target = copy_valuesets(tmp_path)
    edit(target / "foot_drop.json", change)
    with pytest.raises(ValueError, match=message) as info:
        ValueSetIndex.load(target)
    assert "foot_drop.json" in str(info.value)


def test_invalid_json_and_empty_directory_fail(tmp_path: Path) -> None:
    target = copy_valuesets(tmp_path)
    (target / "foot_drop.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match=r"foot_drop\.json"):
        ValueSetIndex.load(target)
    with pytest.raises(ValueError, match="no value sets"):
        ValueSetIndex.load(tmp_path / "empty")
