"""The CDS services this deployment offers, read from `services.toml`.

Service definitions are reviewable data: id, hook, title, description, the
prefetch keys and what the pipeline does for the service (which rules run, which
drafts they read, whether shown cards are remembered or left out). Prefetch
queries name their code filter by the resource type it serves
(`{{codes:Observation}}`), expanded here at start-up to every code of the value
sets the features read from that type (`service.clinical.features.sources`), so
the queries follow the clinical content without edits in Python. A query whose
URL would pass `MAX_QUERY_BYTES` is split into several keys, each carrying a
share of the codes: servers commonly refuse a URL of 8 KB.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from mappings.matcher import ValueSetIndex
from service.cds.models import HOOK_CONTEXTS, ServiceDescriptor
from service.clinical.features.sources import READS

DEFINITIONS = Path(__file__).with_name("services.toml")
_CODE_FILTER = re.compile(r"\{\{codes:([A-Za-z]+)\}\}")
#: Longest prefetch URL the service asks for, percent-encoded in full, with room for a
#: server base URL and a patient id (`URL_ALLOWANCE`): under 6 KB, as servers commonly
#: refuse 8 KB.
MAX_QUERY_BYTES = 6000
URL_ALLOWANCE = 300

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


def url_bytes(query: str) -> int:
    """The length of a query as a server may receive it: every reserved character
    percent-encoded, plus `URL_ALLOWANCE` for the base URL and the patient id."""
    return len(quote(query, safe="")) + URL_ALLOWANCE


def _expand(name: str, query: str, index: ValueSetIndex) -> dict[str, str]:
    """The key's query with its code filter expanded: one key, or several when long."""
    found = _CODE_FILTER.findall(query)
    if not found:
        return {name: query}
    if len(found) > 1:
        raise ValueError(f"prefetch {name}: one code filter per query")
    resource_type = found[0]
    value_sets = READS.get(resource_type)
    if not value_sets:
        raise ValueError(f"prefetch {name}: no value sets are read from {resource_type!r}")
    codes = sorted({f"{system}|{code}" for system, code in index.codes(*value_sets)})
    if not codes:
        raise ValueError(f"prefetch {name}: the value sets of {resource_type} have no codes")
    placeholder = "{{codes:" + resource_type + "}}"
    chunks: list[list[str]] = [[]]
    for code in codes:
        if chunks[-1] and url_bytes(query.replace(placeholder, ",".join([*chunks[-1], code]))) > (
            MAX_QUERY_BYTES
        ):
            chunks.append([])
        chunks[-1].append(code)
    keys = {
        name + (str(number) if number > 1 else ""): query.replace(placeholder, ",".join(chunk))
        for number, chunk in enumerate(chunks, start=1)
    }
    for key, expanded in keys.items():
        if url_bytes(expanded) > MAX_QUERY_BYTES:
            raise ValueError(f"prefetch {key}: one code makes the URL too long")
    return keys


def load_services(index: ValueSetIndex, path: Path = DEFINITIONS) -> dict[str, ServiceSpec]:
    """Read and check the definitions; a bad file stops start-up, naming itself."""
    try:
        with path.open("rb") as handle:
            data = _Definitions.model_validate(tomllib.load(handle))
        keys: dict[str, PrefetchKey] = {}
        split: dict[str, tuple[str, ...]] = {}  # a defined key -> the keys it became
        for name, definition in data.prefetch.items():
            expanded = _expand(name, definition.query, index)
            if set(expanded) & set(keys):
                raise ValueError(f"prefetch {name}: its keys {sorted(expanded)} collide")
            keys.update((k, PrefetchKey(k, q, definition.essential)) for k, q in expanded.items())
            split[name] = tuple(expanded)
        services: dict[str, ServiceSpec] = {}
        for item in data.services:
            if item.hook not in HOOK_CONTEXTS:
                raise ValueError(f"service {item.id}: unsupported hook {item.hook!r}")
            if (item.rules == "order-checks") != (item.orders is not None):
                raise ValueError(f"service {item.id}: order checks, and only they, read orders")
            named = item.prefetch if item.prefetch is not None else tuple(split)
            unknown = sorted(set(named) - set(split))
            if unknown:
                raise ValueError(f"service {item.id}: unknown prefetch keys {unknown}")
            wanted = [key for name in named for key in split[name]]
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
