"""Shared inline rules and helpers of the correlation tests (no tests of its own)."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from detect import CompiledRuleSet
from detect.correlation import CorrelationSet
from detect.loader import parse_rules

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)

BASE_RULES = """
title: Failed login
name: failed
logsource: {product: test}
detection: {sel: {outcome: failure}, condition: sel}
---
title: Successful login
name: success
logsource: {product: test}
detection: {sel: {outcome: success}, condition: sel}
---
title: Transfer
name: transfer
logsource: {product: test}
detection: {sel: {kind: transfer}, condition: sel}
"""

ALL_TYPES = """
title: Many failed logins
name: many_failed
correlation: {type: event_count, rules: failed, group-by: user, timespan: 60s,
              condition: {gte: 3}}
level: high
---
title: Failed logins for several users
correlation: {type: value_count, rules: failed, group-by: src, timespan: 60s,
              condition: {gte: 2, field: user}}
---
title: Large transfer total
correlation: {type: value_sum, rules: transfer, group-by: user, timespan: 60s,
              condition: {gt: 100, field: bytes}}
---
title: Large average transfer
correlation: {type: value_avg, rules: transfer, group-by: user, timespan: 30s,
              condition: {gte: 50, field: bytes}}
---
title: Small median transfer
correlation: {type: value_median, rules: transfer, group-by: src, timespan: 60s,
              condition: {lt: 20, field: bytes}}
---
title: High transfer percentile
correlation: {type: value_percentile, rules: transfer, group-by: src, timespan: 60s,
              condition: {gte: 80, field: bytes, percentile: 90}}
---
title: Failure and success
correlation: {type: temporal, rules: [failed, success], group-by: user, timespan: 30s}
---
title: Failure with success or transfer
correlation: {type: temporal, rules: [failed, success, transfer], group-by: user,
              timespan: 30s, condition: "failed and (success or transfer)"}
---
title: Failure then success
correlation: {type: temporal_ordered, rules: [failed, success], group-by: user,
              timespan: 60s}
---
title: Repeated bursts of failures
correlation: {type: event_count, rules: many_failed, group-by: user, timespan: 5m,
              condition: {gte: 2}}
---
title: Burst of failures then success
correlation: {type: temporal_ordered, rules: [many_failed, success], group-by: user,
              timespan: 2m}
---
title: Lone source
correlation: {type: event_count, rules: [failed, success], group-by: src, timespan: 20s,
              condition: {lt: 2}}
---
title: Exactly two failures
correlation: {type: event_count, rules: failed, group-by: [user, src], timespan: 20s,
              condition: {eq: 2}}
"""


def compile_all(*texts: str, pipeline: str = "none") -> tuple[CompiledRuleSet, CorrelationSet]:
    """Base rule set and correlation set of inline YAML documents."""
    loaded = parse_rules("\n---\n".join(textwrap.dedent(t).strip() for t in texts))
    assert not loaded.problems, [str(p) for p in loaded.problems]
    base = CompiledRuleSet.compile(loaded.rules, pipeline=pipeline)
    correlations = CorrelationSet.compile(
        [*loaded.rules, *loaded.correlations], base, pipeline=pipeline
    )
    return base, correlations


def frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Events with ``@timestamp`` given as seconds after ``T0`` (``None``: no timestamp)."""
    columns = ["@timestamp", "event.id", "user", "src", "outcome", "kind", "bytes"]
    data = {c: [r.get(c) for r in rows] for c in columns}
    data["@timestamp"] = [
        None if s is None else T0 + timedelta(seconds=s) for s in data["@timestamp"]
    ]
    return pl.DataFrame(
        data,
        schema={
            "@timestamp": pl.Datetime("us", "UTC"),
            "event.id": pl.String,
            "user": pl.String,
            "src": pl.String,
            "outcome": pl.String,
            "kind": pl.String,
            "bytes": pl.Int64,
        },
    )


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)
