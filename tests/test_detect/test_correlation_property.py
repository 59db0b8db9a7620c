"""Property: the Polars correlator agrees with the plain-Python reference.

Whatever the batch boundaries, wherever the state is snapshotted and restored into a
fresh correlator, and with out-of-order and late events, the alerts are the reference's.
"""

from __future__ import annotations

import itertools
from typing import Any

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detect.correlation.reference import ReferenceAlert, reference_alerts
from tests.test_detect.test_correlation_helpers import ALL_TYPES, BASE_RULES, compile_all, frame

BASE, CORRELATIONS = compile_all(BASE_RULES, ALL_TYPES)

_event = st.fixed_dictionaries(
    {
        "step": st.sampled_from([0, 1, 2, 3, 5, 7, 10, 10, 20, 30]),
        "jitter": st.sampled_from([0, 0, 0, 0, -3, -10, -25, -70]),
        "untimed": st.integers(0, 30),
        "user": st.sampled_from(["u1", "u1", "u2", None]),
        "src": st.sampled_from(["s1", "s2"]),
        "outcome": st.sampled_from(["failure", "failure", "success", "other"]),
        "kind": st.sampled_from(["transfer", None]),
        "bytes": st.one_of(st.none(), st.integers(0, 150)),
    }
)


def _stream(drawn: list[dict[str, Any]]) -> list[dict[str, Any]]:
    clock = 0
    rows = []
    for number, event in enumerate(drawn):
        clock += event["step"]
        seconds = None if event["untimed"] == 0 else max(0, clock + event["jitter"])
        rows.append(
            {
                "@timestamp": seconds,
                "event.id": f"e{number:03d}",
                **{k: event[k] for k in ("user", "src", "outcome", "kind", "bytes")},
            }
        )
    return rows


def _comparable(alerts: pl.DataFrame) -> list[ReferenceAlert]:
    return [
        ReferenceAlert(
            row["alert_id"],
            row["rule_id"],
            tuple(row["group_values"]),
            int(row["window_end"].timestamp() * 1_000_000),
            round(row["value"], 6),
            row["event_count"],
            tuple(row["event_ids"]),
        )
        for row in alerts.sort("window_end", "rule_id", "alert_id").iter_rows(named=True)
    ]


def _rounded(alerts: list[ReferenceAlert]) -> list[ReferenceAlert]:
    return [
        ReferenceAlert(
            a.alert_id,
            a.rule_id,
            a.group_values,
            a.window_end,
            round(a.value, 6),
            a.event_count,
            a.event_ids,
        )
        for a in alerts
    ]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    drawn=st.lists(_event, min_size=1, max_size=60),
    cuts=st.lists(st.integers(0, 60), max_size=6),
    restart=st.one_of(st.none(), st.integers(0, 6)),
    lateness=st.sampled_from([0, 5, 30]),
    flush=st.booleans(),
)
def test_alerts_do_not_depend_on_batches_or_restarts(
    drawn: list[dict[str, Any]],
    cuts: list[int],
    restart: int | None,
    lateness: int,
    flush: bool,
) -> None:
    rows = _stream(drawn)
    events = frame(rows)
    bounds = sorted({0, len(rows), *(c for c in cuts if c < len(rows))})
    correlator = CORRELATIONS.correlator(lateness_s=lateness)
    found = []
    for number, (start, end) in enumerate(itertools.pairwise(bounds)):
        if number == restart:
            saved = correlator.snapshot()
            correlator = CORRELATIONS.correlator(lateness_s=lateness)
            correlator.restore(saved)
        batch = events.slice(start, end - start)
        found.append(correlator.process(batch, BASE.evaluate(batch)).alerts)
    if flush:
        found.append(correlator.flush())
    matches = BASE.evaluate(events)
    matched: list[set[int]] = [set() for _ in rows]
    for row, rule_index in matches.select("row", "rule_index").iter_rows():
        matched[row].add(rule_index)
    expected = reference_alerts(
        CORRELATIONS.rules,
        events.to_dicts(),
        matched,
        lateness_us=lateness * 1_000_000,
        silenced=CORRELATIONS.silenced_correlations,
        flush=flush,
    )
    assert _comparable(pl.concat(found)) == _rounded(expected)
