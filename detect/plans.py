"""How a rule runs on the rows it is verified on: shared parts once, cheap parts first.

Two things make the verification of candidate rows cheaper without changing its result:

- *shared conjuncts*: a part that many rules AND in (a processing pipeline's log-source
  condition, ``EventID == 1`` and the Sysmon channel) is computed once per batch into a
  boolean column that every rule reads, instead of once per rule;
- *cheap parts first*: a rule that is an AND of literal tests and costly parts (regexes,
  wildcards, long alternations) is filtered by the literal tests, and the costly parts run
  only on the rows that pass.

All functions here are pure; they read the IR and build Polars expressions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from detect import ir
from detect.expressions import INTERNAL_PREFIX, Columns, to_expr
from detect.folding import fold

__all__ = [
    "CHEAP_COST",
    "SHARED_MIN_RULES",
    "RulePlan",
    "has_keywords",
    "keyword_tests",
    "lowered_fields",
    "plan_rule",
    "shared_conjuncts",
    "verify_query",
]

# A conjunct ANDed into at least this many rules is computed once per batch.
SHARED_MIN_RULES = 16
# Conjuncts costing at most this many literal tests are evaluated first.
CHEAP_COST = 4
_COSTLY = 100
_FLAG = f"{INTERNAL_PREFIX}and_"
_ROW = f"{INTERNAL_PREFIX}row"


@dataclass(frozen=True, slots=True)
class RulePlan:
    """A rule's expression, and the same rule split into a cheap filter and the rest."""

    expr: pl.Expr
    first: pl.Expr | None
    rest: pl.Expr | None
    columns: tuple[str, ...]


def _conjuncts(node: ir.Node) -> tuple[ir.Node, ...]:
    return node.children if isinstance(node, ir.And) else (node,)


def shared_conjuncts(
    nodes: Sequence[ir.Node], at_least: int = SHARED_MIN_RULES
) -> dict[ir.Node, str]:
    """Conjuncts that at least ``at_least`` of ``nodes`` AND in, each with its column name.

    >>> from detect.ir import And, NumEq, StrKind, StrMatch
    >>> event = NumEq("EventID", 1)
    >>> rules = [And((event, StrMatch("Image", StrKind.SUFFIX, name))) for name in "abc"]
    >>> shared_conjuncts(rules, at_least=3)
    {NumEq(field='EventID', number=1): '__neakta_and_0'}
    """
    counts = Counter(c for node in nodes for c in set(_conjuncts(node)))
    common = [c for c, n in counts.items() if n >= at_least and not isinstance(c, ir.Const)]
    return {node: f"{_FLAG}{number}" for number, node in enumerate(common)}


def cost(node: ir.Node) -> int:
    """Rough cost of a node in literal tests; regexes and keywords are costly."""
    match node:
        case ir.And(children) | ir.Or(children):
            return sum(cost(c) for c in children)
        case ir.Not(child):
            return cost(child)
        case ir.StrMatch(field=str()) | ir.NumEq(field=str()) | ir.Const():
            return 1
        case ir.BoolEq() | ir.Compare() | ir.IsNull() | ir.Exists():
            return 1
        case _:
            return _COSTLY


def plan_rule(node: ir.Node, cols: Columns, shared: Mapping[ir.Node, str]) -> RulePlan:
    """The plan of one rule, reading shared conjuncts from their columns.

    ``cols`` resolves fields the way the prepared frame holds them; the columns a plan
    reads are its fields, their lower-cased forms (``cols.lower``) and the shared flags.
    """
    parts = _conjuncts(node)
    flags = [pl.col(shared[p]) for p in parts if p in shared]
    cheap = [p for p in parts if p not in shared and cost(p) <= CHEAP_COST]
    costly = [p for p in parts if p not in shared and cost(p) > CHEAP_COST]
    columns: set[str] = {shared[p] for p in parts if p in shared}
    for part in parts:
        if part not in shared:
            columns |= ir.fields_of(part)
            columns |= {cols.lower(f).meta.output_name() for f in lowered_fields(part)}
    first = [*flags, *(to_expr(p, cols) for p in cheap)]
    rest = [to_expr(p, cols) for p in costly]
    expr = _all(first + rest) if flags else to_expr(node, cols)
    if not first or not rest:
        return RulePlan(expr, None, None, tuple(sorted(columns)))
    return RulePlan(expr, _all(first), _all(rest), tuple(sorted(columns)))


def _all(exprs: list[pl.Expr]) -> pl.Expr:
    return exprs[0] if len(exprs) == 1 else pl.all_horizontal(exprs)


def verify_query(subset: pl.DataFrame, rows: pl.Series, plan: RulePlan, index: int) -> pl.LazyFrame:
    """(row, rule_index) of the rows of ``subset`` (taken at ``rows``) the rule matches."""
    numbered = subset.lazy().with_columns(rows.alias(_ROW))
    if plan.first is None or plan.rest is None:
        hits = numbered.filter(plan.expr)
    else:
        # Two steps, so the costly part runs only on the rows the cheap part kept.
        hits = numbered.filter(plan.first).with_columns(plan.rest.alias("hit")).filter("hit")
    return hits.select(
        pl.col(_ROW).alias("row"), pl.lit(index, dtype=pl.UInt32).alias("rule_index")
    )


def has_keywords(node: ir.Node) -> bool:
    """Whether a node searches every text column (so it needs the whole frame)."""
    return bool(keyword_tests(node))


def keyword_tests(node: ir.Node) -> list[ir.Node]:
    """The keyword tests of ``node``: its leaves with no field (a search of every value).

    >>> from detect.ir import NumEq, StrKind, StrMatch
    >>> keyword_tests(ir.And((StrMatch("Image", StrKind.SUFFIX, "x"), NumEq(None, 4624))))
    [NumEq(field=None, number=4624)]
    """
    match node:
        case ir.And(children) | ir.Or(children):
            return [test for child in children for test in keyword_tests(child)]
        case ir.Not(child):
            return keyword_tests(child)
        case (
            ir.StrMatch(field=None)
            | ir.NumEq(field=None)
            | ir.Glob(field=None)
            | ir.Regex(field=None)
        ):
            return [node]
        case _:
            return []


def lowered_fields(node: ir.Node) -> set[str]:
    """Fields that some case-insensitive string test reads lower-cased."""
    match node:
        case ir.And(children) | ir.Or(children):
            return set().union(*(lowered_fields(c) for c in children))
        case ir.Not(child):
            return lowered_fields(child)
        case ir.StrMatch(field=str(f), cased=False) | ir.Glob(field=str(f), cased=False):
            return {f}
        case ir.StrMatch(field=None, kind=ir.StrKind.CONTAINS, cased=False, value=value):
            # A keyword contains test reads the joined text (the engine's resolver).
            return {ir.ALL_TEXT} if ir.TEXT_SEPARATOR not in fold(value) else set()
        case ir.BoolEq(field=f):
            return {f}
        case ir.FieldRef(field=f, other=o):
            return {f, o}
        case _:
            return set()
