"""Correlation side by side: the Polars correlator against the plain-Python sliding window.

``python -m benchmarks.correlation``. 20 correlation rules (every type, several timespans
and group-bys) over generated firewall events with 100,000 distinct source addresses. The
base rules' matches are computed first; the figures are for correlation alone (events
per second through ``Correlator.process``, in batches), with the state size at the end.
The plain-Python reference gets fewer events (it is far slower); both must find the same
alerts on the events they share.
Environment: ``NEAKTA_BENCH_CORR_EVENTS`` (default 1,000,000),
``NEAKTA_BENCH_CORR_BASELINE_EVENTS`` (default 50,000), ``NEAKTA_BENCH_CORR_KEYS``
(default 100,000), ``NEAKTA_BENCH_CORR_BATCH`` (default 100,000).
"""

from __future__ import annotations

import os
import platform
import random
import time
from dataclasses import dataclass

import polars as pl

from detect import CompiledRuleSet
from detect.correlation import CorrelationSet
from detect.correlation.reference import reference_alerts
from detect.loader import parse_rules

__all__ = ["CorrelationWorkload", "main", "run_correlator", "run_reference", "workload"]

EVENTS = int(os.environ.get("NEAKTA_BENCH_CORR_EVENTS", "1000000"))
BASELINE_EVENTS = int(os.environ.get("NEAKTA_BENCH_CORR_BASELINE_EVENTS", "50000"))
KEYS = int(os.environ.get("NEAKTA_BENCH_CORR_KEYS", "100000"))
BATCH = int(os.environ.get("NEAKTA_BENCH_CORR_BATCH", "100000"))

_BASE = """
title: Denied
name: denied
logsource: {category: firewall}
detection: {sel: {event.type: denied}, condition: sel}
---
title: Allowed
name: allowed
logsource: {category: firewall}
detection: {sel: {event.type: allowed}, condition: sel}
---
title: Remote login port
name: remote_login
logsource: {category: firewall}
detection: {sel: {destination.port: [22, 3389]}, condition: sel}
---
title: SMB port
name: smb
logsource: {category: firewall}
detection: {sel: {destination.port: 445}, condition: sel}
---
title: Any connection
name: connection
logsource: {category: firewall}
detection: {sel: {destination.port|exists: true}, condition: sel}
"""

_SHAPES = [
    "{{type: event_count, rules: denied, group-by: source.ip, timespan: {span},"
    " condition: {{gte: 20}}}}",
    "{{type: event_count, rules: remote_login, group-by: [source.ip, destination.ip],"
    " timespan: {span}, condition: {{gte: 10}}}}",
    "{{type: value_count, rules: connection, group-by: source.ip, timespan: {span},"
    " condition: {{gte: 15, field: destination.port}}}}",
    "{{type: value_count, rules: denied, group-by: source.ip, timespan: {span},"
    " condition: {{gte: 10, field: destination.ip}}}}",
    "{{type: value_sum, rules: allowed, group-by: source.ip, timespan: {span},"
    " condition: {{gt: 5000000, field: network.bytes}}}}",
    "{{type: temporal, rules: [denied, allowed, smb], group-by: source.ip, timespan: {span}}}",
    "{{type: temporal_ordered, rules: [remote_login, smb], group-by: [source.ip, destination.ip],"
    " timespan: {span}}}",
    "{{type: event_count, rules: [smb, remote_login], group-by: source.ip,"
    " timespan: {span}, condition: {{gte: 12}}}}",
    "{{type: value_avg, rules: connection, group-by: source.ip, timespan: {span},"
    " condition: {{gte: 500000, field: network.bytes}}}}",
    "{{type: temporal, rules: [smb, remote_login], group-by: source.ip, timespan: {span},"
    " condition: 'smb and remote_login'}}",
]
_SPANS = ["1m", "10m"]


def correlation_rules() -> str:
    """The 20 correlation rules (10 shapes x 2 timespans) and their 5 base rules."""
    documents = [_BASE.strip()]
    for number, (shape, span) in enumerate((shape, span) for span in _SPANS for shape in _SHAPES):
        documents.append(f"title: Correlation {number}\ncorrelation: {shape.format(span=span)}")
    return "\n---\n".join(documents)


@dataclass(frozen=True, slots=True)
class CorrelationWorkload:
    """Events, base-rule matches and correlation rules of one measured run."""

    base: CompiledRuleSet
    correlations: CorrelationSet
    events: pl.DataFrame
    matches: list[tuple[pl.DataFrame, pl.DataFrame]]  # (batch, its matches)


def events_frame(count: int, keys: int, seed: int = 7) -> pl.DataFrame:
    """Firewall events over one hour, mostly in time order, ``keys`` distinct sources."""
    rng = random.Random(seed)
    offsets = sorted(rng.randrange(3_600_000_000) for _ in range(count))
    # One event in twenty arrives up to five seconds out of order.
    offsets = [o - rng.randrange(5_000_000) if rng.random() < 0.05 else o for o in offsets]
    common = [22, 80, 443, 445, 3389, 8080, 53, 25]
    ports = [
        rng.randrange(1, 65535) if rng.random() < 0.1 else rng.choice(common) for _ in range(count)
    ]
    # One event in a hundred comes from one of 20 scanning or guessing sources.
    sources = [
        rng.randrange(20) if rng.random() < 0.01 else rng.randrange(keys) for _ in range(count)
    ]
    start = pl.datetime(2026, 3, 1, 8, time_zone="UTC")
    return pl.DataFrame(
        {
            "offset": offsets,
            "event.id": [f"e{i}" for i in range(count)],
            "event.dataset": ["firewall.fortigate"] * count,
            "event.type": ["denied" if rng.random() < 0.3 else "allowed" for _ in range(count)],
            "source.ip": [f"10.{k >> 16 & 255}.{k >> 8 & 255}.{k & 255}" for k in sources],
            "destination.ip": [f"172.16.0.{rng.randrange(50)}" for _ in range(count)],
            "destination.port": pl.Series(ports, dtype=pl.Int32),
            "network.bytes": [1_000_000 if k < 20 else rng.randrange(100, 5000) for k in sources],
        }
    ).select(
        (start + pl.duration(microseconds=pl.col("offset"))).alias("@timestamp"),
        pl.exclude("offset"),
    )


def workload(
    count: int = EVENTS, keys: int = KEYS, batch: int = BATCH, events: pl.DataFrame | None = None
) -> CorrelationWorkload:
    """Rules, events (generated, or ``events``) and the base matches of each batch."""
    loaded = parse_rules(correlation_rules())
    base = CompiledRuleSet.compile(loaded.rules, pipeline="none")
    correlations = CorrelationSet.compile(
        [*loaded.rules, *loaded.correlations], base, pipeline="none"
    )
    assert len(correlations.rules) == 20 and not correlations.rejected
    frame = events_frame(count, keys) if events is None else events
    batches = [frame.slice(start, batch) for start in range(0, frame.height, batch)]
    calibrated = base.calibrate(frame)
    matches = [(b, calibrated.evaluate(b)) for b in batches]
    return CorrelationWorkload(base, correlations, frame, matches)


def run_correlator(work: CorrelationWorkload) -> tuple[float, pl.DataFrame, int, int]:
    """Events/s through the correlator, its alerts (with a final flush), state bytes, rows."""
    correlator = work.correlations.correlator(lateness_s=10)
    started = time.perf_counter()
    found = [correlator.process(batch, matches).alerts for batch, matches in work.matches]
    elapsed = time.perf_counter() - started
    state = correlator.snapshot()
    rows = correlator.state_rows
    found.append(correlator.flush())
    return work.events.height / elapsed, pl.concat(found), len(state), rows


def run_reference(work: CorrelationWorkload) -> tuple[float, set[str]]:
    """Events/s of the plain-Python sliding window on the same stream, and its alert ids."""
    matched: list[set[int]] = [set() for _ in range(work.events.height)]
    offset = 0
    for batch, matches in work.matches:
        for row, rule_index in matches.select("row", "rule_index").iter_rows():
            matched[offset + row].add(rule_index)
        offset += batch.height
    rows = work.events.to_dicts()
    started = time.perf_counter()
    alerts = reference_alerts(
        work.correlations.rules,
        rows,
        matched,
        lateness_us=10_000_000,
        silenced=work.correlations.silenced_correlations,
        flush=True,
    )
    return work.events.height / (time.perf_counter() - started), {a.alert_id for a in alerts}


def main() -> None:
    """Print the correlation measurements."""
    print(
        f"neakta correlation benchmark on {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores; 20 correlation rules, {KEYS:,} source addresses"
    )
    big = workload(EVENTS)
    rate, alerts, state_bytes, state_rows = run_correlator(big)
    # The baseline gets the first events of the same stream (same density, shorter time).
    small = workload(events=big.events.head(BASELINE_EVENTS))
    small_rate, small_alerts, _, _ = run_correlator(small)
    reference_rate, reference_ids = run_reference(small)
    print()
    print("| engine | events | events/s | alerts | state after last batch |")
    print("|---|---:|---:|---:|---|")
    print(
        f"| **neakta** (Polars, batches of {BATCH:,}) | {EVENTS:,} | {rate:,.0f} | "
        f"{alerts.height:,} | {state_bytes:,} bytes, {state_rows:,} rows |"
    )
    print(f"| neakta | first {BASELINE_EVENTS:,} | {small_rate:,.0f} | {small_alerts.height:,} | |")
    print(
        f"| plain-Python sliding window | first {BASELINE_EVENTS:,} | {reference_rate:,.0f} | "
        f"{len(reference_ids):,} | |"
    )
    same = set(small_alerts["alert_id"]) == reference_ids
    same_text = "the same alerts" if same else "DIFFERENT alerts"
    print(
        f"\nneakta at {EVENTS:,} events is {rate / reference_rate:,.1f}x the plain-Python rate, "
        f"{small_rate / reference_rate:,.1f}x on the same first {BASELINE_EVENTS:,} events; "
        f"there: {same_text}."
    )


if __name__ == "__main__":
    main()
