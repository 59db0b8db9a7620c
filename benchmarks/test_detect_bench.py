"""pytest-benchmark suites for the detection core (``make bench``; off in ``make test``).

Each group holds neakta and its baseline on the same rules and events, so pytest-benchmark's
table shows them side by side.
"""

# pytest-benchmark ships no annotations for pedantic().
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import os

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from benchmarks.baselines import PerRuleFilter
from benchmarks.workloads import events, ruleset

ROWS = int(os.environ.get("NEAKTA_BENCH_SUITE_EVENTS", "200000"))


@pytest.mark.parametrize("count", [10, 100, None], ids=["10-rules", "100-rules", "all-rules"])
def test_neakta_fast_patterns(benchmark: BenchmarkFixture, count: int | None) -> None:
    benchmark.group = f"detect {count or 'all'} rules, {ROWS} events"
    frame = events(ROWS)
    compiled = ruleset(count).calibrate(frame.head(1000))
    benchmark.pedantic(compiled.evaluate, args=(frame,), rounds=3, iterations=1)


@pytest.mark.parametrize("count", [10, 100, None], ids=["10-rules", "100-rules", "all-rules"])
def test_neakta_row_by_row(benchmark: BenchmarkFixture, count: int | None) -> None:
    """neakta without evaluating repeated rows once: the cost where no two events are alike."""
    benchmark.group = f"detect {count or 'all'} rules, {ROWS} events"
    frame = events(ROWS)
    compiled = ruleset(count).with_distinct_share(0.0).calibrate(frame.head(1000))
    benchmark.pedantic(compiled.evaluate, args=(frame,), rounds=3, iterations=1)


@pytest.mark.parametrize("count", [10, 100], ids=["10-rules", "100-rules"])
def test_baseline_one_lazy_query(benchmark: BenchmarkFixture, count: int) -> None:
    benchmark.group = f"detect {count} rules, {ROWS} events"
    compiled = ruleset(count, strategy="naive")
    benchmark.pedantic(compiled.evaluate, args=(events(ROWS),), rounds=3, iterations=1)


@pytest.mark.parametrize("count", [10, 100], ids=["10-rules", "100-rules"])
def test_baseline_filter_per_rule(benchmark: BenchmarkFixture, count: int) -> None:
    benchmark.group = f"detect {count} rules, {ROWS} events"
    per_rule = PerRuleFilter(ruleset(count))
    benchmark.pedantic(per_rule.count, args=(events(ROWS),), rounds=3, iterations=1)
