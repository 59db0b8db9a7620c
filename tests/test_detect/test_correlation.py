"""Correlation types, windows, lateness, chains and snapshots on tiny inline streams."""

from __future__ import annotations

import polars as pl
import pytest

from detect.correlation import ALERT_SCHEMA, CorrelationStateError
from tests.test_detect.test_correlation_helpers import BASE_RULES, at, compile_all, frame

MANY_FAILED = """
title: Many failed logins
id: 3f1f0a52-1d1c-4f7e-9b1a-2c2e8f0d9a11
name: many_failed
correlation: {type: event_count, rules: failed, group-by: user, timespan: 60s,
              condition: {gte: 3}}
level: high
tags: [attack.credential-access, attack.t1110]
"""


def failures(*seconds: float, user: str = "alice", src: str = "s1") -> list[dict[str, object]]:
    return [
        {
            "@timestamp": s,
            "event.id": f"{user}-{s:g}",
            "user": user,
            "src": src,
            "outcome": "failure",
        }
        for s in seconds
    ]


def run(
    rules: str, *batches: list[dict[str, object]], lateness: float = 0, flush: bool = True
) -> tuple[pl.DataFrame, pl.DataFrame]:
    base, correlations = compile_all(BASE_RULES, rules)
    assert not correlations.rejected, [str(p) for p in correlations.rejected]
    correlator = correlations.correlator(lateness_s=lateness)
    alerts, skipped = [], []
    for rows in batches:
        events = frame(rows)
        result = correlator.process(events, base.evaluate(events))
        alerts.append(result.alerts)
        skipped.append(result.skipped)
    if flush:
        alerts.append(correlator.flush())
    return pl.concat(alerts), pl.concat(skipped)


def test_event_count_alert_carries_rule_group_window_and_events() -> None:
    alerts, _ = run(MANY_FAILED, failures(0, 10, 20, 30))
    assert alerts.schema == pl.Schema(ALERT_SCHEMA)
    row = alerts.row(0, named=True)
    assert alerts.height == 1
    assert row["rule_id"] == "3f1f0a52-1d1c-4f7e-9b1a-2c2e8f0d9a11"
    assert row["rule_title"] == "Many failed logins"
    assert row["rule_name"] == "many_failed"
    assert row["level"] == "high"
    assert row["tags"] == ["attack.credential-access", "attack.t1110"]
    assert row["correlation_type"] == "event_count"
    assert row["group_by"] == ["user"]
    assert row["group_values"] == ["alice"]
    assert (row["window_start"], row["window_end"]) == (at(-40), at(20))
    assert (row["value"], row["event_count"]) == (3.0, 3)
    assert row["event_ids"] == ["alice-0", "alice-10", "alice-20"]


def test_one_alert_per_burst_and_again_once_the_window_has_moved_on() -> None:
    alerts, _ = run(MANY_FAILED, failures(0, 10, 20, 30, 40, 79, 80, 90, 100))
    assert alerts["window_end"].to_list() == [at(20), at(80)]


def test_groups_are_counted_apart() -> None:
    alerts, _ = run(MANY_FAILED, failures(0, 10, user="alice") + failures(20, 30, user="bob"))
    assert alerts.height == 0


def test_events_outside_the_timespan_do_not_count() -> None:
    alerts, _ = run(MANY_FAILED, failures(0, 30, 61))
    assert alerts.height == 0


def test_same_alerts_whatever_the_batches() -> None:
    stream = failures(0, 10, 20, 30, 40, 79, 80, 90, 100)
    whole, _ = run(MANY_FAILED, stream)
    split, _ = run(MANY_FAILED, stream[:2], stream[2:3], stream[3:7], stream[7:])
    assert split.equals(whole)


def test_an_alert_waits_for_the_watermark_then_comes_once() -> None:
    base, correlations = compile_all(BASE_RULES, MANY_FAILED)
    correlator = correlations.correlator(lateness_s=15)
    first = frame(failures(0, 10, 20))
    assert correlator.process(first, base.evaluate(first)).alerts.height == 0
    later = frame(failures(36))  # watermark 21 s: the window ending at 20 s is final
    assert correlator.process(later, base.evaluate(later)).alerts["window_end"].to_list() == [
        at(20)
    ]


def test_out_of_order_within_lateness_is_counted() -> None:
    alerts, skipped = run(MANY_FAILED, failures(0, 20), failures(10, 30), lateness=15)
    assert alerts["event_ids"].to_list() == [["alice-0", "alice-10", "alice-20"]]
    assert skipped.height == 0


def test_later_than_lateness_is_reported_not_counted() -> None:
    alerts, skipped = run(MANY_FAILED, failures(0, 20, 70), failures(10), lateness=15)
    assert alerts.height == 0
    assert skipped.select("rule_id", "event.id", "reason").rows() == [
        ("3f1f0a52-1d1c-4f7e-9b1a-2c2e8f0d9a11", "alice-10", "late: before the allowed lateness")
    ]


def test_events_without_time_or_group_value_are_reported() -> None:
    rows: list[dict[str, object]] = [
        *failures(0, 10),
        {"@timestamp": None, "event.id": "untimed", "user": "alice", "outcome": "failure"},
        {"@timestamp": 5, "event.id": "nobody", "user": None, "outcome": "failure"},
    ]
    _, skipped = run(MANY_FAILED, rows)
    assert sorted(skipped.select("event.id", "reason").rows()) == [
        ("nobody", "no group-by value: user"),
        ("untimed", "no @timestamp"),
    ]


@pytest.mark.parametrize(
    ("correlation", "expected"),
    [
        (
            "{type: value_count, rules: failed, group-by: src, timespan: 60s,"
            " condition: {gte: 2, field: user}}",
            [(["s1"], 2.0)],
        ),
        (
            "{type: value_sum, rules: transfer, group-by: user, timespan: 60s,"
            " condition: {gt: 100, field: bytes}}",
            [(["alice"], 130.0)],
        ),
        (
            "{type: value_avg, rules: transfer, group-by: user, timespan: 60s,"
            " condition: {lt: 70, field: bytes}}",
            [(["alice"], 65.0)],
        ),
        (
            "{type: value_median, rules: transfer, group-by: user, timespan: 60s,"
            " condition: {lt: 70, field: bytes}}",
            [(["alice"], 65.0)],
        ),
        (
            "{type: value_percentile, rules: transfer, group-by: user, timespan: 60s,"
            " condition: {lt: 95, field: bytes, percentile: 90}}",
            [(["alice"], 93.0)],
        ),
        (
            "{type: event_count, rules: [failed, transfer], group-by: user, timespan: 60s,"
            " condition: {lte: 1}}",
            [(["alice"], 1.0), (["bob"], 1.0)],
        ),
        (
            "{type: event_count, rules: failed, group-by: user, timespan: 60s, condition: {eq: 2}}",
            [(["alice"], 2.0)],
        ),
        (
            "{type: event_count, rules: failed, group-by: user, timespan: 60s,"
            " condition: {neq: 1}}",
            [(["alice"], 2.0)],
        ),
        (
            "{type: temporal, rules: [failed, transfer], group-by: user, timespan: 60s}",
            [(["alice"], 2.0)],
        ),
        (
            "{type: temporal, rules: [failed, success, transfer], group-by: user, timespan: 60s,"
            " condition: 'success or (failed and transfer)'}",
            [(["alice"], 1.0)],
        ),
        (
            "{type: temporal_ordered, rules: [transfer, failed], group-by: user, timespan: 60s}",
            [(["alice"], 2.0)],
        ),
        ("{type: temporal_ordered, rules: [failed, transfer], group-by: user, timespan: 60s}", []),
    ],
)
def test_each_correlation_type(correlation: str, expected: list[tuple[list[str], float]]) -> None:
    rows = [
        {
            "@timestamp": 0,
            "event.id": "t1",
            "user": "alice",
            "src": "s1",
            "kind": "transfer",
            "bytes": 100,
        },
        {
            "@timestamp": 5,
            "event.id": "t2",
            "user": "alice",
            "src": "s1",
            "kind": "transfer",
            "bytes": 30,
        },
        {"@timestamp": 10, "event.id": "f1", "user": "alice", "src": "s1", "outcome": "failure"},
        {"@timestamp": 12, "event.id": "f2", "user": "alice", "src": "s1", "outcome": "failure"},
        {"@timestamp": 20, "event.id": "f3", "user": "bob", "src": "s1", "outcome": "failure"},
    ]
    alerts, _ = run(f"title: c\ncorrelation: {correlation}", rows)
    assert alerts.select("group_values", "value").rows() == expected


def test_chain_of_correlations() -> None:
    outer = """
    title: Failures then success
    correlation: {type: temporal_ordered, rules: [many_failed, success], group-by: user,
                  timespan: 2m}
    level: critical
    """
    success = {"@timestamp": 50, "event.id": "ok", "user": "alice", "outcome": "success"}
    rows = [*failures(0, 10, 20), success]
    alerts, _ = run(MANY_FAILED + "---\n" + outer, rows)
    # The inner rule's alerts are silenced (generate defaults to false): only the chain's.
    assert alerts.select("rule_title", "window_end", "event_count").rows() == [
        ("Failures then success", at(50), 2)
    ]


def test_generate_keeps_base_rule_alerts() -> None:
    _, silent = compile_all(BASE_RULES, MANY_FAILED)
    _, loud = compile_all(
        BASE_RULES,
        MANY_FAILED.replace("condition: {gte: 3}}", "condition: {gte: 3}, generate: true}"),
    )
    matches = pl.DataFrame(
        {"row": [0, 1], "rule_index": [0, 1]}, schema={"row": pl.UInt32, "rule_index": pl.UInt32}
    )
    assert silent.visible(matches)["rule_index"].to_list() == [1]
    assert loud.visible(matches)["rule_index"].to_list() == [0, 1]


def test_snapshot_restores_the_state_into_a_fresh_correlator() -> None:
    base, correlations = compile_all(BASE_RULES, MANY_FAILED)
    first, second = frame(failures(0, 10)), frame(failures(20, 90))
    before = correlations.correlator()
    before.process(first, base.evaluate(first))
    after = correlations.correlator()
    after.restore(before.snapshot())
    assert after.watermark == before.watermark
    assert after.process(second, base.evaluate(second)).alerts["window_end"].to_list() == [at(20)]


def test_state_expires_after_timespan_and_lateness() -> None:
    base, correlations = compile_all(BASE_RULES, MANY_FAILED)
    correlator = correlations.correlator(lateness_s=10)
    events = frame(failures(0, 10, 20, 30, 200))
    correlator.process(events, base.evaluate(events))
    # Watermark 190 s: only events after 130 s (or not yet final) are still kept.
    assert correlator.state_rows == 1


@pytest.mark.parametrize("cut", [None, 40, 200])
def test_unreadable_snapshot_is_refused(cut: int | None) -> None:
    _, correlations = compile_all(BASE_RULES, MANY_FAILED)
    blob = b"not a snapshot" if cut is None else correlations.correlator().snapshot()[:cut]
    with pytest.raises(CorrelationStateError) as caught:
        correlations.correlator().restore(blob)
    assert caught.value.retriable is False


@pytest.mark.parametrize(
    ("correlation", "reason"),
    [
        (
            "{type: event_count, rules: nowhere, group-by: user, timespan: 1m,"
            " condition: {gte: 2}}",
            "correlation: unknown rule reference",
        ),
        (
            "{type: temporal, rules: [failed, success], group-by: user, timespan: 1m,"
            " condition: 'failed and not success'}",
            "correlation: not in extended condition",
        ),
        (
            "{type: temporal_ordered, rules: [failed, success], group-by: user, timespan: 1m,"
            " condition: {gte: 1}}",
            "correlation: temporal_ordered condition other than all rules",
        ),
    ],
)
def test_rules_that_cannot_run_are_rejected_by_name(correlation: str, reason: str) -> None:
    _, correlations = compile_all(BASE_RULES, f"title: c\ncorrelation: {correlation}")
    assert [p.reason for p in correlations.rejected] == [reason]
    assert correlations.rules == ()
