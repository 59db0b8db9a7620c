"""End to end from a local broker through detection: the pipeline and a per-record loop.

``pytest benchmarks/test_pipeline_bench.py --benchmark-enable``; both tests read the same
pre-filled topic (the bundled sample of ``NEAKTA_BENCH_PIPELINE_FAMILY``, repeated) with
a fresh consumer group each round, and evaluate the bundled rules. Sizes:
``NEAKTA_BENCH_PIPELINE_EVENTS`` and ``NEAKTA_BENCH_PIPELINE_BASELINE_EVENTS``; with
benchmarks disabled (the default test run) each runs once on a small topic.
``python -m benchmarks.pipeline`` prints the side-by-side figures and the ratio.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from benchmarks.pipeline import (
    BASELINE_EVENTS,
    EVENTS,
    FAMILY,
    SAMPLE,
    fill_topic,
    parse_lines,
    run_neakta,
    run_per_record,
)
from neakta.settings import DEFAULT_RULES
from neakta.wiring import compile_rulesets
from testsupport.tansu import tansu_broker


@pytest.fixture(scope="module")
def topic(request: pytest.FixtureRequest) -> Iterator[tuple[str, str, int, int]]:
    enabled = not request.config.getoption("benchmark_disable", default=True)
    events, baseline = (EVENTS, BASELINE_EVENTS) if enabled else (5_000, 100)
    with tansu_broker() as bootstrap:
        name = asyncio.run(fill_topic(bootstrap, max(events, baseline)))
        yield bootstrap, name, events, baseline


def test_neakta_pipeline_from_broker(benchmark: Any, topic: tuple[str, str, int, int]) -> None:
    bootstrap, name, events, _ = topic
    rulesets = compile_rulesets([DEFAULT_RULES], families=(FAMILY,))

    def once() -> tuple[float, int]:
        return asyncio.run(run_neakta(bootstrap, name, events, rulesets))

    rate, alerts = benchmark.pedantic(once, rounds=1, iterations=1)
    benchmark.extra_info.update(events=events, events_per_s=round(rate), alerts=alerts)
    assert alerts > 0


def test_per_record_loop_from_broker(benchmark: Any, topic: tuple[str, str, int, int]) -> None:
    bootstrap, name, _, baseline = topic
    ruleset = compile_rulesets([DEFAULT_RULES], families=(FAMILY,))[FAMILY]

    def once() -> tuple[float, int]:
        return asyncio.run(run_per_record(bootstrap, name, baseline, ruleset))

    rate, matches = benchmark.pedantic(once, rounds=1, iterations=1)
    benchmark.extra_info.update(events=baseline, events_per_s=round(rate), matches=matches)
    # One record at a time finds what one evaluation of the whole batch finds.
    lines = SAMPLE.read_text().splitlines()
    together = parse_lines((lines * (baseline // len(lines) + 1))[:baseline])
    assert matches == ruleset.evaluate(together).height
