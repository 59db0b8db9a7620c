"""Compile Sigma correlation rules against a compiled base rule set.

A correlation rule names its base rules (by ``name:`` or ``id``) or other correlation rules
(a chain). Compiling resolves every reference, maps each ``group-by`` field and the value
field to the column it reads in the events of each base rule (``aliases`` first, then the
processing pipeline's field mapping for that rule's logsource, as the base rule's own
detection fields are mapped), and orders the correlations so that a correlation is
evaluated after the ones it reads.

What pySigma parses but neakta cannot evaluate is rejected by name, per rule:
``not`` in an extended condition, extended conditions on ``temporal_ordered``,
``temporal_ordered`` with a condition other than "all rules", unknown references.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sigma.correlations import (
    CorrelationConditionAND,
    CorrelationConditionItem,
    CorrelationConditionNOT,
    CorrelationConditionOR,
    SigmaCorrelationCondition,
    SigmaCorrelationConditionOperator,
    SigmaCorrelationRule,
    SigmaExtendedCorrelationCondition,
    SigmaRuleReference,
)
from sigma.processing.pipeline import ProcessingPipeline
from sigma.processing.transformations import FieldMappingTransformation
from sigma.rule import SigmaRule

from detect.correlation.model import (
    CORRELATION_TYPES,
    CompiledCorrelation,
    Condition,
    Expression,
    Input,
    Op,
)
from detect.engine import CompiledRuleSet
from detect.loader import RuleProblem, SourcedRule
from detect.pipelines import resolve_pipeline

__all__ = ["compile_correlations"]


class _RejectedError(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


_OPS: dict[SigmaCorrelationConditionOperator, Op] = {
    SigmaCorrelationConditionOperator.GT: "gt",
    SigmaCorrelationConditionOperator.GTE: "gte",
    SigmaCorrelationConditionOperator.LT: "lt",
    SigmaCorrelationConditionOperator.LTE: "lte",
    SigmaCorrelationConditionOperator.EQ: "eq",
    SigmaCorrelationConditionOperator.NEQ: "neq",
}


def _field_mapping(pipeline: ProcessingPipeline, rule: SigmaRule) -> dict[str, str]:
    """Sigma field -> column for ``rule``'s logsource (single-column mappings only)."""
    mapping: dict[str, str] = {}
    for item in pipeline.items:
        transformation = item.transformation
        if isinstance(transformation, FieldMappingTransformation) and (
            item.match_rule_conditions(rule)
        ):
            for sigma_field, column in transformation.mapping.items():
                if sigma_field is None:
                    continue
                if isinstance(column, str):
                    mapping[sigma_field] = column
                elif len(column) == 1:
                    mapping[sigma_field] = column[0]
    return mapping


def _references(rule: SigmaCorrelationRule) -> list[str]:
    if rule.rules is not None:
        return [r.reference for r in rule.rules]
    if isinstance(rule.condition, SigmaExtendedCorrelationCondition):
        return rule.condition.get_referenced_rules()
    return []


def _expression(
    node: CorrelationConditionItem | SigmaRuleReference, positions: Mapping[str, int]
) -> Expression:
    if isinstance(node, SigmaRuleReference):
        return ("ref", positions[node.reference])
    if isinstance(node, CorrelationConditionNOT):
        raise _RejectedError("correlation: not in extended condition", "only and/or are evaluated")
    kind = "and" if isinstance(node, CorrelationConditionAND) else "or"
    assert isinstance(node, CorrelationConditionAND | CorrelationConditionOR)
    return (kind, tuple(_expression(arg, positions) for arg in node.args))


class _Resolver:
    """Look up referenced rules by name or id and build each correlation's inputs."""

    def __init__(
        self, sources: list[SourcedRule], base: CompiledRuleSet, pipeline: ProcessingPipeline
    ) -> None:
        self.pipeline = pipeline
        self.by_ref: dict[str, SourcedRule] = {}
        for source in sources:
            rule = source.rule
            if rule.id is not None:
                self.by_ref[str(rule.id)] = source
            if rule.name:
                self.by_ref.setdefault(rule.name, source)
        self.base_index = {r.id: r.index for r in base.rules}
        self.compiled: dict[int, CompiledCorrelation] = {}  # id(rule object) -> compiled

    def compile(self, source: SourcedRule, index: int) -> CompiledCorrelation:
        rule = source.rule
        assert isinstance(rule, SigmaCorrelationRule)
        kind = rule.type.name.lower()
        if kind not in CORRELATION_TYPES:
            raise _RejectedError("correlation: unsupported type", kind)
        refs = _references(rule)
        positions = {ref: pos for pos, ref in enumerate(refs)}
        group_by = tuple(rule.group_by or ())
        condition, expression, percentile = self._condition(rule, kind, positions, len(refs))
        value_fields = self._value_fields(rule)
        inputs = tuple(
            self._input(rule, pos, ref, group_by, value_fields) for pos, ref in enumerate(refs)
        )
        level = rule.level.name.lower() if rule.level else "medium"
        return CompiledCorrelation(
            index=index,
            id=str(rule.id) if rule.id else f"{source.path}:{source.line}",
            name=rule.name,
            title=rule.title or "",
            level=level,
            tags=tuple(str(t) for t in rule.tags or ()),
            description=rule.description or "",
            author=rule.author or "",
            references=tuple(rule.references or ()),
            type=kind,
            timespan_us=rule.timespan.seconds * 1_000_000,
            group_by=group_by,
            generate=rule.generate,
            condition=condition,
            expression=expression,
            percentile=percentile,
            inputs=inputs,
            path=source.path,
            line=source.line,
        )

    def _condition(
        self, rule: SigmaCorrelationRule, kind: str, positions: Mapping[str, int], refs: int
    ) -> tuple[Condition, Expression | None, float | None]:
        cond = rule.condition
        if isinstance(cond, SigmaExtendedCorrelationCondition):
            if kind != "temporal":
                raise _RejectedError("correlation: extended condition on " + kind, cond.expression)
            return Condition("gte", 1), _expression(cond.parsed, positions), None
        assert isinstance(cond, SigmaCorrelationCondition)
        condition = Condition(_OPS[cond.op], float(cond.count))
        if kind == "temporal_ordered" and condition != Condition("gte", float(refs)):
            raise _RejectedError(
                "correlation: temporal_ordered condition other than all rules",
                f"{condition.op} {cond.count} of {refs}",
            )
        percentile = None
        if kind == "value_percentile":
            percentile = float(cond.percentile if cond.percentile is not None else 50)
        return condition, None, percentile

    @staticmethod
    def _value_fields(rule: SigmaCorrelationRule) -> tuple[str, ...]:
        cond = rule.condition
        if not isinstance(cond, SigmaCorrelationCondition) or cond.fieldref is None:
            return ()
        return (cond.fieldref,) if isinstance(cond.fieldref, str) else tuple(cond.fieldref)

    def _input(
        self,
        rule: SigmaCorrelationRule,
        position: int,
        ref: str,
        group_by: tuple[str, ...],
        value_fields: tuple[str, ...],
    ) -> Input:
        target = self.by_ref.get(ref)
        if target is None:
            raise _RejectedError("correlation: unknown rule reference", ref)
        aliases = {
            alias.alias: field
            for alias in rule.aliases
            for reference, field in alias.mapping.items()
            if reference.reference == ref
        }
        named = [aliases.get(f, f) for f in group_by]
        if isinstance(target.rule, SigmaCorrelationRule):
            inner = self.compiled.get(id(target.rule))
            if inner is None:
                raise _RejectedError("correlation: referenced correlation not compiled", ref)
            missing = [f for f in named if f not in inner.group_by]
            if missing:
                raise _RejectedError(
                    "correlation: group-by field not in referenced correlation",
                    f"{', '.join(missing)} (of {ref})",
                )
            group = tuple(str(inner.group_by.index(f)) for f in named)
            return Input(position, "correlation", inner.index, ref, group, ())
        rule_id = str(target.rule.id) if target.rule.id else f"{target.path}:{target.line}"
        base_index = self.base_index.get(rule_id)
        if base_index is None:
            raise _RejectedError("correlation: base rule not compiled", ref)
        mapping = _field_mapping(self.pipeline, target.rule)
        group = tuple(mapping.get(f, f) for f in named)
        value = tuple(mapping.get(aliases.get(f, f), aliases.get(f, f)) for f in value_fields)
        return Input(position, "rule", base_index, ref, group, value)


def _problem(source: SourcedRule, reason: str, detail: str) -> RuleProblem:
    rule = source.rule
    return RuleProblem(
        source.path, source.line, reason, detail, str(rule.id) if rule.id else None, rule.title
    )


def _dependency_order(correlations: list[SourcedRule]) -> list[SourcedRule]:
    """Correlations sorted so that each comes after the correlations it references."""
    by_ref: dict[str, SourcedRule] = {}
    for source in correlations:
        if source.rule.id is not None:
            by_ref[str(source.rule.id)] = source
        if source.rule.name:
            by_ref.setdefault(source.rule.name, source)
    ordered: list[SourcedRule] = []
    state: dict[int, int] = {}  # 1: visiting, 2: done

    def visit(source: SourcedRule) -> None:
        key = id(source)
        if state.get(key) == 2:
            return
        if state.get(key) == 1:
            return  # a cycle: the reference is reported as "not compiled"
        state[key] = 1
        rule = source.rule
        assert isinstance(rule, SigmaCorrelationRule)
        for ref in _references(rule):
            if ref in by_ref:
                visit(by_ref[ref])
        state[key] = 2
        ordered.append(source)

    for source in correlations:
        visit(source)
    return ordered


def compile_correlations(
    sources: Iterable[SourcedRule],
    base: CompiledRuleSet,
    *,
    pipeline: str,
) -> tuple[list[CompiledCorrelation], list[RuleProblem]]:
    """Compile the correlation rules among ``sources`` against ``base``.

    ``sources`` holds every loaded rule: the correlation rules, and the base rules they
    name (needed to resolve ``name:`` references and each base rule's field mapping).
    Returns the compiled correlations, in evaluation order, and the rejected ones.
    """
    everything = list(sources)
    resolver = _Resolver(everything, base, resolve_pipeline(pipeline))
    correlations = [s for s in everything if isinstance(s.rule, SigmaCorrelationRule)]
    compiled: list[CompiledCorrelation] = []
    problems: list[RuleProblem] = []
    for source in _dependency_order(correlations):
        try:
            result = resolver.compile(source, len(compiled))
        except _RejectedError as rejected:
            problems.append(_problem(source, rejected.reason, rejected.detail))
            continue
        resolver.compiled[id(source.rule)] = result
        compiled.append(result)
    return compiled, problems
