"""Detection: Sigma rules compiled to Polars expressions and evaluated in batches.

>>> from detect import CompiledRuleSet, load_rules

Names are imported from their modules on first use: evaluating a rule set read from the
cache (:mod:`detect.cache`) never imports pySigma, which only compiling needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from detect.backend import PolarsBackend
    from detect.compiled import CompiledRule
    from detect.correlation import CorrelationResult, CorrelationSet, Correlator
    from detect.engine import MATCH_SCHEMA, CompiledRuleSet
    from detect.errors import DetectError, RuleLoadError, RuleRejectedError
    from detect.files import RuleProblem
    from detect.loader import LoadedRules, SourcedRule, load_rules, parse_rules
    from detect.pipeline_names import DEFAULT_PIPELINE
    from detect.pipelines import PIPELINES, resolve_pipeline

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

_HOMES = {
    "DEFAULT_PIPELINE": "detect.pipeline_names",
    "MATCH_SCHEMA": "detect.engine",
    "PIPELINES": "detect.pipelines",
    "CompiledRule": "detect.compiled",
    "CompiledRuleSet": "detect.engine",
    "CorrelationResult": "detect.correlation",
    "CorrelationSet": "detect.correlation",
    "Correlator": "detect.correlation",
    "DetectError": "detect.errors",
    "LoadedRules": "detect.loader",
    "PolarsBackend": "detect.backend",
    "RuleLoadError": "detect.errors",
    "RuleProblem": "detect.files",
    "RuleRejectedError": "detect.errors",
    "SourcedRule": "detect.loader",
    "load_rules": "detect.loader",
    "parse_rules": "detect.loader",
    "resolve_pipeline": "detect.pipelines",
}


# Hidden from the type checker, which reads the imports above: a name outside them stays
# an error there.
if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        """``detect.<name>``: one of ``__all__``, imported from its module on first use."""
        home = _HOMES.get(name)
        if home is None:
            raise AttributeError(f"module 'detect' has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted([*globals(), *__all__])
