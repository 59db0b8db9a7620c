"""Detection: Sigma rules compiled to Polars expressions and evaluated in batches.

>>> from detect import CompiledRuleSet, load_rules
"""

# Registers utf16 and utf16le as the specification defines them, before any rule is read.
import detect.modifiers  # noqa: F401
from detect.backend import PolarsBackend
from detect.compiled import CompiledRule
from detect.correlation import CorrelationResult, CorrelationSet, Correlator
from detect.engine import MATCH_SCHEMA, CompiledRuleSet
from detect.errors import DetectError, RuleLoadError, RuleRejectedError
from detect.loader import LoadedRules, RuleProblem, SourcedRule, load_rules, parse_rules
from detect.pipelines import DEFAULT_PIPELINE, PIPELINES, resolve_pipeline

__all__ = [
    "DEFAULT_PIPELINE",
    "MATCH_SCHEMA",
    "PIPELINES",
    "CompiledRule",
    "CompiledRuleSet",
    "CorrelationResult",
    "CorrelationSet",
    "Correlator",
    "DetectError",
    "LoadedRules",
    "PolarsBackend",
    "RuleLoadError",
    "RuleProblem",
    "RuleRejectedError",
    "SourcedRule",
    "load_rules",
    "parse_rules",
    "resolve_pipeline",
]
