"""pytest-benchmark suite for correlation (``make bench``; off in ``make test``).

One group: the Polars correlator and the plain-Python sliding-window reference on the same
stream (20 correlation rules, generated firewall events with many distinct sources), so
pytest-benchmark's table shows them side by side. ``python -m benchmarks.correlation``
prints the same comparison on 1,000,000 events, with the state size.
"""

# pytest-benchmark ships no annotations for pedantic().
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import os
from functools import cache

from pytest_benchmark.fixture import BenchmarkFixture

from benchmarks.correlation import CorrelationWorkload, run_correlator, run_reference, workload

ROWS = int(os.environ.get("NEAKTA_BENCH_CORR_SUITE_EVENTS", "50000"))


@cache
def shared() -> CorrelationWorkload:
    return workload(ROWS, keys=max(ROWS // 10, 1), batch=max(ROWS // 10, 1))


def test_correlator(benchmark: BenchmarkFixture) -> None:
    benchmark.group = f"correlate 20 rules, {ROWS} events"
    rate, alerts, state_bytes, _ = benchmark.pedantic(
        run_correlator, args=(shared(),), rounds=3, iterations=1
    )
    benchmark.extra_info.update(events_per_s=round(rate), state_bytes=state_bytes)
    assert alerts.height > 0


def test_baseline_plain_python_sliding_window(benchmark: BenchmarkFixture) -> None:
    benchmark.group = f"correlate 20 rules, {ROWS} events"
    rate, ids = benchmark.pedantic(run_reference, args=(shared(),), rounds=1, iterations=1)
    benchmark.extra_info.update(events_per_s=round(rate))
    assert ids == set(run_correlator(shared())[1]["alert_id"])
