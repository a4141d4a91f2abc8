"""Units as records write them, cleaned once for every table that converts them."""

from __future__ import annotations


def unit_key(unit: str) -> str:
    """A unit as a lookup key: trimmed, lower case, no spaces, micro as "u" (UCUM brackets kept).

    "mg/dL", " µmol/L", "μmol / L" and "[lb_av]" become "mg/dl", "umol/l", "umol/l" and
    "[lb_av]", so one conversion table serves UCUM codes and the common free-text spellings.
    """
    return unit.strip().lower().replace("µ", "u").replace("μ", "u").replace(" ", "")
