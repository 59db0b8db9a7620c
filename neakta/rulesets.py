"""Load and compile the rules a pipeline runs: detection rule sets and correlation rules.

The detection rules are compiled once with the ``ecs`` pipeline (cached, see
:mod:`detect.cache`) and shared by every log family; the correlation rules are compiled
over them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from detect import CompiledRuleSet
from detect.cache import compile_rules, read_entry, ruleset_key, write_entry
from detect.correlation import CorrelationSet
from detect.files import find_rule_files
from ingest.sources import FAMILIES

__all__ = ["compile_correlations", "compile_rulesets"]


def compile_correlations(
    paths: Sequence[str | Path],
    base: CompiledRuleSet,
    *,
    placeholders: Mapping[str, list[str]] | None = None,
    cache_dir: Path | None = None,
) -> CorrelationSet:
    """The correlation rules among the rules at ``paths``, over the base rule set.

    Rule files without a top-level ``correlation:`` key hold no correlation rule, and are
    not parsed again (SigmaHQ's thousand rules take seconds to parse). Correlations name
    their rules, so where one is present every rule is parsed: ``cache_dir`` keeps the
    result, keyed as the base rule set is (:func:`detect.cache.ruleset_key`) and by the
    base rules' ids, so that a start-up on unchanged rules parses none of them.
    """
    if not any(_holds_correlation(path) for path in find_rule_files(paths)):
        return CorrelationSet([])
    if cache_dir is None:
        return _compile_correlations(paths, base)
    digest = hashlib.sha256(ruleset_key(paths, "ecs", placeholders).encode())
    for rule in base.rules:
        digest.update(f"{rule.id}\0{rule.title}\0".encode())
    entry = cache_dir / f"correlations-{digest.hexdigest()}.pickle"
    found = read_entry(entry)
    if isinstance(found, CorrelationSet):
        return found
    correlations = _compile_correlations(paths, base)
    write_entry(entry, correlations)
    return correlations


def _compile_correlations(paths: Sequence[str | Path], base: CompiledRuleSet) -> CorrelationSet:
    from detect.loader import load_rules  # pySigma: only where the rules are parsed

    loaded = load_rules(paths)
    return CorrelationSet.compile([*loaded.rules, *loaded.correlations], base, pipeline="ecs")


_CORRELATION_KEY = re.compile(rb"^correlation\s*:", re.MULTILINE)


def _holds_correlation(path: Path) -> bool:
    try:
        return _CORRELATION_KEY.search(path.read_bytes()) is not None
    except OSError:
        return True  # load_rules reports the file


def compile_rulesets(
    paths: Sequence[str | Path],
    *,
    placeholders: Mapping[str, list[str]] | None = None,
    families: Sequence[str] = FAMILIES,
    cache_dir: Path | None = None,
) -> dict[str, CompiledRuleSet]:
    """Load and compile the rules once with the ``ecs`` pipeline; the same set per family.

    Each family calibrates its own copy of the fast patterns on its first batch (the copies
    share the compiled expressions); the ``ecs`` pipeline's logsource routing keeps a
    family's events away from other rules. ``cache_dir`` caches the compiled rules
    (:mod:`detect.cache`).
    """
    ruleset = compile_rules(paths, pipeline="ecs", placeholders=placeholders, cache_dir=cache_dir)
    # Compiled once: each family gets its own calibration of the same rules (see process).
    return dict.fromkeys(families, ruleset)
