"""Sigma rules parsed by pySigma, compiled to the engine's rules (the cold path).

:meth:`detect.engine.CompiledRuleSet.compile` and ``from_yaml`` call into this module,
which imports pySigma; the engine itself does not, so that a rule set read from the cache
(:mod:`detect.cache`) evaluates without importing pySigma at all.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping

from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from detect.backend import PolarsBackend, UnsupportedFeatureError
from detect.compiled import CompiledRule, compiled_rule, rule_problem
from detect.files import RuleProblem
from detect.loader import SourcedRule, parse_rules
from detect.pipelines import UNROUTED, resolve_pipeline

__all__ = ["compile_sources", "parse_documents"]


def compile_sources(
    sources: Iterable[SourcedRule | SigmaRule],
    pipeline: str,
    placeholders: Mapping[str, list[str]] | None,
) -> tuple[list[CompiledRule], list[RuleProblem]]:
    """The rules that compile, and each one that cannot be evaluated, by name and reason."""
    backend = PolarsBackend(resolve_pipeline(pipeline, placeholders))
    backend.init_processing_pipeline()
    compiled: list[CompiledRule] = []
    rejected: list[RuleProblem] = []
    for given in sources:
        source = given if isinstance(given, SourcedRule) else SourcedRule(given, "<memory>", 1)
        # pySigma's pipelines edit the rule they convert: work on a copy, so the same
        # parsed rules can be compiled again (another pipeline, another rule set).
        rule = copy.deepcopy(source.rule)
        if isinstance(rule, SigmaCorrelationRule):
            rejected.append(
                rule_problem(source, "correlation rule", "correlation rules run on the stream")
            )
            continue
        try:
            node = backend.rule_node(rule)
        except UnsupportedFeatureError as error:
            rejected.append(rule_problem(source, error.reason, error.detail))
            continue
        except SigmaError as error:
            message = str(error).split(" (while ")[0]
            reason = UNROUTED.split(":")[0] if UNROUTED in message else type(error).__name__
            problem = rule_problem(source, reason, message)
            rejected.append(problem)
            continue
        compiled.append(compiled_rule(rule, len(compiled), source.path, source.line, node))
    return compiled, rejected


def parse_documents(documents: Iterable[str]) -> tuple[list[SourcedRule], list[RuleProblem]]:
    """The rules (correlations last) of YAML texts, and the problems met parsing them."""
    sources: list[SourcedRule] = []
    problems: list[RuleProblem] = []
    for number, text in enumerate(documents):
        loaded = parse_rules(text, f"<yaml {number}>")
        sources.extend(loaded.rules)
        sources.extend(loaded.correlations)
        problems.extend(loaded.problems)
    return sources, problems
