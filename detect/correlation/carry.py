"""Carry correlation state across a rule reload: unchanged rules keep their open windows.

A correlation rule is *unchanged* when its definition (type, timespan, group-by,
condition, the rules it references and what those rules detect) is the same in the old and
the new rule set, whatever its index. :func:`carry_over` builds the new set's correlator
from the old one's snapshot and forgets the state of every other rule.
"""

from __future__ import annotations

from collections.abc import Hashable

from detect.correlation.correlator import CorrelationSet, Correlator
from detect.correlation.model import CompiledCorrelation
from detect.engine import CompiledRuleSet

__all__ = ["carry_over", "definitions", "unchanged"]


def definitions(correlations: CorrelationSet, base: CompiledRuleSet) -> dict[str, Hashable]:
    """Correlation rule id -> everything its alerts depend on, comparable across sets."""

    def definition(rule: CompiledCorrelation) -> Hashable:
        inputs = []
        for given in rule.inputs:
            if given.kind == "rule":
                referenced = base.rules[given.index]
                target: Hashable = (referenced.id, referenced.node)
            else:
                target = definition(correlations.rules[given.index])
            inputs.append((given.position, given.kind, given.group, given.value, target))
        return (
            rule.type,
            rule.timespan_us,
            rule.group_by,
            rule.generate,
            rule.condition,
            rule.expression,
            rule.percentile,
            tuple(inputs),
        )

    return {rule.id: definition(rule) for rule in correlations.rules}


def unchanged(old: dict[str, Hashable], new: dict[str, Hashable]) -> frozenset[str]:
    """Ids of the correlation rules whose definition is the same in both sets."""
    return frozenset(i for i, definition in new.items() if old.get(i) == definition)


def carry_over(old: Correlator, correlations: CorrelationSet, keep: frozenset[str]) -> Correlator:
    """A correlator of ``correlations`` holding ``old``'s state for the rules in ``keep``."""
    new = Correlator(
        correlations,
        lateness_s=old.lateness_us / 1_000_000,
        max_event_ids=old.max_event_ids,
        max_skew_s=old.max_skew_us / 1_000_000,
        idle_s=old.idle_s,
    )
    new.restore(old.snapshot())
    new.forget_rules(frozenset(r.id for r in correlations.rules) - keep)
    return new
