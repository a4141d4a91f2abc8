"""Every ICD-10-CM code and family exists in the current code set with its tabular display.

simple_icd_10_cm 1.5 bundles the CMS April 2026 tabular (codes.md source S7).
"""

from __future__ import annotations

import pytest
import simple_icd_10_cm as icd

from mappings.matcher import ICD10CM, ConceptMatch, ValueSetIndex

INDEX = ValueSetIndex.load()
CONCEPTS = [m for f in sorted(INDEX.features) for m in INDEX.concepts(f) if m.system == ICD10CM]
FAMILIES = [m for f in sorted(INDEX.features) for m in INDEX.families(f)]


def label(m: ConceptMatch) -> str:
    return f"{m.feature}:{m.code}"


def same_display(ours: str, code: str) -> bool:
    return ours.casefold() == str(icd.get_description(code)).casefold()


@pytest.mark.parametrize("m", CONCEPTS, ids=[label(m) for m in CONCEPTS])
def test_icd_concept_exists_with_tabular_display(m: ConceptMatch) -> None:
    assert icd.is_valid_item(m.code)
    assert same_display(m.display, m.code)
    assert m.confidence == "V-ICD"
    # Only legacy parents may be non-leaf; everything else listed explicitly is billable.
    assert icd.is_leaf(m.code) or m.legacy


@pytest.mark.parametrize("m", FAMILIES, ids=[label(m) for m in FAMILIES])
def test_icd_family_exists_with_tabular_display(m: ConceptMatch) -> None:
    assert icd.is_valid_item(m.code)
    assert not icd.is_leaf(m.code), "a leaf belongs in concept, not in an is-a filter"
    assert same_display(m.display, m.code)
    assert m.confidence == "V-ICD"


@pytest.mark.parametrize("m", FAMILIES, ids=[label(m) for m in FAMILIES])
def test_every_descendant_of_a_family_matches_its_feature(m: ConceptMatch) -> None:
    for code in [m.code, *icd.get_descendants(m.code)]:
        for form in (code, code.replace(".", ""), f" {code.lower()} "):
            assert m.feature in {x.feature for x in INDEX.match(ICD10CM, form)}, form


def test_legacy_parents_are_non_leaf_in_the_current_code_set() -> None:
    for code in ("G35", "M51.36", "M51.37"):
        assert icd.is_valid_item(code)
        assert not icd.is_leaf(code)
