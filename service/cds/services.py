"""The CDS services this deployment offers, read from `services.toml`.

Service definitions are reviewable data: id, hook, title, description, the
prefetch keys and what the pipeline does for the service (which rules run, which
drafts they read, whether shown cards are remembered or left out). Prefetch
queries name value-set code filters by placeholder (`{{codes:observations}}`),
expanded here at start-up from the value sets, so the queries follow the
clinical content without edits in Python.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mappings.matcher import ValueSetIndex
from service.cds.models import HOOK_CONTEXTS, ServiceDescriptor

DEFINITIONS = Path(__file__).with_name("services.toml")
_CODE_FILTER = re.compile(r"\{\{codes:([a-z_]+)\}\}")

Rules = Literal["patient-view", "order-checks"]
OrdersRead = Literal["selections", "all-drafts"]
ShownCards = Literal["remember", "suppress-repeats"]


class _Definition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _PrefetchDefinition(_Definition):
    query: str = Field(min_length=1)
    essential: bool = False


class _ServiceDefinition(_Definition):
    id: str = Field(pattern=r"^[a-z0-9-]+$")
    hook: str
    title: str = Field(min_length=1)
    description: str = Field(min_length=1)
    rules: Rules
    orders: OrdersRead | None = None
    shown_cards: ShownCards | None = None
    prefetch: tuple[str, ...] | None = None
    """Keys of the shared prefetch table this service asks for; all of them by default."""


class _Definitions(_Definition):
    usage_requirements: str
    code_filters: dict[str, tuple[str, ...]]
    prefetch: dict[str, _PrefetchDefinition]
    services: tuple[_ServiceDefinition, ...] = Field(min_length=1)


@dataclass(frozen=True)
class PrefetchKey:
    """One prefetch template and what its absence means."""

    name: str
    query: str
    essential: bool = False


@dataclass(frozen=True)
class ServiceSpec:
    """One service: what discovery shows and what the pipeline does for it."""

    id: str
    hook: str
    title: str
    description: str
    usage_requirements: str
    prefetch: Mapping[str, PrefetchKey]
    rules: Rules
    orders: OrdersRead | None = None
    shown_cards: ShownCards | None = None

    def descriptor(self) -> ServiceDescriptor:
        return ServiceDescriptor(
            hook=self.hook,
            id=self.id,
            title=self.title,
            description=self.description,
            prefetch={name: key.query for name, key in self.prefetch.items()},
            usageRequirements=self.usage_requirements,
        )


def _expand(query: str, filters: Mapping[str, tuple[str, ...]], index: ValueSetIndex) -> str:
    def codes(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in filters:
            raise ValueError(f"query uses unknown code filter {name!r}")
        pairs = {f"{system}|{code}" for vs in filters[name] for system, code in index.codes(vs)}
        return ",".join(sorted(pairs))

    return _CODE_FILTER.sub(codes, query)


def load_services(index: ValueSetIndex, path: Path = DEFINITIONS) -> dict[str, ServiceSpec]:
    """Read and check the definitions; a bad file stops start-up, naming itself."""
    try:
        with path.open("rb") as handle:
            data = _Definitions.model_validate(tomllib.load(handle))
        keys = {
            name: PrefetchKey(name, _expand(item.query, data.code_filters, index), item.essential)
            for name, item in data.prefetch.items()
        }
        services: dict[str, ServiceSpec] = {}
        for item in data.services:
            if item.hook not in HOOK_CONTEXTS:
                raise ValueError(f"service {item.id}: unsupported hook {item.hook!r}")
            if (item.rules == "order-checks") != (item.orders is not None):
                raise ValueError(f"service {item.id}: order checks, and only they, read orders")
            wanted = item.prefetch if item.prefetch is not None else tuple(keys)
            unknown = sorted(set(wanted) - set(keys))
            if unknown:
                raise ValueError(f"service {item.id}: unknown prefetch keys {unknown}")
            services[item.id] = ServiceSpec(
                id=item.id,
                hook=item.hook,
                title=item.title,
                description=item.description,
                usage_requirements=data.usage_requirements,
                prefetch={name: keys[name] for name in wanted},
                rules=item.rules,
                orders=item.orders,
                shown_cards=item.shown_cards,
            )
    except (OSError, ValueError, KeyError, tomllib.TOMLDecodeError) as error:
        raise ValueError(f"{path}: {error}") from error
    return services
