"""Clinical content stays in reviewable data files, never in Python.

Value sets live in mappings/valuesets, order bodies in cards/orders, wording in
cards/templates; a SNOMED CT, ICD-10-CM, LOINC or RxNorm code written into the
code would escape clinical review, so this test looks for code-shaped literals.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CODE_SHAPED = {
    "SNOMED CT / RxNorm": re.compile(r"""["'][0-9]{5,18}["']"""),
    "ICD-10-CM": re.compile(r"""["'][A-TV-Z][0-9]{2}(\.[0-9A-Z]{1,4})?["']"""),
    "LOINC": re.compile(r"""["'][0-9]{3,5}-[0-9]["']"""),
    "HCPCS": re.compile(r"""["'][A-Z][0-9]{4}["']"""),
}
SOURCES = sorted(
    path
    for package in ("service", "cards", "mappings")
    for path in (ROOT / package).rglob("*.py")
    if "migrations" not in path.parts
)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_clinical_code_literals(path: Path) -> None:
    text = path.read_text()
    found = [
        f"{kind}: {match.group(0)}"
        for kind, regex in CODE_SHAPED.items()
        for match in regex.finditer(text)
    ]
    assert found == [], f"{path.name} holds code-shaped literals: {found}"


def test_the_check_finds_a_code() -> None:
    assert CODE_SHAPED["ICD-10-CM"].search('FOOT_DROP = "M21.37"')
    assert CODE_SHAPED["LOINC"].search("'24968-0'")
    assert CODE_SHAPED["SNOMED CT / RxNorm"].search('"6077001"')
