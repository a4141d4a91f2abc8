"""Find clinical phrases in free text, with negation, as `text_patterns.json` defines them.

The words are data (reviewable by clinicians); this module only applies them. A
mention counts when, in its clause, it is not preceded by a negation cue within a
few words ("no progression", "denies worsening"), the clause holds no state cue
("stable", "improving"), and, for groups that say what the mention must be about,
the clause is not about something else ("worsening back pain"). Disease names that
contain a term ("secondary progressive multiple sclerosis") are blanked out first.

This is a NegEx-style heuristic, not language understanding: "no pain and worsening
weakness" reads as negated, because "no" is within the window. That errs towards
not reading a finding, which is why text alone never makes a card critical.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from mappings.matcher import normalize_code, normalize_system

Side = Literal["right", "left", "bilateral"]
SIDES: tuple[Side, ...] = ("bilateral", "right", "left")

DEFAULT_PATH = Path(__file__).resolve().parent / "text_patterns.json"

_CLAUSE_END = re.compile(r"[.;:!?,\n\r]|\b(?:but|however|although)\b", re.IGNORECASE)
_WORD = re.compile(r"[\w'-]+")


@dataclass(frozen=True)
class TextMatch:
    """An affirmed mention: the group, the words as written and the clause around them."""

    group: str
    term: str
    clause: str


def _phrase_regex(phrases: Iterable[str]) -> re.Pattern[str] | None:
    """One regex for whole-word phrases, longest first, any whitespace between words."""
    parts = sorted({p.strip() for p in phrases if p.strip()}, key=len, reverse=True)
    if not parts:
        return None
    alternatives = (r"\s+".join(re.escape(word) for word in p.split()) for p in parts)
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)", re.IGNORECASE)


def _union(*patterns: re.Pattern[str] | None) -> re.Pattern[str] | None:
    sources = [p.pattern for p in patterns if p is not None]
    return re.compile("|".join(f"(?:{s})" for s in sources), re.IGNORECASE) if sources else None


@dataclass(frozen=True)
class _Group:
    name: str
    terms: re.Pattern[str]
    ignore: re.Pattern[str] | None
    negated: bool
    before: re.Pattern[str] | None
    clause: re.Pattern[str] | None
    about: re.Pattern[str] | None
    not_about: re.Pattern[str] | None


class TextPatterns:
    """The loaded pattern groups, negation cues and laterality words."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        negation = data["negation"]
        self._window = int(negation["window_words"])
        before = _phrase_regex(negation["before"])
        clause = _phrase_regex(negation["clause"])
        self._groups: dict[str, _Group] = {}
        for name, spec in data["groups"].items():
            terms = _union(
                _phrase_regex(spec.get("terms", [])),
                *(re.compile(p, re.IGNORECASE) for p in spec.get("patterns", [])),
            )
            if terms is None:
                raise ValueError(f"text group {name!r} has no terms or patterns")
            self._groups[name] = _Group(
                name=name,
                terms=terms,
                ignore=_phrase_regex(spec.get("ignore", [])),
                negated=bool(spec["negated"]),
                before=_union(before, _phrase_regex(spec.get("negation_before", []))),
                clause=_union(clause, _phrase_regex(spec.get("negation_clause", []))),
                about=_phrase_regex(spec.get("about", [])),
                not_about=_phrase_regex(spec.get("not_about", [])),
            )
        self._absent = _phrase_regex(data["absent_values"])
        laterality = data["laterality"]
        self._code_sides: dict[tuple[str, str], Side] = {}
        for row in laterality["codes"]:
            system = normalize_system(row["system"])
            code = normalize_code(system, row["code"]) if system else None
            if system is None or code is None or row["side"] not in SIDES:
                raise ValueError(f"bad laterality row {row!r}")
            self._code_sides[(system, code)] = row["side"]
        self._side_words = {side: _phrase_regex(laterality["words"][side]) for side in SIDES}

    @classmethod
    def load(cls, path: Path | None = None) -> TextPatterns:
        """Read and compile the pattern file; a bad file fails loudly, naming itself."""
        source = DEFAULT_PATH if path is None else path
        try:
            return cls(json.loads(source.read_text(encoding="utf-8")))
        except (KeyError, TypeError, ValueError, re.error) as exc:
            raise ValueError(f"{source}: {exc}") from exc

    @property
    def groups(self) -> frozenset[str]:
        return frozenset(self._groups)

    def find(self, group: str, text: str | None) -> TextMatch | None:
        """The first affirmed mention of `group` in `text`, or None."""
        if not text:
            return None
        spec = self._groups[group]
        cleaned = _blank(spec.ignore, text)
        for clause in _clauses(cleaned):
            for match in spec.terms.finditer(clause):
                if spec.negated and self._is_negated(spec, clause, match.start()):
                    continue
                if not _is_about(spec, clause):
                    continue
                return TextMatch(group=group, term=match.group(0), clause=clause.strip())
        return None

    def is_absent_value(self, text: str | None) -> bool:
        """True when an observation's coded or text value says the finding is absent."""
        return bool(text and self._absent and self._absent.fullmatch(text.strip()))

    def side_of_code(self, system: str | None, code: str | None) -> Side | None:
        norm_system = normalize_system(system)
        norm_code = normalize_code(norm_system, code) if norm_system else None
        if norm_system is None or norm_code is None:
            return None
        return self._code_sides.get((norm_system, norm_code))

    def side_of_text(self, text: str | None) -> Side | None:
        """The side a bodySite text names; both words, or a bilateral word, mean bilateral."""
        if not text:
            return None
        found = {side for side, regex in self._side_words.items() if regex and regex.search(text)}
        if "bilateral" in found or {"right", "left"} <= found:
            return "bilateral"
        return next((side for side in ("right", "left") if side in found), None)

    def _is_negated(self, spec: _Group, clause: str, start: int) -> bool:
        if spec.clause and spec.clause.search(clause):
            return True
        if spec.before is None:
            return False
        for cue in spec.before.finditer(clause, 0, start):
            between = _WORD.findall(clause[cue.end() : start])
            if len(between) <= self._window:
                return True
        return False


def _is_about(spec: _Group, clause: str) -> bool:
    """False when the clause is about an excluded subject and names no wanted one."""
    if spec.not_about is None or not spec.not_about.search(clause):
        return True
    return bool(spec.about and spec.about.search(clause))


def _blank(regex: re.Pattern[str] | None, text: str) -> str:
    """Replace matches by spaces of the same length, so offsets and clauses stay put."""
    return regex.sub(lambda m: " " * len(m.group(0)), text) if regex else text


def _clauses(text: str) -> list[str]:
    return [part for part in _CLAUSE_END.split(text) if part and part.strip()]


@lru_cache(maxsize=1)
def default_patterns() -> TextPatterns:
    """The packaged patterns, loaded once per process."""
    return TextPatterns.load()
