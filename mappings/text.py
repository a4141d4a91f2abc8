"""Read clinical phrases in free text, NegEx-style, as `text_patterns.json` defines them.

The words are data (reviewable by clinicians); this module only applies them. Every
mention of a group's terms gets a *reading*:

    affirmed      the patient's finding, as written
    suspected     a suspicion cue applies ("?cauda equina", "r/o", "to exclude")
    historical    an earlier state ("history of urinary retention", "previously worsening")
    verify        must be checked before it is relied on ("non-epileptic seizures",
                  "seizure precautions")
    hypothetical  a condition, not a finding ("return if weakness worsens")
    not_patient   someone else's ("family history of epilepsy")
    negated       denied or absent ("no urinary retention", "weakness stable")

A cue reaches a term only within its own scope (NegEx, Chapman 2001): the same
sentence, no termination word ("but", "despite", ";" ...) between, at most
`window_words` words away, and not past a comma or "and" unless what lies between
is a list of like findings ("denies urinary retention, saddle numbness") or a list
closed by "or" ("denies fever, chills or urinary retention"). When several cues reach
a term, the group's cue order decides; when a text has several mentions, the most
safety-relevant reading wins (the order of `READINGS`).

How feature code calls it:

- `find(group, text) -> TextMatch | None`: the first mention whose reading the group
  lists as `found` (default: affirmed). Unchanged for the v2 groups; for `seizure` it
  also returns `verify` mentions and for the red-flag groups `suspected` ones, so a
  boolean caller never drops what must not be missed.
- `read(group, text) -> TextMatch | None`: the decisive mention with its `reading`
  and `cue`; None when the text names no term of the group. The seizure reading is
  three-valued: `affirmed` (seizure history) / `verify` / anything else or None
  (nothing). Red flags: `affirmed` or `suspected` (the finding), `historical` (an
  older finding), anything else or None (nothing). Progression: only `affirmed`.
- `readings(group, text)`: every mention, in text order.
- `find_name(group, text)`: the group's terms as an order name, with no cue at all
  (clinical-logic v3 §4: "MRI L-spine w/o contrast" is an orderable, not a negation);
  `order_features(text)`: every group with an `order_feature`, matched that way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, cast

from mappings.matcher import normalize_code, normalize_system

Side = Literal["right", "left", "bilateral"]
SIDES: tuple[Side, ...] = ("bilateral", "right", "left")

Reading = Literal[
    "affirmed", "suspected", "historical", "verify", "hypothetical", "not_patient", "negated"
]
#: Most safety-relevant first: when one text holds several mentions, the first wins.
READINGS: tuple[Reading, ...] = (
    "affirmed",
    "suspected",
    "historical",
    "verify",
    "hypothetical",
    "not_patient",
    "negated",
)

DEFAULT_PATH = Path(__file__).resolve().parent / "text_patterns.json"

_WORD = re.compile(r"[\w'/]+")
_TOKEN = re.compile(r"\w+")
_PART = re.compile(r"\{\{(\w+)\}\}")


@dataclass(frozen=True)
class TextMatch:
    """One mention: the group, the words as written, their sentence, reading and cue."""

    group: str
    term: str
    clause: str
    reading: Reading = "affirmed"
    cue: str | None = None


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    labels: frozenset[str]


def _phrase_source(phrase: str) -> str:
    """A phrase as regex: whole words, any spacing; a space or hyphen between words
    matches either ("ankle foot" = "ankle-foot")."""
    text = " ".join(phrase.split())
    parts = re.split(r"(?<=\w)[ -]+(?=\w)", text)
    body = r"[\s-]+".join(re.escape(part).replace(r"\ ", r"\s+") for part in parts)
    head = r"(?<!\w)" if re.match(r"\w", text) else ""
    tail = r"(?!\w)" if re.search(r"\w$", text) else ""
    return head + body + tail


def _regex(phrases: Iterable[str], patterns: Iterable[str] = ()) -> re.Pattern[str] | None:
    """One case-insensitive regex for phrases (longest first) and raw patterns."""
    unique = sorted({p.strip() for p in phrases if p.strip()}, key=len, reverse=True)
    sources = [_phrase_source(p) for p in unique] + [f"(?:{p})" for p in patterns]
    return re.compile("|".join(sources), re.IGNORECASE) if sources else None


def _spans(regex: re.Pattern[str] | None, text: str, label: str) -> Iterator[_Span]:
    if regex is not None:
        for m in regex.finditer(text):
            if m.end() > m.start():
                yield _Span(m.start(), m.end(), frozenset({label}))


def _leftmost_longest(spans: Iterable[_Span]) -> list[_Span]:
    """Non-overlapping spans, leftmost first then longest; equal spans merge labels."""
    merged: dict[tuple[int, int], frozenset[str]] = {}
    for s in spans:
        merged[(s.start, s.end)] = merged.get((s.start, s.end), frozenset()) | s.labels
    kept: list[_Span] = []
    for (start, end), labels in sorted(merged.items(), key=lambda kv: (kv[0][0], -kv[0][1])):
        if not kept or start >= kept[-1].end:
            kept.append(_Span(start, end, labels))
    return kept


def _overlaps(span: _Span, others: Sequence[_Span]) -> bool:
    return any(span.start < o.end and o.start < span.end for o in others)


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


@dataclass(frozen=True)
class _CueSet:
    name: str
    reading: Reading
    before: re.Pattern[str] | None
    after: re.Pattern[str] | None
    window: int
    stops: re.Pattern[str] | None
    state: _State | None


@dataclass(frozen=True)
class _State:
    """Words of a state ("stable") that negate only when they describe the subject."""

    words: re.Pattern[str]
    subjects: re.Pattern[str]
    linking: frozenset[str]
    present: re.Pattern[str]
    past: re.Pattern[str]


@dataclass(frozen=True)
class _Group:
    name: str
    terms: tuple[tuple[re.Pattern[str], str], ...]
    ignore: re.Pattern[str] | None
    cues: tuple[_CueSet, ...]
    found: frozenset[str]
    family_terms: re.Pattern[str] | None
    about: re.Pattern[str] | None
    not_about: re.Pattern[str] | None
    order_feature: str | None
    first_words: frozenset[str] | None
    """The first word of every term; None when a word cannot screen the group (it has
    regular expressions, or a term without a word)."""


class Screen:
    """Which of some groups a text may mention: a quick test to run before `find`.

    Most record texts (encounter types, procedure names) mention none of the groups a
    reader looks for, and reading a group costs several regular-expression passes. A
    group is screened out only when no term of it can occur: a phrase occurs only where
    its first word stands as a word of the text, and a group with regular expressions is
    kept whenever one of them (or one of its ignored phrases) matches. Cues, scope and
    ignored phrases only ever remove mentions, so `find`, `read` and `readings` return
    nothing for a group screened out. Record texts repeat (coded encounter types), so
    the answers for recent texts are remembered.
    """

    __slots__ = ("_answer", "_groups", "_searched", "_words")

    def __init__(self, groups: Sequence[_Group]) -> None:
        self._groups = tuple(groups)
        self._words = frozenset(w for g in groups if g.first_words for w in g.first_words)
        self._searched = any(g.first_words is None for g in groups)
        self._answer = lru_cache(maxsize=4096)(self._screen)

    def __call__(self, text: str | None) -> tuple[str, ...]:
        """The groups, in the order given, that `text` may mention."""
        return self._answer(text) if text else ()

    def _screen(self, text: str) -> tuple[str, ...]:
        words = set(_TOKEN.findall(text.lower()))
        if self._words.isdisjoint(words) and not self._searched:
            return ()
        return tuple(g.name for g in self._groups if _may_mention(g, text, words))


def _may_mention(group: _Group, text: str, words: set[str]) -> bool:
    if group.first_words is not None:
        return not group.first_words.isdisjoint(words)
    return any(regex.search(text) for regex, _ in group.terms) or bool(
        group.ignore and group.ignore.search(text)
    )


def _first_words(phrases: Iterable[str], patterns: Iterable[str]) -> frozenset[str] | None:
    firsts = [_TOKEN.findall(phrase.lower())[:1] for phrase in phrases]
    if any(True for _ in patterns) or not all(firsts):
        return None
    return frozenset(first[0] for first in firsts)


class _Data:
    """Reads the JSON: named lists ("@name" in any list) and pattern parts ("{{name}}")."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._lists: Mapping[str, list[str]] = data.get("lists", {})
        self._parts: Mapping[str, str] = data.get("pattern_parts", {})

    def phrases(self, spec: Mapping[str, Any], key: str) -> list[str]:
        out: list[str] = []
        for item in spec.get(key, []):
            if not isinstance(item, str):
                raise ValueError(f"{key}: {item!r} is not a phrase")
            if not item.startswith("@"):
                out.append(item)
            elif item[1:] in self._lists:
                out.extend(self.phrases(self._lists, item[1:]))
            else:
                raise ValueError(f"{key}: unknown list {item!r}")
        return out

    def patterns(self, spec: Mapping[str, Any], key: str) -> list[str]:
        def part(m: re.Match[str]) -> str:
            if m.group(1) not in self._parts:
                raise ValueError(f"{key}: unknown pattern part {m.group(0)}")
            return f"(?:{self._parts[m.group(1)]})"

        return [_PART.sub(part, p) for p in spec.get(key, [])]

    def regex(
        self, spec: Mapping[str, Any], phrases: str, patterns: str | None = None
    ) -> re.Pattern[str] | None:
        return _regex(
            self.phrases(spec, phrases), self.patterns(spec, patterns) if patterns else []
        )


def _reading(value: Any, where: str) -> Reading:
    if value not in READINGS:
        raise ValueError(f"{where}: unknown reading {value!r}")
    return cast(Reading, value)


class TextPatterns:
    """The loaded pattern groups, cue sets, scope rules and laterality words."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        read = _Data(data)
        scope = data["scope"]
        self._window = int(scope["window_words"])
        self._sentence_end = re.compile("|".join(scope["sentence_end_patterns"]))
        self._termination = read.regex(scope, "termination")
        self._separators = read.regex(scope, "list_separators")
        self._closers = read.regex(scope, "list_closers")
        self._pseudo = read.regex(scope, "pseudo_negation")
        cue_sets = {
            name: self._cue_set(read, name, spec) for name, spec in data["cue_sets"].items()
        }
        raw_groups: Mapping[str, Any] = data["groups"]
        self._groups = {
            name: self._group(read, name, spec, cue_sets, raw_groups)
            for name, spec in raw_groups.items()
        }
        self._screens: dict[tuple[str, ...], Screen] = {}
        self._absent = _regex(data["absent_values"])
        laterality = data["laterality"]
        self._code_sides: dict[tuple[str, str], Side] = {}
        for row in laterality["codes"]:
            system = normalize_system(row["system"])
            code = normalize_code(system, row["code"]) if system else None
            if system is None or code is None or row["side"] not in SIDES:
                raise ValueError(f"bad laterality row {row!r}")
            self._code_sides[(system, code)] = row["side"]
        self._side_words = {side: _regex(laterality["words"][side]) for side in SIDES}

    def _cue_set(self, read: _Data, name: str, spec: Mapping[str, Any]) -> _CueSet:
        state = None
        if "state" in spec:
            s = spec["state"]
            words, subjects = read.regex(s, "words"), read.regex(s, "subjects")
            present, past = read.regex(s, "present"), read.regex(s, "past")
            if words is None or subjects is None or present is None or past is None:
                raise ValueError(f"cue set {name!r}: a state needs words, subjects, present, past")
            linking = frozenset(w for p in read.phrases(s, "linking") for w in _words(p))
            state = _State(words, subjects, linking, present, past)
        return _CueSet(
            name=name,
            reading=_reading(spec["reading"], f"cue set {name!r}"),
            before=read.regex(spec, "before", "before_patterns"),
            after=read.regex(spec, "after", "after_patterns"),
            window=int(spec.get("window_words", self._window)),
            stops=read.regex(spec, "stop_at"),
            state=state,
        )

    def _group(
        self,
        read: _Data,
        name: str,
        spec: Mapping[str, Any],
        cue_sets: Mapping[str, _CueSet],
        groups: Mapping[str, Any],
    ) -> _Group:
        def cue(set_name: str) -> _CueSet:
            if set_name not in cue_sets:
                raise ValueError(f"text group {name!r}: unknown cue set {set_name!r}")
            return cue_sets[set_name]

        cues = tuple(cue(c) for c in spec.get("cues", []))
        terms: list[tuple[re.Pattern[str], str]] = []
        plain = read.regex(spec, "terms", "patterns")
        if plain is not None:
            terms.append((plain, ""))
        term_specs = [spec]
        for set_name, own in spec.get("terms_read_with", {}).items():
            if cue(set_name) not in cues:
                raise ValueError(f"text group {name!r}: {set_name!r} is not among its cues")
            regex = read.regex(own, "terms", "patterns")
            if regex is not None:
                terms.append((regex, set_name))
            term_specs.append(own)
        if not terms:
            raise ValueError(f"text group {name!r} has no terms or patterns")
        family = spec.get("family")
        siblings = [g for g in groups.values() if family and g.get("family") == family] or [spec]
        family_terms = _regex(
            [p for g in siblings for p in read.phrases(g, "terms")],
            [p for g in siblings for p in read.patterns(g, "patterns")],
        )
        found = frozenset(
            _reading(r, f"text group {name!r}") for r in spec.get("found", ["affirmed"])
        )
        return _Group(
            name=name,
            terms=tuple(terms),
            ignore=read.regex(spec, "ignore"),
            cues=cues,
            found=found,
            family_terms=family_terms,
            about=read.regex(spec, "about"),
            not_about=read.regex(spec, "not_about"),
            order_feature=spec.get("order_feature"),
            first_words=_first_words(
                [p for t in term_specs for p in read.phrases(t, "terms")],
                [p for t in term_specs for p in read.patterns(t, "patterns")],
            ),
        )

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

    def screen(self, groups: Iterable[str]) -> Screen:
        """The `Screen` for `groups`, made once per set of groups and reused."""
        names = tuple(groups)
        if names not in self._screens:
            self._screens[names] = Screen([self._groups[name] for name in names])
        return self._screens[names]

    def find(self, group: str, text: str | None) -> TextMatch | None:
        """The first mention of `group` whose reading the group counts as found, or None."""
        spec = self._groups[group]
        return next((m for m in self.readings(group, text) if m.reading in spec.found), None)

    def read(self, group: str, text: str | None) -> TextMatch | None:
        """The decisive mention: the most safety-relevant reading, first in the text on a tie.

        None means the text names no term of the group at all."""
        found = self.readings(group, text)
        return min(found, key=lambda m: READINGS.index(m.reading)) if found else None

    def readings(self, group: str, text: str | None) -> tuple[TextMatch, ...]:
        """Every mention of `group` in `text`, in order, each with its reading."""
        spec = self._groups[group]
        if not text:
            return ()
        cleaned = _blank(spec.ignore, text)
        found: list[TextMatch] = []
        for start, end in self._sentences(cleaned):
            sentence = cleaned[start:end]
            terms = _terms_in(spec, sentence)
            if not terms:
                continue
            pseudo = list(_spans(self._pseudo, sentence, "pseudo"))
            cues = [
                c
                for direction in ("before", "after")
                for c in _leftmost_longest(
                    span
                    for cs in spec.cues
                    for span in _spans(
                        cs.before if direction == "before" else cs.after,
                        sentence,
                        f"{cs.name} {direction}",
                    )
                )
                if not _overlaps(c, terms) and not _overlaps(c, pseudo)
            ]
            ends = [
                t
                for t in _leftmost_longest(_spans(self._termination, sentence, "end"))
                if not _overlaps(t, terms) and not _overlaps(t, cues)
            ]
            for term in terms:
                lo = max((t.end for t in ends if t.end <= term.start), default=0)
                hi = min((t.start for t in ends if t.start >= term.end), default=len(sentence))
                if not self._is_about(spec, sentence, lo, hi, term):
                    continue
                reading, cue = self._reading_of(spec, sentence, lo, hi, term, cues, terms)
                found.append(
                    TextMatch(
                        group=group,
                        term=text[start + term.start : start + term.end],
                        clause=text[start:end].strip(),
                        reading=reading,
                        cue=cue,
                    )
                )
        return tuple(found)

    def find_name(self, group: str, text: str | None) -> TextMatch | None:
        """The first of the group's terms read as an order name: no cue applies.

        clinical-logic v3 §4: order names are matched without finding-negation, and
        cancellation comes only from the order's status."""
        spec = self._groups[group]
        if not text:
            return None
        cleaned = _blank(spec.ignore, text)
        for start, end in self._sentences(cleaned):
            terms = _terms_in(spec, cleaned[start:end])
            if terms:
                term = text[start + terms[0].start : start + terms[0].end]
                return TextMatch(group=group, term=term, clause=text[start:end].strip())
        return None

    def order_features(self, text: str | None) -> dict[str, TextMatch]:
        """The order features (group `order_feature`) whose names `text` holds."""
        found: dict[str, TextMatch] = {}
        for name, spec in self._groups.items():
            match = self.find_name(name, text) if spec.order_feature else None
            if spec.order_feature and match is not None:
                found.setdefault(spec.order_feature, match)
        return found

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

    def _sentences(self, text: str) -> Iterator[tuple[int, int]]:
        start = 0
        for m in self._sentence_end.finditer(text):
            if text[start : m.start()].strip():
                yield start, m.start()
            start = m.end()
        if text[start:].strip():
            yield start, len(text)

    def _is_about(self, spec: _Group, sentence: str, lo: int, hi: int, term: _Span) -> bool:
        """False when the term's comma-clause names an excluded subject and no wanted one."""
        if spec.not_about is None:
            return True
        left = sentence.rfind(",", lo, term.start) + 1 or lo
        right = sentence.find(",", term.end, hi)
        clause = sentence[max(left, lo) : hi if right < 0 else right]
        if not spec.not_about.search(clause):
            return True
        return bool(spec.about and spec.about.search(clause))

    def _reading_of(
        self,
        spec: _Group,
        sentence: str,
        lo: int,
        hi: int,
        term: _Span,
        cues: Sequence[_Span],
        terms: Sequence[_Span],
    ) -> tuple[Reading, str | None]:
        reached: dict[str, str | None] = {label: None for label in term.labels if label}
        for cue in cues:
            if not (lo <= cue.start and cue.end <= hi):
                continue
            for label in cue.labels:
                name, direction = label.split(" ")
                if direction == "before" and cue.end <= term.start:
                    between = sentence[cue.end : term.start]
                elif direction == "after" and cue.start >= term.end:
                    between = sentence[term.end : cue.start]
                else:
                    continue
                cue_set = next(cs for cs in spec.cues if cs.name == name)
                if direction == "before" and self._starts_with_separator(between):
                    continue
                if name not in reached and self._reaches(cue_set, spec, between):
                    reached[name] = sentence[cue.start : cue.end].strip()
        for cue_set in spec.cues:
            if cue_set.state is not None and cue_set.name not in reached:
                state = _state_cue(cue_set.state, sentence, lo, hi, term, terms)
                if state is not None:
                    reached[cue_set.name] = state
        for cue_set in spec.cues:
            if cue_set.name in reached:
                return cue_set.reading, reached[cue_set.name]
        return "affirmed", None

    def _starts_with_separator(self, between: str) -> bool:
        """A pre-cue followed by a comma ("reflexes absent, urinary retention") ends there."""
        return bool(self._separators and self._separators.match(between.lstrip()))

    def _reaches(self, cue_set: _CueSet, spec: _Group, between: str) -> bool:
        """Whether a cue reaches a term across `between` (window, stop words, lists)."""
        if len(_words(between)) > cue_set.window:
            return False
        if cue_set.stops is not None and cue_set.stops.search(between):
            return False
        if self._separators is None or not self._separators.search(between):
            return True
        if self._closers is not None and self._closers.search(between):
            return True
        pieces = [p for p in self._separators.split(between) if _words(p)]
        return all(spec.family_terms and spec.family_terms.search(p) for p in pieces)


def _terms_in(spec: _Group, sentence: str) -> list[_Span]:
    """The group's terms, leftmost-longest; a term's labels name the cue sets it carries."""
    return _leftmost_longest(
        span for regex, label in spec.terms for span in _spans(regex, sentence, label)
    )


def _state_cue(
    state: _State, sentence: str, lo: int, hi: int, term: _Span, terms: Sequence[_Span]
) -> str | None:
    """A state word that negates this term: not about an earlier time ("when it was
    stable"), and either introduced by a present marker ("now stable") — which reaches
    back over the whole sentence, "but" included — or describing the subject itself
    ("weakness stable", "stable foot drop") within the term's clause."""
    for m in state.words.finditer(sentence):
        if _overlaps(_Span(m.start(), m.end(), frozenset()), terms):
            continue
        if _marked(state.past, state.linking, sentence, m.start()):
            continue
        if _marked(state.present, state.linking, sentence, m.start()) and m.start() > term.end:
            return m.group(0)
        if lo <= m.start() < hi and _bound(state, sentence, lo, hi, m.start(), m.end()):
            return m.group(0)
    return None


def _marked(markers: re.Pattern[str], linking: frozenset[str], text: str, at: int) -> bool:
    """A marker ends right before `at`, with only linking words between."""
    return any(set(_words(text[m.end() : at])) <= linking for m in markers.finditer(text, 0, at))


def _bound(state: _State, sentence: str, lo: int, hi: int, start: int, end: int) -> bool:
    after = state.subjects.search(sentence, end, hi)
    if after is not None and set(_words(sentence[end : after.start()])) <= state.linking:
        return True
    before = [m for m in state.subjects.finditer(sentence, lo, start) if m.end() <= start]
    return bool(before) and set(_words(sentence[before[-1].end() : start])) <= state.linking


def _blank(regex: re.Pattern[str] | None, text: str) -> str:
    """Replace matches by spaces of the same length, so offsets and clauses stay put."""
    return regex.sub(lambda m: " " * len(m.group(0)), text) if regex else text


@lru_cache(maxsize=1)
def default_patterns() -> TextPatterns:
    """The packaged patterns, loaded once per process."""
    return TextPatterns.load()
