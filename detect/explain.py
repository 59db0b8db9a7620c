"""Why a rule matched one event, or did not: every selection and condition node's value.

:func:`explain` compiles one rule through the pipeline as the engine does, then evaluates
each part on one event with :mod:`detect.pointwise`: every named selection (and each test
in it), every node of each condition, the fields the pipeline mapped and the rule's fast
pattern. Values are ``true``, ``false`` or ``null`` (a field the test reads is missing).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl
from sigma.conditions import (
    ConditionAND,
    ConditionIdentifier,
    ConditionItem,
    ConditionNOT,
    ConditionOR,
    ConditionSelector,
    SigmaCondition,
)
from sigma.conversion.state import ConversionState
from sigma.exceptions import SigmaError
from sigma.rule import SigmaDetections, SigmaRule

from detect import ir
from detect.backend import PolarsBackend
from detect.loader import SourcedRule
from detect.patterns import Pattern, choose_pattern
from detect.pipelines import resolve_pipeline
from detect.pointwise import Truth, evaluate, event_frame, kleene_and, kleene_or, missing_fields

__all__ = ["ROUTING_PREFIX", "Explanation", "explain", "render_node", "truth"]

ROUTING_PREFIX = "_cond_"
"""Selections whose name starts so were added by the pipeline's logsource routing."""


@dataclass(frozen=True, slots=True)
class Explanation:
    """One rule on one event, as lines of text, and whether it matched."""

    lines: tuple[str, ...]
    matched: bool
    fired: tuple[str, ...]


def truth(value: Truth) -> str:
    """``true``, ``false`` or ``null``."""
    return "null" if value is None else str(value).lower()


def _literal_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _pattern_of(parts: tuple[str, ...]) -> str:
    marks = {ir.WILDCARD_ANY: "*", ir.WILDCARD_ONE: "?"}
    return "".join(marks.get(p, p) for p in parts)


def _test_text(node: ir.Node) -> str:
    """What a leaf tests, after its field name."""
    match node:
        case ir.StrMatch(_, kind, value, cased):
            return f"{kind.value}{' (cased)' if cased else ''} {_literal_text(value)}"
        case ir.Glob(_, parts, cased):
            return f"like{' (cased)' if cased else ''} {_literal_text(_pattern_of(parts))}"
        case ir.Regex(_, pattern):
            return f"re {_literal_text(pattern)}"
        case ir.NumEq(_, number):
            return f"= {number}"
        case ir.BoolEq(_, value):
            return f"= {str(value).lower()}"
        case ir.Compare(_, op, number):
            return f"{op} {number}"
        case ir.Cidr(_, network):
            return f"in {network}"
        case ir.IsNull():
            return "is null"
        case ir.Exists():
            return "exists"
        case ir.FieldRef(_, other, kind):
            return f"{kind.value} field {other}"
    return repr(node)


def _leaf_text(node: ir.Node) -> str:
    if isinstance(node, ir.Const):
        return str(node.value).lower()
    if isinstance(node, ir.TimePart):
        return f"{node.part} of {node.field} = {node.number}"
    field = getattr(node, "field", None)
    return f"{field if field is not None else '<any field>'} {_test_text(node)}"


def render_node(node: ir.Node, frame: pl.DataFrame, depth: int) -> list[str]:
    """Lines for ``node`` and its children, each with its value on the event."""
    pad = "  " * depth
    value = truth(evaluate(node, frame))
    match node:
        case ir.And(children) | ir.Or(children):
            word = "and" if isinstance(node, ir.And) else "or"
            lines = [f"{pad}{word}: {value}"]
            for child in children:
                lines += render_node(child, frame, depth + 1)
            return lines
        case ir.Not(child):
            return [f"{pad}not: {value}", *render_node(child, frame, depth + 1)]
    missing = missing_fields(node, frame)
    note = f" (missing: {', '.join(missing)})" if value == "null" and missing else ""
    return [f"{pad}{_leaf_text(node)}: {value}{note}"]


def _pattern_text(pattern: Pattern) -> str:
    if not pattern:
        return "none: the rule runs on every row"
    if any(not slot for slot in pattern):
        return "never: the rule can never match"
    slots = [
        "one of "
        + ", ".join(
            f"{'<any field>' if column == ir.ALL_TEXT else column} ~ {_literal_text(lit)}"
            for column, lit in sorted(slot)
        )
        for slot in pattern
    ]
    return " and ".join(slots)


def _labels(names: list[str]) -> dict[str, str]:
    """Selection names as shown; the pipeline's randomly named routing ones by role."""
    labels: dict[str, str] = {}
    routes = 0
    for name in names:
        if name.startswith(ROUTING_PREFIX):
            routes += 1
            labels[name] = "logsource routing" + (f" {routes}" if routes > 1 else "")
        else:
            labels[name] = name
    return labels


class _Conditions:
    """The value and lines of each node of a condition, from the selections' values."""

    def __init__(
        self,
        detections: SigmaDetections,
        values: Mapping[str, Truth],
        labels: Mapping[str, str],
    ) -> None:
        self.detections = detections
        self.values = values
        self.labels = labels

    def value(self, item: ConditionItem) -> Truth:
        match item:
            case ConditionIdentifier():
                return self.values[item.identifier]
            case ConditionSelector():
                found = [self.values[i.identifier] for i in self._referenced(item)]
                return kleene_or(found) if item.cond_class is ConditionOR else kleene_and(found)
            case ConditionAND():
                return kleene_and([self.value(a) for a in item.args])  # type: ignore[arg-type]
            case ConditionOR():
                return kleene_or([self.value(a) for a in item.args])  # type: ignore[arg-type]
            case ConditionNOT():
                return not self.value(item.args[0])  # type: ignore[arg-type]
        raise TypeError(f"unexpected condition node {type(item).__name__}")

    def _referenced(self, item: ConditionSelector) -> list[ConditionIdentifier]:
        return item.resolve_referenced_detections(self.detections)

    def lines(self, item: ConditionItem, depth: int) -> list[str]:
        pad = "  " * depth
        value = truth(self.value(item))
        match item:
            case ConditionIdentifier():
                return [f"{pad}{self.labels[item.identifier]}: {value}"]
            case ConditionSelector():
                quantifier = "1 of" if item.cond_class is ConditionOR else "all of"
                lines = [f"{pad}{quantifier} {item.pattern}: {value}"]
                for ref in self._referenced(item):
                    label = self.labels[ref.identifier]
                    lines.append(f"{pad}  {label}: {truth(self.values[ref.identifier])}")
                return lines
        word = {ConditionAND: "and", ConditionOR: "or", ConditionNOT: "not"}[type(item)]
        lines = [f"{pad}{word}: {value}"]
        for arg in item.args:
            lines += self.lines(arg, depth + 1)  # type: ignore[arg-type]
        return lines


def explain(
    source: SourcedRule,
    event: Mapping[str, object],
    *,
    pipeline: str,
    placeholders: Mapping[str, list[str]] | None = None,
) -> Explanation:
    """Explain one rule on one event (flat field -> value).

    Raises
    ------
    sigma.exceptions.SigmaError
        When the rule cannot be compiled under ``pipeline`` (the reason is in the error).
    """
    backend = PolarsBackend(resolve_pipeline(pipeline, placeholders))
    backend.init_processing_pipeline()
    if not isinstance(source.rule, SigmaRule):
        raise SigmaError("correlation rules run on the stream: explain their base rules")
    rule = copy.deepcopy(source.rule)
    whole = backend.rule_node(rule)
    mapped = backend.last_processing_pipeline.field_mappings
    detections = rule.detection
    state = ConversionState()
    selections = {
        name: backend.convert_condition(SigmaCondition(name, detections).parsed, state)
        for name in detections.detections
    }
    fields = ir.fields_of(whole).union(*(ir.fields_of(n) for n in selections.values()))
    frame = event_frame(event, fields)
    values = {name: evaluate(node, frame) for name, node in selections.items()}
    matched = evaluate(whole, frame) is True
    lines = [f"rule: {rule.title} ({source.path}:{source.line})", f"pipeline: {pipeline}"]
    lines.append("fields mapped:" if mapped else "fields mapped: none")
    for original in sorted(k for k in mapped if k is not None):
        lines.append(f"  {original} -> {', '.join(sorted(mapped[original]))}")
    lines.append(f"fast pattern: {_pattern_text(choose_pattern(whole, second_slot=False))}")
    labels = _labels(list(selections))
    lines.append("selections:")
    for name, node in selections.items():
        lines.append(f"  {labels[name]}: {truth(values[name])}")
        lines += render_node(node, frame, 2)
    conditions = _Conditions(detections, values, labels)
    for condition in detections.parsed_condition:
        text = condition.condition
        for name, label in labels.items():
            text = text.replace(name, label)
        lines.append(f"condition: {text}")
        tree = condition.parse(postprocess=False)
        assert isinstance(tree, ConditionItem)
        lines += conditions.lines(tree, 1)
    fired = tuple(
        name for name, value in values.items() if value and not name.startswith(ROUTING_PREFIX)
    )
    verdict = f"match (fired: {', '.join(fired)})" if matched else "no match"
    lines.append(f"result: {verdict}")
    return Explanation(tuple(lines), matched, fired if matched else ())
