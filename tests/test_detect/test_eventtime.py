"""Event time per input: watermarks, idle release, late events, the clock-skew guard."""

from __future__ import annotations

import itertools
import random
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detect.correlation.eventtime import EventTime
from tests.test_detect.test_correlation_helpers import (
    ALL_TYPES,
    BASE_RULES,
    T0,
    compile_all,
    frame,
)

BASE, CORRELATIONS = compile_all(BASE_RULES, ALL_TYPES)
HOUR = 3_600_000_000
BRUTE = """
title: Brute force
id: 0b8f0c8e-5a55-4a4f-8d5e-4a9b8a0c1d01
correlation: {type: event_count, rules: failed, group-by: user, timespan: 60s,
              condition: {gte: 3}}
"""


def clock(**options: Any) -> EventTime:
    return EventTime(
        lateness_us=options.get("lateness_us", 0),
        max_skew_us=options.get("max_skew_us", HOUR),
        idle_s=options.get("idle_s"),
    )


def observe(time: EventTime, rows: list[tuple[str, int]], now_s: float | None = None) -> Any:
    inputs = pl.Series([r[0] for r in rows], dtype=pl.String)
    stamps = pl.Series([r[1] for r in rows], dtype=pl.Int64)
    return time.observe(inputs, stamps, now_s=now_s)


def test_combined_watermark_is_the_slowest_input_minus_lateness() -> None:
    time = clock(lateness_us=5)
    observe(time, [("a", 100), ("b", 40), ("a", 120)])
    assert time.combined() == 35


def test_an_expected_input_holds_the_watermark_until_it_delivers() -> None:
    time = clock()
    time.expect(["a", "b"])
    observe(time, [("a", 100)])
    assert time.combined() is None
    observe(time, [("b", 50)])
    assert time.combined() == 50


def test_a_finished_input_no_longer_holds_the_watermark() -> None:
    time = clock()
    observe(time, [("a", 100), ("b", 50)])
    time.finish("b")
    assert time.combined() == 100


def test_an_idle_input_is_released_after_the_idle_time() -> None:
    time = clock(idle_s=10)
    observe(time, [("a", 100), ("b", 50)], now_s=1_000.0)
    observe(time, [("a", 200)], now_s=1_005.0)
    assert time.combined(1_009.0) == 50
    assert time.combined(1_011.0) == 200
    # Every input idle: everything seen is final.
    assert time.combined(1_020.0) == 201


def test_an_input_that_still_lags_is_never_idle() -> None:
    time = clock(idle_s=10)
    observe(time, [("a", 100), ("b", 50)], now_s=1_000.0)
    observe(time, [("a", 200)], now_s=1_015.0)
    time.touch(["b"], now_s=1_015.0)
    assert time.combined(1_020.0) == 50


def test_late_is_decided_within_the_event_own_input() -> None:
    time = clock(lateness_us=10)
    seen = observe(time, [("a", 100), ("b", 500), ("a", 95), ("a", 80)])
    late = (seen.ts < seen.floor).fill_null(False).to_list()
    # b running ahead does not make a's events late; a's own order does.
    assert late == [False, False, False, True]


def test_an_event_without_time_between_does_not_hide_lateness() -> None:
    time = clock(lateness_us=0)
    inputs = pl.Series(["a", "a", "a"])
    seen = time.observe(inputs, pl.Series([1_000_000, None, 0], dtype=pl.Int64))
    assert (seen.ts < seen.floor).fill_null(False).to_list() == [False, False, True]


def test_a_far_future_stamp_moves_no_watermark_and_is_counted_per_input() -> None:
    time = clock()
    now = 1_000_000.0
    base = int(now * 1_000_000) - HOUR
    far = 253_402_300_799_000_000  # 9999-12-31
    seen = observe(time, [("fw", base), ("fw", far), ("fw", base + 1)], now_s=now)
    assert seen.skewed.to_list() == [False, True, False]
    assert time.inputs["fw"].watermark == base + 1
    assert time.skewed == {"fw": 1}


def test_in_replay_the_data_clock_judges_skew_and_a_gap_is_not_skew() -> None:
    time = clock()
    day = 24 * HOUR
    # A file that resumes a day later is its own recent range, not a forged clock.
    observe(time, [("f", t) for t in range(0, 100)])
    seen = observe(time, [("f", day + t) for t in range(0, 100)])
    assert not seen.skewed.any()
    seen = observe(time, [("f", day + 200), ("f", 50 * day), ("f", day + 300)])
    assert seen.skewed.to_list() == [False, True, False]


def test_state_survives_a_snapshot() -> None:
    time = clock(lateness_us=3)
    time.expect(["a", "b"])
    observe(time, [("a", 100), ("b", 70)])
    time.evaluated = 60
    again = clock(lateness_us=3)
    again.load_header(time.to_header())
    assert again.combined() == 67
    assert again.evaluated == 60
    assert again.inputs["a"].recent == [100]


def _streams(drawn: list[list[dict[str, Any]]]) -> list[list[dict[str, Any]]]:
    """One stream per input, each nearly in time order (jitter within the lateness)."""
    streams = []
    for index, events in enumerate(drawn):
        clock_s = 0
        rows = []
        for number, event in enumerate(events):
            clock_s += event["step"]
            rows.append(
                {
                    "@timestamp": max(0, clock_s + event["jitter"]),
                    "event.id": f"i{index}-e{number:03d}",
                    **{k: event[k] for k in ("user", "src", "outcome", "kind", "bytes")},
                }
            )
        streams.append(rows)
    return streams


_event = st.fixed_dictionaries(
    {
        "step": st.sampled_from([0, 1, 2, 5, 10, 20]),
        "jitter": st.sampled_from([0, 0, 0, -3, -40]),
        "user": st.sampled_from(["u1", "u2"]),
        "src": st.sampled_from(["s1", "s2"]),
        "outcome": st.sampled_from(["failure", "failure", "success"]),
        "kind": st.sampled_from(["transfer", None]),
        "bytes": st.one_of(st.none(), st.integers(0, 150)),
    }
)


def _run(
    streams: list[list[dict[str, Any]]], seed: int, lateness: int
) -> tuple[list[str], list[str]]:
    """Interleave the inputs' rows at random, cut into random batches, restart once."""
    rng = random.Random(seed)
    queues = [list(enumerate(s)) for s in streams]
    order: list[tuple[int, dict[str, Any]]] = []
    while any(queues):
        index = rng.choice([i for i, q in enumerate(queues) if q])
        order.append((index, queues[index].pop(0)[1]))
    cuts = sorted({0, len(order), *(rng.randrange(len(order) + 1) for _ in range(4))})
    correlator = CORRELATIONS.correlator(lateness_s=lateness)
    names = [f"in{i}" for i in range(len(streams))]
    correlator.expect(names)
    alerts, skipped = [], []
    restart = rng.randrange(len(cuts))
    for number, (start, end) in enumerate(itertools.pairwise(cuts)):
        if number == restart:
            saved = correlator.snapshot()
            correlator = CORRELATIONS.correlator(lateness_s=lateness)
            correlator.restore(saved)
        part = order[start:end]
        events = frame([row for _, row in part])
        inputs = pl.Series([names[i] for i, _ in part], dtype=pl.String)
        result = correlator.process(events, BASE.evaluate(events), inputs=inputs)
        alerts.append(result.alerts)
        skipped.append(result.skipped)
    alerts.append(correlator.finish(names))
    ids = pl.concat(alerts).get_column("alert_id").sort().to_list()
    late = sorted({e for frame in skipped for e in frame.get_column("event.id").to_list()})
    return ids, late


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    drawn=st.lists(st.lists(_event, min_size=0, max_size=25), min_size=1, max_size=3),
    seeds=st.tuples(st.integers(0, 10_000), st.integers(0, 10_000)),
    lateness=st.sampled_from([0, 5, 30]),
)
def test_alerts_and_late_events_do_not_depend_on_interleaving(
    drawn: list[list[dict[str, Any]]], seeds: tuple[int, int], lateness: int
) -> None:
    streams = _streams(drawn)
    assert _run(streams, seeds[0], lateness) == _run(streams, seeds[1], lateness)


def test_one_input_running_ahead_in_a_batch_makes_no_other_event_late() -> None:
    base, correlations = compile_all(BASE_RULES, BRUTE)
    correlator = correlations.correlator(lateness_s=0)
    correlator.expect(["web", "fw"])
    # One batch holds web's whole chunk (an hour later) before fw's chunk.
    web = [{"@timestamp": 3600 + s, "event.id": f"w{s}", "outcome": "success"} for s in (0, 1)]
    fw = [
        {"@timestamp": s, "event.id": f"f{s}", "user": "root", "outcome": "failure"}
        for s in (0, 10, 20)
    ]
    events = frame(web + fw)
    inputs = pl.Series(["web"] * 2 + ["fw"] * 3)
    result = correlator.process(events, base.evaluate(events), inputs=inputs)
    assert result.skipped.height == 0
    assert result.alerts.height == 0  # fw's 20 s is not final yet: fw may still deliver it
    alerts = correlator.finish(["fw", "web"])
    assert alerts.get_column("event_ids").to_list() == [["f0", "f10", "f20"]]


@pytest.mark.parametrize("now_s", [None, T0.timestamp() + 86_400], ids=["replay", "kafka"])
def test_a_far_future_event_leaves_correlation_alerts_unchanged(now_s: float | None) -> None:
    base, correlations = compile_all(BASE_RULES, BRUTE)
    rows = [
        {"@timestamp": s, "event.id": f"f{s}", "user": "root", "outcome": "failure"}
        for s in (0, 10, 20, 30, 200, 210, 220, 230)
    ]
    # 9999-11-20 on a line of a brute force's user, in the middle of the stream.
    forged = {
        "@timestamp": 250_000_000_000,
        "event.id": "forged",
        "user": "root",
        "outcome": "failure",
    }

    def alerts(stream: list[dict[str, Any]]) -> tuple[list[str], Any]:
        correlator = correlations.correlator(lateness_s=0)
        found = []
        for row in stream:
            events = frame([row])
            found.append(correlator.process(events, base.evaluate(events), now_s=now_s).alerts)
        found.append(correlator.flush())
        return pl.concat(found).get_column("alert_id").to_list(), correlator.skewed

    clean, _ = alerts(rows)
    dirty, skewed = alerts([*rows[:5], forged, *rows[5:]])
    assert len(clean) == 2
    assert dirty == clean
    assert skewed == {"": 1}
