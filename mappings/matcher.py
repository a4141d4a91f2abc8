"""Constant-time matching of FHIR codings against the packaged feature value sets.

Each file in ``mappings/valuesets`` is one FHIR R4 ValueSet whose file stem is a feature id
(the contract with the features code; ``mappings/README.md`` lists them). The value sets are
the only source of codes: this module holds no clinical content. Membership is read from the
stored ``ValueSet.expansion`` (written by ``python -m mappings expand``), so the service needs
neither the ICD-10-CM code set nor the published source files at run time, and a lookup is a
handful of dict probes whatever the number of codes.

One confidence policy (clinical-logic v3 §intro, codes.md §0), enforced when a file is loaded:

- V and V-ICD codes are recognised in patient data and in orders, and may be emitted on
  suggestions unless marked ``recognise-only`` or ``legacy``.
- A B code is recognised (in data and as a trigger on draft orders) only when marked
  ``recognise-only`` (codes real data carries, such as Synthea's history-of-seizure code); it
  is never emitted. A U code is never recognised, except this project's own local codes,
  which are marked ``recognise-only``. Any other B or U entry makes the file fail to load, so
  every match returned is a recognised code and callers have nothing to filter.

Why the matching rules below:

- ICD-10-CM codes are compared uppercase without dots because EHRs send ``M21.371``,
  ``M21371`` and legacy non-leaf codes such as ``G35``; the expansion holds every code of an
  ``is-a`` family, the non-leaf ones included. A code under a family prefix that the
  expansion does not list (a newer code-set release) still matches the family.
- When one lookup hits a feature several ways, the most specific entry wins (an explicit
  concept over a family, a longer family over a shorter one), so a legacy parent listed
  explicitly (``G35``) is reported as legacy while its children are not.
- A code reached through a family is reported as the family entry (``M21.37``), the level
  at which the value set was reviewed.
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
DICOM = "http://dicom.nema.org/resources/ontology/DCM"
LOCAL = "urn:footdrop-cds:local"

CONFIDENCE_URL = "urn:footdrop-cds:confidence"
LEGACY_URL = "urn:footdrop-cds:legacy"
RECOGNISE_ONLY_URL = "urn:footdrop-cds:recognise-only"
DISPLAY_URL = "urn:footdrop-cds:display"
#: On an expansion entry: the compose ``is-a`` family the code was expanded from.
FAMILY_URL = "urn:footdrop-cds:family"
#: On an expansion entry: a published value set (canonical URL) that lists the code.
PUBLISHED_URL = "urn:footdrop-cds:published"
VALUESET_URL_PREFIX = "urn:footdrop-cds:valueset:"

CONFIDENCES = frozenset({"V", "V-ICD", "B", "U"})
#: Confidences whose codes may be emitted on a suggestion (unless recognise-only or legacy).
ORDERABLE_CONFIDENCES = frozenset({"V", "V-ICD"})
KNOWN_SYSTEMS = frozenset({SNOMED, ICD10CM, LOINC, RXNORM, HCPCS, CPT, DICOM, LOCAL})

# Other spellings of these systems seen in C-CDA-derived, VSAC-derived and older FHIR data.
_SYSTEM_ALIASES = {
    "urn:oid:2.16.840.1.113883.6.96": SNOMED,
    "urn:oid:2.16.840.1.113883.6.90": ICD10CM,
    "urn:oid:2.16.840.1.113883.6.1": LOINC,
    "urn:oid:2.16.840.1.113883.6.88": RXNORM,
    "http://www.nlm.nih.gov/research/umls/hcpcs": HCPCS,
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
    as ``M21.37``), not the caller's. Every match is recognised (module docstring);
    ``emittable`` says whether the code may also be put on a suggested order.
    """

    feature: str
    system: str
    code: str
    display: str
    confidence: str
    legacy: bool
    recognise_only: bool = False

    @property
    def emittable(self) -> bool:
        """V or V-ICD, and neither recognise-only nor legacy."""
        return (
            self.confidence in ORDERABLE_CONFIDENCES and not self.recognise_only and not self.legacy
        )


@dataclass(frozen=True)
class EntryFlags:
    """What the extensions of a compose or expansion element say about its codes."""

    confidence: str
    legacy: bool
    recognise_only: bool
    display: str


def normalize_system(system: str | None) -> str | None:
    """Canonical system URI: stripped, no trailing slash, aliases resolved."""
    if system is None:
        return None
    text = system.strip().rstrip("/")
    if not text:
        return None
    return _SYSTEM_ALIASES.get(text.lower(), text)


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


def entry_flags(element: Mapping[str, Any], system: str, where: str) -> EntryFlags:
    """Read and check the confidence policy of one element; raise ValueError if it breaks it."""
    conf: str | None = None
    legacy = recognise_only = False
    display = ""
    for ext in element.get("extension", []):
        url = ext.get("url")
        if url == CONFIDENCE_URL:
            conf = ext.get("valueCode")
        elif url == LEGACY_URL:
            legacy = ext.get("valueBoolean") is True
        elif url == RECOGNISE_ONLY_URL:
            recognise_only = ext.get("valueBoolean") is True
        elif url == DISPLAY_URL:
            display = str(ext.get("valueString", ""))
    if conf is None or conf not in CONFIDENCES:
        raise ValueError(f"{where}: missing or invalid {CONFIDENCE_URL} ({conf!r})")
    if conf == "B" and not recognise_only:
        raise ValueError(f"{where}: a B code is recognised only when marked {RECOGNISE_ONLY_URL}")
    if conf == "U" and not (system == LOCAL and recognise_only):
        raise ValueError(f"{where}: U codes are never recognised (only recognise-only local codes)")
    return EntryFlags(conf, legacy, recognise_only, display)


@dataclass(frozen=True)
class _LoadedValueSet:
    concepts: tuple[ConceptMatch, ...]
    families: tuple[ConceptMatch, ...]
    members: Mapping[tuple[str, str], ConceptMatch]
    codes: tuple[tuple[str, str], ...]


class ValueSetIndex:
    """All feature value sets, indexed for constant-time lookup."""

    def __init__(self, valuesets: Mapping[str, _LoadedValueSet]) -> None:
        self._valuesets = dict(valuesets)
        self.features: frozenset[str] = frozenset(self._valuesets)
        exact: dict[tuple[str, str], list[ConceptMatch]] = {}
        prefix: dict[tuple[str, str], list[ConceptMatch]] = {}
        for loaded in self._valuesets.values():
            for key, m in loaded.members.items():
                exact.setdefault(key, []).append(m)
            for m in loaded.families:
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
        loaded: dict[str, _LoadedValueSet] = {}
        for path in paths:
            try:
                loaded[path.stem] = _read_valueset(path)
            except ValueError as exc:
                raise ValueError(f"{path}: {exc}") from exc
        return cls(loaded)

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

    def codes(self, *features: str) -> tuple[tuple[str, str], ...]:
        """Every (system, code) of the features' expansions, sorted: what a query must carry.

        Explicit concepts, published value-set codes and every code of each ICD-10-CM family
        (the non-leaf ones included), as the expansion stores them (ICD-10-CM dotted).
        """
        for feature in features:
            self._check(feature)
        return tuple(sorted({c for f in features for c in self._valuesets[f].codes}))

    def concepts(self, feature: str) -> tuple[ConceptMatch, ...]:
        """Concepts listed by the value set itself or by a published set it includes."""
        self._check(feature)
        return self._valuesets[feature].concepts

    def families(self, feature: str) -> tuple[ConceptMatch, ...]:
        """ICD-10-CM ``is-a`` families of a feature (``code`` is the family)."""
        self._check(feature)
        return self._valuesets[feature].families

    def orderable(self, feature: str) -> tuple[ConceptMatch, ...]:
        """Concepts safe to put on a new order (:attr:`ConceptMatch.emittable`)."""
        return tuple(m for m in self.concepts(feature) if m.emittable)

    def _check(self, feature: str) -> None:
        if feature not in self.features:
            raise KeyError(f"unknown feature {feature!r}")


def _norm(system: str, code: str) -> str:
    norm = normalize_code(system, code)
    if norm is None:
        raise ValueError(f"empty code in {system}")
    return norm


def _read_valueset(path: Path) -> _LoadedValueSet:
    """Validate one file: its compose (the reviewed definition) and its stored expansion."""
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
    compose = read_compose(feature, data.get("compose", {}))
    members: dict[tuple[str, str], ConceptMatch] = {}
    concepts: list[ConceptMatch] = []
    families = {m.code: m for m in compose.families}
    expansion = data.get("expansion")
    if not isinstance(expansion, Mapping):
        raise ValueError("no expansion: run `python -m mappings expand`")
    contains = expansion.get("contains", [])
    if expansion.get("total") != len(contains):
        raise ValueError(f"expansion.total {expansion.get('total')!r} != {len(contains)} entries")
    for entry in contains:
        system, raw = entry.get("system"), str(entry.get("code", ""))
        if system not in KNOWN_SYSTEMS:
            raise ValueError(f"expansion: unsupported or missing system {system!r}")
        where = f"expansion {system}|{raw}"
        key = (system, _norm(system, raw))
        if key in members:
            raise ValueError(f"{where}: listed twice")
        family = next(
            (e["valueCode"] for e in entry.get("extension", []) if e["url"] == FAMILY_URL), None
        )
        if family is not None:
            if family not in families or not key[1].startswith(_norm(system, family)):
                raise ValueError(f"{where}: family {family!r} is not a compose is-a filter")
            members[key] = families[family]
            continue
        flags = entry_flags(entry, system, where)
        m = ConceptMatch(
            feature, system, raw, str(entry.get("display", "")), flags.confidence,
            flags.legacy, flags.recognise_only,
        )  # fmt: skip
        members[key] = m
        concepts.append(m)
    stale = [f"{s}|{c}" for s, c in compose.required if (s, _norm(s, c)) not in members]
    stale += [f"{s}|{c} (excluded)" for s, c in compose.excluded if (s, _norm(s, c)) in members]
    if stale:
        raise ValueError(
            f"expansion out of date ({', '.join(stale)}): run `python -m mappings expand`"
        )
    codes = tuple(sorted((str(e["system"]), str(e["code"])) for e in contains))
    return _LoadedValueSet(tuple(concepts), compose.families, members, codes)


@dataclass(frozen=True)
class PublishedInclude:
    """``compose.include`` of the codes of one system that published value sets list."""

    system: str
    valuesets: tuple[str, ...]
    flags: EntryFlags


@dataclass(frozen=True)
class Compose:
    """The reviewed definition of one value set, as read from ``ValueSet.compose``."""

    concepts: tuple[ConceptMatch, ...]
    families: tuple[ConceptMatch, ...]
    published: tuple[PublishedInclude, ...]
    excluded: tuple[tuple[str, str], ...]

    @property
    def required(self) -> tuple[tuple[str, str], ...]:
        """Codes the expansion must hold whatever the sources say: concepts and families."""
        return tuple((m.system, m.code) for m in (*self.concepts, *self.families))


def read_compose(feature: str, compose: Mapping[str, Any]) -> Compose:
    """Check the shapes this project allows and read them; raise ValueError otherwise.

    An include lists concepts, or holds one ICD-10-CM ``concept is-a`` filter, or names
    published value sets for one system (its extensions then apply to all their codes). An
    exclude lists concepts: the spec's reviewed exceptions to a published set.
    """
    concepts: list[ConceptMatch] = []
    families: list[ConceptMatch] = []
    published: list[PublishedInclude] = []
    seen: set[tuple[bool, str, str]] = set()
    for include in compose.get("include", []):
        system = include.get("system")
        if system not in KNOWN_SYSTEMS:
            raise ValueError(f"unsupported or missing system {system!r}")
        kinds = [k for k in ("concept", "filter", "valueSet") if include.get(k)]
        if len(kinds) != 1:
            raise ValueError(f"include of {system} must list concepts, filters or valueSets")
        for concept in include.get("concept", []):
            raw = str(concept["code"])
            flags = entry_flags(concept, system, f"{system}|{raw}")
            if (False, system, _norm(system, raw)) in seen:
                raise ValueError(f"duplicate code {system}|{raw}")
            seen.add((False, system, _norm(system, raw)))
            concepts.append(
                _concept_match(feature, system, raw, str(concept.get("display", "")), flags)
            )
        for flt in include.get("filter", []):
            if system != ICD10CM or flt.get("property") != "concept" or flt.get("op") != "is-a":
                raise ValueError(f"only ICD-10-CM 'concept is-a' filters are supported ({system})")
            value = str(flt["value"])
            if not _MIN_FAMILY <= len(_norm(system, value)) <= _MAX_ICD:
                raise ValueError(f"ICD-10-CM family {value!r} has an impossible length")
            flags = entry_flags(flt, system, f"{system}|{value}")
            if (True, system, _norm(system, value)) in seen:
                raise ValueError(f"duplicate family {system}|{value}")
            seen.add((True, system, _norm(system, value)))
            families.append(_concept_match(feature, system, value, flags.display, flags))
        if include.get("valueSet"):
            flags = entry_flags(include, system, f"{system} from {include['valueSet']}")
            published.append(PublishedInclude(system, tuple(include["valueSet"]), flags))
    excluded: list[tuple[str, str]] = []
    for exclude in compose.get("exclude", []):
        system = exclude.get("system")
        if system not in KNOWN_SYSTEMS or not exclude.get("concept") or len(exclude) != 2:
            raise ValueError(f"exclude of {system!r} must list concepts of a known system only")
        excluded += [(system, str(c["code"])) for c in exclude["concept"]]
    clash = {(m.system, _norm(m.system, m.code)) for m in concepts} & {
        (s, _norm(s, c)) for s, c in excluded
    }
    if clash:
        raise ValueError(f"codes both included and excluded: {sorted(clash)}")
    return Compose(tuple(concepts), tuple(families), tuple(published), tuple(excluded))


def _concept_match(
    feature: str, system: str, code: str, display: str, flags: EntryFlags
) -> ConceptMatch:
    return ConceptMatch(
        feature, system, code, display, flags.confidence, flags.legacy, flags.recognise_only
    )


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
