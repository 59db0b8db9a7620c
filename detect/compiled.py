"""A compiled rule: what alerts need to know of it, and what the engine runs.

:class:`CompiledRule` is the metadata of one rule (id, title, level, tags, where it was
read) together with its detection node (:mod:`detect.ir`) and the literals its fast
patterns may use (:mod:`detect.patterns`). :func:`rule_problem` describes a rule that
cannot be evaluated. Compiled rules are what the rule cache stores: this module and
those it imports never import pySigma, so a cached rule set loads without it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from detect import ir
from detect.files import RuleProblem
from detect.patterns import Pattern, choose_pattern, pattern_literals

if TYPE_CHECKING:
    from sigma.rule import SigmaRule

    from detect.loader import SourcedRule

__all__ = ["CompiledRule", "compiled_rule", "rule_problem"]


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule ready to run, with the metadata alerts need."""

    index: int
    id: str
    title: str
    level: str
    status: str
    tags: tuple[str, ...]
    description: str
    author: str
    references: tuple[str, ...]
    falsepositives: tuple[str, ...]
    logsource: tuple[str | None, str | None, str | None]
    path: str
    line: int
    node: ir.Node = field(repr=False)
    literals: tuple[tuple[str, str], ...] = field(repr=False)
    pattern: Pattern = field(repr=False)
    """The statically best fast pattern (empty: the rule runs on every row)."""


def compiled_rule(rule: SigmaRule, index: int, path: str, line: int, node: ir.Node) -> CompiledRule:
    """The rule's metadata, its detection node and the literals its fast patterns use."""
    level = rule.level.name.lower() if rule.level else "medium"
    status = rule.status.name.lower() if rule.status else ""
    logsource = rule.logsource
    return CompiledRule(
        index=index,
        id=str(rule.id) if rule.id else f"{path}:{line}",
        title=rule.title or "",
        level=level,
        status=status,
        tags=tuple(str(t) for t in rule.tags or ()),
        description=rule.description or "",
        author=rule.author or "",
        references=tuple(rule.references or ()),
        falsepositives=tuple(rule.falsepositives or ()),
        logsource=(logsource.category, logsource.product, logsource.service),
        path=path,
        line=line,
        node=node,
        literals=tuple(dict.fromkeys(pattern_literals(node))),
        pattern=choose_pattern(node, second_slot=False),
    )


def rule_problem(source: SourcedRule, reason: str, detail: str) -> RuleProblem:
    """A rule that cannot be evaluated, by path, line, id and title, with the reason."""
    rule = source.rule
    return RuleProblem(
        path=source.path,
        line=source.line,
        reason=reason,
        detail=detail,
        rule_id=str(rule.id) if rule.id else None,
        title=rule.title,
    )
