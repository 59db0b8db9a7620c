"""The pySigma backend whose query for each rule is a Polars expression.

pySigma parses the rule, applies value modifiers (base64offset, windash, wide, ...) and the
processing pipeline (field mapping, logsource routing); this backend turns the resulting
condition tree into :mod:`detect.ir` nodes, and from them into a ``pl.Expr``.

Output formats:

``expr``
    one ``pl.Expr`` per rule;
``default``
    the same expression as text (what ``sigma convert -t polars`` prints);
``ir``
    the detection nodes, which :class:`detect.engine.CompiledRuleSet` optimises.

A construct the backend cannot evaluate raises :class:`SigmaFeatureNotSupportedByBackendError`
with a stable reason; the rule set loader reports it against that rule only.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, ClassVar

import polars as pl
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.conversion.base import Backend
from sigma.conversion.state import ConversionState
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError
from sigma.processing.pipeline import ProcessingPipeline
from sigma.rule import SigmaRule
from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaFieldReference,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaTimestampPart,
    SpecialChars,
)

# Registers utf16 and utf16le as the specification defines them, before any rule is read.
import detect.modifiers  # noqa: F401
from detect import ir
from detect.expressions import to_expr

__all__ = ["PolarsBackend", "UnsupportedFeatureError", "regex_problem"]

_COMPARE_OPS = {
    CompareOperators.LT: "<",
    CompareOperators.LTE: "<=",
    CompareOperators.GT: ">",
    CompareOperators.GTE: ">=",
    CompareOperators.NEQ: "!=",
}
_REGEX_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: "i",
    SigmaRegularExpressionFlag.MULTILINE: "m",
    SigmaRegularExpressionFlag.DOTALL: "s",
}
_LOOKAROUND = re.compile(r"\(\?<?[=!]")
_BACKREF = re.compile(r"\\[1-9]|\(\?P=|\\k<")


class UnsupportedFeatureError(SigmaFeatureNotSupportedByBackendError):
    """A rule feature the Polars backend cannot evaluate; ``reason`` is stable for counting."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@lru_cache(maxsize=4096)
def regex_problem(pattern: str) -> str | None:
    """Why Polars' (Rust) regex engine cannot run ``pattern``, or None if it can.

    >>> regex_problem(r"(?i)powershell.*-enc")
    >>> regex_problem(r"foo(?!bar)")
    'regex: look-around'
    """
    try:
        pl.Series([""], dtype=pl.String).str.contains(pattern)
    except pl.exceptions.PolarsError:
        if _LOOKAROUND.search(pattern):
            return "regex: look-around"
        if _BACKREF.search(pattern):
            return "regex: back-reference"
        return "regex: syntax the Rust engine rejects"
    return None


def _string_parts(value: SigmaString) -> list[str]:
    parts: list[str] = []
    for part in value.s:
        if isinstance(part, Placeholder):
            raise UnsupportedFeatureError("unresolved placeholder", f"%{part.name}%")
        if part == SpecialChars.WILDCARD_MULTI:
            if not parts or parts[-1] != ir.WILDCARD_ANY:
                parts.append(ir.WILDCARD_ANY)
        elif part == SpecialChars.WILDCARD_SINGLE:
            parts.append(ir.WILDCARD_ONE)
        elif parts and parts[-1] not in (ir.WILDCARD_ANY, ir.WILDCARD_ONE):
            parts[-1] += str(part)
        else:
            parts.append(str(part))
    return parts


def string_node(field: str | None, value: SigmaString, *, cased: bool) -> ir.Node:
    """The node matching ``value`` (with its wildcards) against ``field``."""
    parts = _string_parts(value)
    lead = bool(parts) and parts[0] == ir.WILDCARD_ANY
    trail = len(parts) > 1 and parts[-1] == ir.WILDCARD_ANY
    core = parts[int(lead) : len(parts) - int(trail)]
    if any(p in (ir.WILDCARD_ANY, ir.WILDCARD_ONE) for p in core):
        return ir.Glob(field, tuple(parts), cased)
    literal = core[0] if core else ""
    if (lead and trail) or (lead and not core):
        kind = ir.StrKind.CONTAINS
    elif lead:
        kind = ir.StrKind.SUFFIX
    elif trail:
        kind = ir.StrKind.PREFIX
    else:
        kind = ir.StrKind.EQ
    return ir.StrMatch(field, kind, literal, cased)


def regex_node(field: str | None, value: SigmaRegularExpression) -> ir.Node:
    flags = "".join(sorted(_REGEX_FLAGS[f] for f in value.flags))
    pattern = (f"(?{flags})" if flags else "") + value.regexp.to_plain()
    problem = regex_problem(pattern)
    if problem is not None:
        raise UnsupportedFeatureError(problem, pattern)
    return ir.Regex(field, pattern)


class PolarsBackend(Backend):
    """Converts Sigma rules to Polars expressions (target ``polars``)."""

    name: ClassVar[str] = "neakta Polars backend"
    identifier: ClassVar[str] = "polars"
    formats: ClassVar[dict[str, str]] = {
        "default": "Polars expression per rule, as text",
        "expr": "Polars expression (pl.Expr) per rule",
        "ir": "neakta detection nodes per rule",
    }
    requires_pipeline: ClassVar[bool] = False

    def __init__(
        self,
        processing_pipeline: ProcessingPipeline | None = None,
        collect_errors: bool = False,
        **backend_options: Any,
    ) -> None:
        super().__init__(processing_pipeline, collect_errors, **backend_options)

    # Boolean structure --------------------------------------------------------------

    def convert_condition_or(self, cond: ConditionOR, state: ConversionState) -> ir.Node:
        return ir.make_or([self.convert_condition(a, state) for a in cond.args])

    def convert_condition_and(self, cond: ConditionAND, state: ConversionState) -> ir.Node:
        return ir.make_and([self.convert_condition(a, state) for a in cond.args])

    def convert_condition_not(self, cond: ConditionNOT, state: ConversionState) -> ir.Node:
        child = self.convert_condition(cond.args[0], state)
        if isinstance(child, ir.Not):
            return child.child
        if isinstance(child, ir.Const):
            return ir.Const(not child.value)
        return ir.Not(child)

    # Field = value --------------------------------------------------------------------

    def convert_condition_field_eq_val_str(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        assert isinstance(cond.value, SigmaString)
        return string_node(cond.field, cond.value, cased=False)

    def convert_condition_field_eq_val_str_case_sensitive(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        assert isinstance(cond.value, SigmaCasedString)
        return string_node(cond.field, cond.value, cased=True)

    def convert_condition_field_eq_val_num(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        assert isinstance(cond.value, SigmaNumber)
        return ir.NumEq(cond.field, cond.value.number)

    def convert_condition_field_eq_val_timestamp_part(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        value = cond.value
        assert isinstance(value, SigmaTimestampPart)
        return ir.TimePart(cond.field, value.timestamp_part.name.lower(), int(value.number))

    def convert_condition_field_eq_val_bool(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        assert isinstance(cond.value, SigmaBool)
        return ir.BoolEq(cond.field, cond.value.boolean)

    def convert_condition_field_eq_val_re(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        assert isinstance(cond.value, SigmaRegularExpression)
        return regex_node(cond.field, cond.value)

    def convert_condition_field_eq_val_cidr(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        assert isinstance(cond.value, SigmaCIDRExpression)
        return ir.Cidr(cond.field, str(cond.value.network))

    def convert_condition_field_compare_op_val(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        value = cond.value
        assert isinstance(value, SigmaCompareExpression)
        return ir.Compare(cond.field, _COMPARE_OPS[value.op], value.number.number)

    def convert_condition_field_eq_field(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        ref = cond.value
        assert isinstance(ref, SigmaFieldReference)
        if ref.starts_with and ref.ends_with:
            kind = ir.StrKind.CONTAINS
        elif ref.starts_with:
            kind = ir.StrKind.PREFIX
        elif ref.ends_with:
            kind = ir.StrKind.SUFFIX
        else:
            kind = ir.StrKind.EQ
        return ir.FieldRef(cond.field, ref.field, kind)

    def convert_condition_field_eq_val_null(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        return ir.IsNull(cond.field)

    def convert_condition_field_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        return ir.Exists(cond.field)

    def convert_condition_field_not_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        return ir.Not(ir.Exists(cond.field))

    def convert_condition_field_eq_val_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        assert isinstance(cond.value, SigmaExists)
        node = ir.Exists(cond.field)
        return node if cond.value.exists else ir.Not(node)

    def convert_condition_field_eq_query_expr(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        raise UnsupportedFeatureError("query expression", str(cond.value))

    # Keywords (values without a field) --------------------------------------------------

    def convert_condition_val_str(
        self, cond: ConditionValueExpression, state: ConversionState
    ) -> ir.Node:
        assert isinstance(cond.value, SigmaString)
        value = cond.value
        if not value.startswith(SpecialChars.WILDCARD_MULTI):
            value = SpecialChars.WILDCARD_MULTI + value
        if not value.endswith(SpecialChars.WILDCARD_MULTI):
            value = value + SpecialChars.WILDCARD_MULTI
        return string_node(None, value, cased=isinstance(cond.value, SigmaCasedString))

    def convert_condition_val_num(
        self, cond: ConditionValueExpression, state: ConversionState
    ) -> ir.Node:
        assert isinstance(cond.value, SigmaNumber)
        return string_node(None, SigmaString(f"*{cond.value.number}*"), cased=False)

    def convert_condition_val_re(
        self, cond: ConditionValueExpression, state: ConversionState
    ) -> ir.Node:
        assert isinstance(cond.value, SigmaRegularExpression)
        return regex_node(None, cond.value)

    def convert_condition_query_expr(
        self, cond: ConditionValueExpression, state: ConversionState
    ) -> ir.Node:
        raise UnsupportedFeatureError("query expression", str(cond.value))

    def convert_condition_as_in_expression(
        self, cond: ConditionOR | ConditionAND, state: ConversionState
    ) -> ir.Node:
        # Never chosen: convert_or_as_in and convert_and_as_in stay False.
        raise UnsupportedFeatureError("in-expression", str(cond))

    # Correlation rules are stateful: the stream engine evaluates them, not one query.

    def _correlation(self, rule: Any, *args: Any, **kwargs: Any) -> Any:
        kind = getattr(getattr(rule, "type", None), "value", "correlation")
        raise UnsupportedFeatureError("correlation rule", f"{kind} correlations run on the stream")

    convert_correlation_event_count_rule = _correlation
    convert_correlation_value_count_rule = _correlation
    convert_correlation_temporal_rule = _correlation
    convert_correlation_temporal_ordered_rule = _correlation
    convert_correlation_extended_temporal_rule = _correlation
    convert_correlation_extended_temporal_ordered_rule = _correlation
    convert_correlation_value_sum_rule = _correlation
    convert_correlation_value_avg_rule = _correlation
    convert_correlation_value_percentile_rule = _correlation
    convert_correlation_value_median_rule = _correlation

    # Output ---------------------------------------------------------------------------

    def finalize_query_expr(
        self, rule: SigmaRule, query: ir.Node, index: int, state: ConversionState
    ) -> pl.Expr:
        return to_expr(query).alias(str(rule.id or rule.title))

    def finalize_output_expr(self, queries: list[pl.Expr]) -> list[pl.Expr]:
        return queries

    def finalize_query_default(
        self, rule: SigmaRule, query: ir.Node, index: int, state: ConversionState
    ) -> str:
        # sigma-cli prints text: the expression as Polars renders it.
        return str(self.finalize_query_expr(rule, query, index, state))

    def finalize_query_ir(
        self, rule: SigmaRule, query: ir.Node, index: int, state: ConversionState
    ) -> ir.Node:
        return query

    def finalize_output_ir(self, queries: list[ir.Node]) -> list[ir.Node]:
        return queries

    def rule_node(self, rule: SigmaRule) -> ir.Node:
        """The whole detection of ``rule`` (all its conditions OR-ed) as one node."""
        return ir.make_or(list(self.convert_rule(rule, "ir")))
