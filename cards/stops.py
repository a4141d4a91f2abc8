"""Why a topic did not fire: one plain sentence per stopping condition.

`stop_reasons.toml` words every condition a rule, the population check or the
pipeline may name in a `Stopped` outcome. The rule trace (`footdrop-cds
explain`, the explain extension) quotes the sentence, and docs/clinical.md
lists them all, so the trace and the page say the same thing.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator

_CODE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")

StopKind = Literal["population", "rule", "pipeline"]
"""`population`: §1 stops every topic at once; `rule`: one rule's own condition;
`pipeline`: a card the rules made, left out of the response."""


class StopReason(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: StopKind
    reason: str = Field(min_length=1)
    """One sentence, for an integrator or a CDS committee: what was found (or not)."""
    topics: tuple[str, ...] = ()
    """A rule's condition: the topics whose rules name it (docs/clinical.md lists it
    under each). Population and pipeline conditions apply to every topic."""

    @field_validator("reason")
    @classmethod
    def _one_sentence(cls, value: str) -> str:
        if not value.endswith(".") or "\n" in value:
            raise ValueError("a reason is one sentence ending with a full stop")
        return value


class StopReasons(RootModel[dict[str, StopReason]]):
    """Every stopping condition by its code (kebab-case)."""

    @field_validator("root")
    @classmethod
    def _codes(cls, value: dict[str, StopReason]) -> dict[str, StopReason]:
        bad = [code for code in value if not _CODE.fullmatch(code)]
        if bad:
            raise ValueError(f"condition codes must be kebab-case: {bad}")
        misplaced = [code for code, stop in value.items() if stop.topics and stop.kind != "rule"]
        if misplaced:
            raise ValueError(f"only a rule's condition names topics: {misplaced}")
        return value

    def reason(self, code: str, settings: Mapping[str, object]) -> str:
        """The sentence of `code`, its `{setting}` placeholders filled in from `settings`
        (the clinical thresholds); KeyError for a condition no content words."""
        return self.root[code].reason.format_map(settings)

    def placeholders(self) -> set[str]:
        """Every setting the sentences name."""
        return {
            name
            for stop in self.root.values()
            for _, name, _, _ in string.Formatter().parse(stop.reason)
            if name
        }

    def of_kind(self, kind: StopKind) -> dict[str, StopReason]:
        return {code: stop for code, stop in self.root.items() if stop.kind == kind}

    def of_topic(self, topic: str) -> dict[str, StopReason]:
        """The conditions a topic's rule names, in the file's order."""
        return {code: stop for code, stop in self.root.items() if topic in stop.topics}
