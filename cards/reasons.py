"""Override reasons: the HL7 CDS Hooks 3.0 codes and how our own codes map onto them.

`override_reasons.toml` holds the standard CodeSystem (codes, displays and the six
categories they are grouped under) and, for each of our own codes, the standard
code it refines or means. `ReasonVocabulary.meaning` tells the analytics what any
reported reason stands for, so a committee counts "Patient declined" (ours, as the
CDS Hooks sandbox sends it) and "Patient refuses/declines" (standard) together.
A reason from a code system we do not know (an EHR MAY add its own) has no
meaning here and is reported as sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

_CODE = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"


class _Vocabulary(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StandardReason(_Vocabulary):
    display: str = Field(min_length=1)
    category: str | None = None
    """The category code this reason is grouped under; None for a category itself."""


class LocalReason(_Vocabulary):
    """One of our codes: the standard code it maps to, and how."""

    standard: str = Field(pattern=_CODE)
    relation: Literal["equivalent", "narrower"]
    display: str | None = None
    """Only for a code no template offers any more (an `equivalent` one still accepted)."""


@dataclass(frozen=True)
class ReasonMeaning:
    """What a reported override reason stands for, in standard terms."""

    display: str
    standard_code: str
    standard_display: str
    category_code: str
    category_display: str
    relation: Literal["standard", "equivalent", "narrower"]


class ReasonVocabulary(_Vocabulary):
    standard_system: str = Field(min_length=1)
    standard: dict[str, StandardReason]
    local: dict[str, LocalReason]

    @model_validator(mode="after")
    def _check(self) -> ReasonVocabulary:
        for code, reason in self.standard.items():
            category = self.standard.get(reason.category) if reason.category else None
            if reason.category and (category is None or category.category is not None):
                raise ValueError(f"standard.{code}: category {reason.category!r} is not a category")
        for code, local in self.local.items():
            if local.standard not in self.standard:
                raise ValueError(f"local.{code}: {local.standard!r} is not a standard code")
            if local.relation == "equivalent" and local.display is None:
                raise ValueError(f"local.{code}: an equivalent code is retired and needs a display")
        return self

    def category_of(self, code: str) -> str:
        return self.standard[code].category or code

    def meaning(
        self, system: str, code: str, local_system: str, local_displays: dict[str, str]
    ) -> ReasonMeaning | None:
        """The standard meaning of (system, code), or None for a reason we do not know.

        `local_displays` are the displays the card templates give our codes.
        """
        relation: Literal["standard", "equivalent", "narrower"] = "standard"
        if system == self.standard_system and code in self.standard:
            display, standard = self.standard[code].display, code
        elif system == local_system and code in self.local:
            local = self.local[code]
            display = local.display or local_displays.get(code, code)
            standard, relation = local.standard, local.relation
        else:
            return None
        category = self.category_of(standard)
        return ReasonMeaning(
            display=display,
            standard_code=standard,
            standard_display=self.standard[standard].display,
            category_code=category,
            category_display=self.standard[category].display,
            relation=relation,
        )
