"""Which value-set codes count, the same for the record and the orders.

clinical-logic v3: V and V-ICD codes are recognised in patient data and in orders;
a B code marked "recognise" (codes real data carries, such as Synthea's 703151001)
is recognised; U codes never are (but this project's own local codes, marked the
same way). `mappings.matcher` enforces that policy when it loads the value sets,
so every match it returns counts. Every reader of codes — Conditions,
Observations, allergies, care and draft orders — matches through
`recognised_matches`, so no reader can apply a policy of its own: a draft order is
recognised by exactly the codes that recognise the same item in the record.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from mappings.matcher import ConceptMatch, ValueSetIndex
from service.fhir.readers import Concept


def recognised_matches(
    index: ValueSetIndex, concepts: Iterable[Concept]
) -> tuple[ConceptMatch, ...]:
    """The value-set entries every coding of `concepts` matches, in coding order, once each."""
    found: dict[ConceptMatch, None] = {}
    for concept in concepts:
        for coding in concept.codings:
            for match in _match(index, coding.system, coding.code):
                found.setdefault(match, None)
    return tuple(found)


def features_of_codes(
    index: ValueSetIndex, codes: Iterable[tuple[str | None, str | None]]
) -> set[str]:
    """The features raw (system, code) pairs match (`readers.glance_concept`): the same
    matches, through the same memory, as `recognised_matches` on the concepts read in full."""
    return {match.feature for system, code in codes for match in _match(index, system, code)}


@lru_cache(maxsize=1 << 16)
def _match(index: ValueSetIndex, system: str | None, code: str | None) -> tuple[ConceptMatch, ...]:
    """`index.match`, remembered: a record repeats its codes (every vital sign, every visit)."""
    return index.match(system, code)
