"""The rule trace of a response agrees with its cards (used on every traced response)."""

from __future__ import annotations

import ast
import inspect
import re
import string
import textwrap
from collections.abc import Callable
from types import ModuleType
from typing import Any

from cards.catalogue import CardCatalogue
from service.cds.explain import EXPLAIN
from service.clinical import order_checks, patient_view
from service.clinical.trace import rule_topic

STOPS = CardCatalogue.load().stops


def trace_of(response: dict[str, Any]) -> dict[str, Any]:
    trace: dict[str, Any] = response["extension"][EXPLAIN]
    return trace


def agrees_with_cards(response: dict[str, Any]) -> None:
    """Every card is a fired topic with its summary, about its order; every other topic
    names a worded condition."""
    cards = sorted((c["source"]["topic"]["code"], c["summary"]) for c in response["cards"])
    topics = trace_of(response)["topics"]
    assert sorted((t["topic"], t["reason"]) for t in topics if t["fired"]) == cards
    for topic in topics:
        if not topic["fired"]:
            assert worded(topic["stopped_by"], topic["reason"]), topic


def worded(condition: str, reason: str) -> bool:
    """`reason` is the condition's sentence, whatever values its settings have."""
    parts = string.Formatter().parse(STOPS.root[condition].reason)
    pattern = "".join(re.escape(text) + (".+?" if name else "") for text, name, _, _ in parts)
    return re.fullmatch(pattern, reason) is not None


def rule_conditions() -> dict[str, set[str]]:
    """Each rule's topic -> the stopping conditions it names (`stop(CODE, ...)`, the code
    a literal or a module constant), read from its source and that of the module's own
    helpers it calls: what the trace can say. Population conditions are the trace's."""
    rules = [
        (patient_view, [patient_view.red_flag_urgent_evaluation, *patient_view.CARDS]),
        (order_checks, list(order_checks.RULES)),
    ]
    return {
        rule_topic(rule): _named_in(module, rule, set())
        for module, functions in rules
        for rule in functions
    }


def _named_in(module: ModuleType, function: Callable[..., Any], seen: set[str]) -> set[str]:
    seen.add(function.__name__)
    codes: set[str] = set()
    for node in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(function)))):
        if not isinstance(node, ast.Call):
            continue
        called = node.func.id if isinstance(node.func, ast.Name) else None
        if called == "stop" and node.args:
            code = node.args[0]
            if isinstance(code, ast.Constant) and isinstance(code.value, str):
                codes.add(code.value)
            elif isinstance(code, ast.Name):
                codes.add(getattr(module, code.id))
        helper = getattr(module, called or "", None)
        if (
            called not in seen
            and inspect.isfunction(helper)
            and helper.__module__ == module.__name__
        ):
            codes |= _named_in(module, helper, seen)
    return codes
