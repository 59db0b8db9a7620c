"""Rule sets and events shared by the benchmark suites and the comparison table."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import polars as pl

from benchmarks.rulegen import generate_rules
from detect import CompiledRuleSet, SourcedRule, load_rules, parse_rules
from samples import generate_process_frame

__all__ = ["EVENTS", "events", "rule_sources", "ruleset", "with_unique_command_lines"]

# NEAKTA_SIGMAHQ=/path/to/sigma uses SigmaHQ's process_creation rules; else generated ones.
SIGMAHQ = os.environ.get("NEAKTA_SIGMAHQ")
EVENTS = int(os.environ.get("NEAKTA_BENCH_EVENTS", "1000000"))
GENERATED_RULES = 1400


@cache
def rule_sources() -> tuple[str, tuple[SourcedRule, ...]]:
    """(description, rules): SigmaHQ process_creation if configured, else generated."""
    if SIGMAHQ:
        folder = Path(SIGMAHQ) / "rules" / "windows" / "process_creation"
        return f"SigmaHQ process_creation ({folder})", load_rules([folder]).rules
    texts = generate_rules(GENERATED_RULES)
    rules = tuple(r for text in texts for r in parse_rules(text).rules)
    return f"{GENERATED_RULES} generated SigmaHQ-shaped rules", rules


def ruleset(count: int | None, strategy: str = "fast") -> CompiledRuleSet:
    """The first ``count`` rules (all when None), compiled with the raw pipeline."""
    _, rules = rule_sources()
    chosen = rules if count is None else rules[:count]
    return CompiledRuleSet.compile(chosen, pipeline="raw", strategy=strategy)  # type: ignore[arg-type]


@cache
def events(rows: int = EVENTS) -> pl.DataFrame:
    """Sysmon-like process-creation events (deterministic)."""
    return generate_process_frame(rows, seed=7)


def with_unique_command_lines(frame: pl.DataFrame) -> pl.DataFrame:
    """The same events with a per-event token (like a temp file name) on every command line.

    Generated command lines repeat far more than real ones, and neakta searches each
    distinct value of a repetitive column once; this variant shows the cost without it.
    """
    token = pl.int_range(pl.len(), dtype=pl.UInt64).hash(seed=11).cast(pl.String)
    return frame.with_columns(
        pl.concat_str(pl.col("CommandLine"), pl.lit(" /t:"), token).alias("CommandLine")
    )
