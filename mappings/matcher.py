"""Constant-time matching of FHIR codings against the packaged feature value sets.

Each file in ``mappings/valuesets`` is one FHIR R4 ValueSet whose file stem is a feature id
(the contract with the features code). The value sets are the only source of codes: this
module holds no clinical content. Everything is indexed once at load so that a lookup is a
handful of dict probes, whatever the number of codes.

Why the rules below:

- ICD-10-CM families are ``is-a`` filters matched by prefix on the normalised code (uppercase,
  no dot) because EHRs send ``M21.371``, ``M21371`` and legacy non-leaf codes such as ``G35``.
- When one lookup hits a feature several ways, the most specific entry wins (an explicit
  concept over a family, a longer family over a shorter one), so a legacy parent listed
  explicitly (``G35``) is reported as legacy while its children are not.
- Displays are never compared: a local display that differs from ours is not a reason to miss
  a match.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fhir.resources.R4B.valueset import ValueSet

SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
CPT = "http://www.ama-assn.org/go/cpt"
LOCAL = "urn:footdrop-cds:local"

CONFIDENCE_URL = "urn:footdrop-cds:confidence"
LEGACY_URL = "urn:footdrop-cds:legacy"
DISPLAY_URL = "urn:footdrop-cds:display"
VALUESET_URL_PREFIX = "urn:footdrop-cds:valueset:"

CONFIDENCES = frozenset({"V", "V-ICD", "B", "U"})
ORDERABLE_CONFIDENCES = frozenset({"V", "V-ICD"})
KNOWN_SYSTEMS = frozenset({SNOMED, ICD10CM, LOINC, RXNORM, HCPCS, CPT, LOCAL})

# Well-known OID forms seen in C-CDA-derived and older FHIR data.
_OID_ALIASES = {
    "urn:oid:2.16.840.1.113883.6.96": SNOMED,
    "urn:oid:2.16.840.1.113883.6.90": ICD10CM,
    "urn:oid:2.16.840.1.113883.6.1": LOINC,
    "urn:oid:2.16.840.1.113883.6.88": RXNORM,
}
# Systems whose codes are case-insensitive alphanumerics: compare them upper-cased.
_UPPERCASE_SYSTEMS = frozenset({ICD10CM, HCPCS})
# Shortest ICD-10-CM family (a three-character category) and longest code (seven characters).
_MIN_FAMILY = 3
_MAX_ICD = 7

DEFAULT_DIRECTORY = Path(__file__).resolve().parent / "valuesets"


@dataclass(frozen=True)
class ConceptMatch:
    """One value-set entry that a coding matched.

    ``code`` and ``display`` are the value-set entry's own (for a family, the family code such
    as ``M21.37``), not the caller's; ``legacy`` entries are recognised but never ordered.
    """

    feature: str
    system: str
    code: str
    display: str
    confidence: str
    legacy: bool


def normalize_system(system: str | None) -> str | None:
    """Canonical system URI: stripped, no trailing slash, OID aliases resolved."""
    if system is None:
        return None
    text = system.strip().rstrip("/")
    if not text:
        return None
    return _OID_ALIASES.get(text.lower(), text)


def normalize_code(system: str, code: str | None) -> str | None:
    """Comparable form of a code: stripped; ICD-10-CM upper-case without dots; HCPCS upper."""
    if code is None:
        return None
    text = code.strip()
    if system == ICD10CM:
        text = text.replace(".", "")
    if system in _UPPERCASE_SYSTEMS:
        text = text.upper()
    return text or None


class ValueSetIndex:
    """All feature value sets, indexed for constant-time lookup."""

    def __init__(
        self,
        concepts: Mapping[str, tuple[ConceptMatch, ...]],
        families: Mapping[str, tuple[ConceptMatch, ...]],
    ) -> None:
        self._concepts = dict(concepts)
        self._families = dict(families)
        self.features: frozenset[str] = frozenset(self._concepts)
        exact: dict[tuple[str, str], list[ConceptMatch]] = {}
        prefix: dict[tuple[str, str], list[ConceptMatch]] = {}
        for entries in self._concepts.values():
            for m in entries:
                exact.setdefault((m.system, _norm(m.system, m.code)), []).append(m)
        for entries in self._families.values():
            for m in entries:
                prefix.setdefault((m.system, _norm(m.system, m.code)), []).append(m)
        self._exact = {k: tuple(v) for k, v in exact.items()}
        self._prefix = {k: tuple(v) for k, v in prefix.items()}

    @classmethod
    def load(cls, directory: Path | None = None) -> ValueSetIndex:
        """Read, validate (fhir.resources R4B) and index every ``*.json`` in ``directory``.

        Fails loudly: any bad file raises ValueError naming it, because a silently skipped
        value set would silently skip a red flag or a contraindication.
        """
        root = DEFAULT_DIRECTORY if directory is None else Path(directory)
        paths = sorted(root.glob("*.json"))
        if not paths:
            raise ValueError(f"no value sets (*.json) found in {root}")
        concepts: dict[str, tuple[ConceptMatch, ...]] = {}
        families: dict[str, tuple[ConceptMatch, ...]] = {}
        for path in paths:
            try:
                concepts[path.stem], families[path.stem] = _read_valueset(path)
            except ValueError as exc:
                raise ValueError(f"{path}: {exc}") from exc
        return cls(concepts, families)

    def match(self, system: str | None, code: str | None) -> tuple[ConceptMatch, ...]:
        """Features whose value set contains (system, code); one match per feature."""
        sys_ = normalize_system(system)
        if sys_ is None:
            return ()
        norm = normalize_code(sys_, code)
        if norm is None:
            return ()
        best: dict[str, ConceptMatch] = {}
        for m in self._exact.get((sys_, norm), ()):
            best.setdefault(m.feature, m)
        if sys_ == ICD10CM:
            for length in range(min(len(norm), _MAX_ICD), _MIN_FAMILY - 1, -1):
                for m in self._prefix.get((sys_, norm[:length]), ()):
                    best.setdefault(m.feature, m)
        return tuple(best[f] for f in sorted(best))

    def match_concept(self, concept: object) -> tuple[ConceptMatch, ...]:
        """Matches for every coding of a CodeableConcept or a single Coding (model or dict).

        Several codings may match one feature (e.g. SNOMED and ICD); all are returned, in
        coding order, without exact duplicates.
        """
        out: dict[ConceptMatch, None] = {}
        for coding in _codings(concept):
            for m in self.match(_text(coding, "system"), _text(coding, "code")):
                out.setdefault(m, None)
        return tuple(out)

    def codes(self, feature: str) -> tuple[tuple[str, str], ...]:
        """Explicit (system, code) pairs of a feature, e.g. for prefetch queries.

        ICD-10-CM families are not expanded here: see :meth:`families`.
        """
        return tuple((m.system, m.code) for m in self.concepts(feature))

    def concepts(self, feature: str) -> tuple[ConceptMatch, ...]:
        """Explicit concepts of a feature, in file order."""
        self._check(feature)
        return self._concepts[feature]

    def families(self, feature: str) -> tuple[ConceptMatch, ...]:
        """ICD-10-CM ``is-a`` families of a feature (``code`` is the family)."""
        self._check(feature)
        return self._families[feature]

    def orderable(self, feature: str) -> tuple[ConceptMatch, ...]:
        """Explicit concepts safe to put on a new order: confidence V or V-ICD, not legacy."""
        return tuple(
            m
            for m in self.concepts(feature)
            if m.confidence in ORDERABLE_CONFIDENCES and not m.legacy
        )

    def _check(self, feature: str) -> None:
        if feature not in self.features:
            raise KeyError(f"unknown feature {feature!r}")


def _norm(system: str, code: str) -> str:
    norm = normalize_code(system, code)
    if norm is None:  # excluded by _read_valueset
        raise ValueError(f"empty code in {system}")
    return norm


def _read_valueset(path: Path) -> tuple[tuple[ConceptMatch, ...], tuple[ConceptMatch, ...]]:
    """Validate one file and return its (explicit concepts, ICD families)."""
    feature = path.stem
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        ValueSet.model_validate(data)
    except Exception as exc:  # any parse or FHIR validation error
        raise ValueError(f"not a valid FHIR R4B ValueSet: {exc}") from exc
    if data.get("id") != feature.replace("_", "-"):
        raise ValueError(f"id {data.get('id')!r} does not match the file name")
    if data.get("url") != VALUESET_URL_PREFIX + feature:
        raise ValueError(f"url {data.get('url')!r} is not {VALUESET_URL_PREFIX}{feature}")
    concepts: list[ConceptMatch] = []
    families: list[ConceptMatch] = []
    seen: set[tuple[bool, str, str]] = set()
    for include in data.get("compose", {}).get("include", []):
        system = include.get("system")
        if system not in KNOWN_SYSTEMS:
            raise ValueError(f"unsupported or missing system {system!r}")
        if "valueSet" in include or not (include.get("concept") or include.get("filter")):
            raise ValueError(f"include of {system} must list concepts or filters only")
        for concept in include.get("concept", []):
            raw = str(concept["code"])
            code = _norm(system, raw)
            conf, legacy, _ = _extensions(concept, f"{system}|{raw}")
            if (False, system, code) in seen:
                raise ValueError(f"duplicate code {system}|{raw}")
            seen.add((False, system, code))
            display = str(concept.get("display", ""))
            concepts.append(ConceptMatch(feature, system, raw, display, conf, legacy))
        for flt in include.get("filter", []):
            if system != ICD10CM or flt.get("property") != "concept" or flt.get("op") != "is-a":
                raise ValueError(f"only ICD-10-CM 'concept is-a' filters are supported ({system})")
            value = str(flt["value"])
            code = _norm(system, value)
            if not _MIN_FAMILY <= len(code) <= _MAX_ICD:
                raise ValueError(f"ICD-10-CM family {value!r} has an impossible length")
            conf, legacy, display = _extensions(flt, f"{system}|{value}")
            if (True, system, code) in seen:
                raise ValueError(f"duplicate family {system}|{value}")
            seen.add((True, system, code))
            families.append(ConceptMatch(feature, system, value, display, conf, legacy))
    return tuple(concepts), tuple(families)


def _extensions(element: Mapping[str, Any], where: str) -> tuple[str, bool, str]:
    """(confidence, legacy, display extension) of a concept or filter; confidence required."""
    conf: str | None = None
    legacy = False
    display = ""
    for ext in element.get("extension", []):
        url = ext.get("url")
        if url == CONFIDENCE_URL:
            conf = ext.get("valueCode")
        elif url == LEGACY_URL:
            legacy = ext.get("valueBoolean") is True
        elif url == DISPLAY_URL:
            display = str(ext.get("valueString", ""))
    if conf is None or conf not in CONFIDENCES:
        raise ValueError(f"{where}: missing or invalid {CONFIDENCE_URL} ({conf!r})")
    return conf, legacy, display


def _codings(concept: object) -> Iterable[object]:
    """The codings of a CodeableConcept, or the Coding itself, from a model or a dict."""
    if concept is None:
        return ()
    if isinstance(concept, Mapping):
        codings = concept.get("coding")
        if codings is None and ("code" in concept or "system" in concept):
            return (concept,)
    else:
        codings = getattr(concept, "coding", None)
        if codings is None and hasattr(concept, "code"):
            return (concept,)
    if isinstance(codings, str | bytes) or not isinstance(codings, Iterable):
        return ()
    return tuple(codings)


def _text(coding: object, name: str) -> str | None:
    value = coding.get(name) if isinstance(coding, Mapping) else getattr(coding, name, None)
    return value if isinstance(value, str) else None
