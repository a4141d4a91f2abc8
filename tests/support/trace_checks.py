"""The rule trace of a response agrees with its cards (used on every traced response)."""

from __future__ import annotations

import ast
import inspect
import textwrap
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
            assert topic["reason"] == STOPS.reason(topic["stopped_by"]), topic


def rule_conditions() -> dict[str, set[str]]:
    """Each rule's topic -> the stopping conditions its body names (`stop(CODE, ...)`, the
    code a literal or a module constant), read from the source: what the trace can say."""
    rules = [
        (patient_view, [patient_view.red_flag_urgent_evaluation, *patient_view.CARDS]),
        (order_checks, list(order_checks.RULES)),
    ]
    named: dict[str, set[str]] = {}
    for module, functions in rules:
        for rule in functions:
            codes = named.setdefault(rule_topic(rule), set())
            for node in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(rule)))):
                if not (isinstance(node, ast.Call) and _called(node) == "stop" and node.args):
                    continue
                code = node.args[0]
                if isinstance(code, ast.Constant) and isinstance(code.value, str):
                    codes.add(code.value)
                elif isinstance(code, ast.Name):
                    codes.add(getattr(module, code.id))
    return named


def _called(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
