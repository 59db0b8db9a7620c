"""A plain-Python sliding-window correlator: the specification the Polars one must meet.

It reads the whole stream at once, event by event in arrival order, and applies the rules
of :mod:`detect.correlation.windows` literally: lateness decided against the latest time
seen before each event, every final event's window ``(t - timespan, t]`` rebuilt from the
group's events, one alert per burst. Slow on purpose (no shared state, no vectorization);
tests compare :class:`~detect.correlation.Correlator` against it whatever the batches.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from detect.correlation.hits import KEY_SEPARATOR
from detect.correlation.model import CompiledCorrelation, Expression
from detect.correlation.windows import alert_id

__all__ = ["ReferenceAlert", "reference_alerts"]


@dataclass(frozen=True, slots=True)
class ReferenceAlert:
    """The comparable content of one alert."""

    alert_id: str
    rule_id: str
    group_values: tuple[str, ...]
    window_end: int
    value: float
    event_count: int
    event_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Hit:
    pos: int
    key: str
    ts: int
    eid: str
    value: str | None
    number: float | None


def _micros(value: object) -> int | None:
    if isinstance(value, datetime):
        return int(value.timestamp() * 1_000_000) if value.tzinfo else None
    return None


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _joined(parts: list[str | None]) -> str | None:
    """Parts joined as the group key is; None if any part is missing."""
    present = [p for p in parts if p is not None]
    return KEY_SEPARATOR.join(present) if len(present) == len(parts) else None


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    try:
        return float(str(value)) if value is not None else None
    except ValueError:
        return None


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    place = share * (len(ordered) - 1)
    low = int(place)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (place - low)


def _aggregate(rule: CompiledCorrelation, window: list[_Hit]) -> float | None:
    numbers = [h.number for h in window if h.number is not None]
    match rule.type:
        case "event_count":
            return float(len(window))
        case "value_count":
            return float(len({h.value for h in window if h.value is not None}))
        case "value_sum":
            return float(sum(numbers))
        case "value_avg":
            return statistics.fmean(numbers) if numbers else None
        case "value_median":
            return float(statistics.median(numbers)) if numbers else None
        case "value_percentile":
            share = (rule.percentile or 50.0) / 100
            return _percentile(numbers, share) if numbers else None
        case _:
            seen = {h.pos for h in window}
            if rule.expression is not None:
                return 1.0 if _holds(rule.expression, seen) else 0.0
            return float(len(seen))


def _holds(expression: Expression, seen: set[int]) -> bool:
    kind, arg = expression
    if kind == "ref":
        return arg in seen
    assert isinstance(arg, tuple)
    results = [_holds(part, seen) for part in arg]
    return all(results) if kind == "and" else any(results)


def _in_order(rule: CompiledCorrelation, hits: list[_Hit], end: int) -> bool:
    """Whether the rules occurred in order within ``(end - timespan, end]``."""
    current = end
    for position in range(len(rule.inputs) - 2, -1, -1):
        earlier = [h.ts for h in hits if h.pos == position and h.ts <= current]
        if not earlier:
            return False
        current = max(earlier)
    return current > end - rule.timespan_us


def _fire(
    rule: CompiledCorrelation, hits: list[_Hit], watermark: int, max_event_ids: int
) -> list[ReferenceAlert]:
    by_key: dict[str, list[_Hit]] = defaultdict(list)
    for hit in hits:
        by_key[hit.key].append(hit)
    alerts: list[ReferenceAlert] = []
    span = rule.timespan_us
    last_pos = len(rule.inputs) - 1
    for key, group in by_key.items():
        last: int | None = None
        ends = sorted(
            {
                h.ts
                for h in group
                if h.ts < watermark and (rule.type != "temporal_ordered" or h.pos == last_pos)
            }
        )
        for end in ends:
            if last is not None and end - span < last:
                continue
            window = sorted(
                (h for h in group if end - span < h.ts <= end), key=lambda h: (h.ts, h.eid)
            )
            if rule.type == "temporal_ordered":
                if not _in_order(rule, group, end):
                    continue
                value: float | None = float(len(rule.inputs))
            else:
                value = _aggregate(rule, window)
            if value is None or not rule.condition.holds(value):
                continue
            last = end
            alerts.append(
                ReferenceAlert(
                    alert_id(rule.id, key, end),
                    rule.id,
                    tuple(key.split(KEY_SEPARATOR)) if rule.group_by else (),
                    end,
                    float(value),
                    len(window),
                    tuple(h.eid for h in window[:max_event_ids]),
                )
            )
    return alerts


def reference_alerts(  # noqa: C901 (a plain reference, kept as one readable loop)
    correlations: Sequence[CompiledCorrelation],
    events: Sequence[Mapping[str, object]],
    matched: Sequence[set[int]],
    *,
    lateness_us: int,
    silenced: frozenset[int] = frozenset(),
    flush: bool = False,
    max_event_ids: int = 20,
) -> list[ReferenceAlert]:
    """Every alert the stream ``events`` (arrival order) gives, sorted by end, rule, id.

    ``matched[i]`` holds the base rule indexes event ``i`` matched; ``@timestamp`` values
    are timezone-aware datetimes. ``flush``: evaluate every window, as at the end of a
    replay; otherwise only those the final watermark has passed.
    """
    hits: dict[int, list[_Hit]] = defaultdict(list)
    latest: int | None = None
    for event, rules in zip(events, matched, strict=True):
        ts = _micros(event.get("@timestamp"))
        late = ts is not None and latest is not None and ts < latest - lateness_us
        if ts is not None and not late:
            for rule in correlations:
                for given in rule.inputs:
                    if given.kind != "rule" or given.index not in rules:
                        continue
                    key = _joined([_text(event.get(c)) for c in given.group])
                    if key is None:
                        continue
                    value = _joined([_text(event.get(c)) for c in given.value])
                    number = _number(event.get(given.value[0])) if given.value else None
                    eid = str(event.get("event.id"))
                    hits[rule.index].append(
                        _Hit(given.position, key, ts, eid, value if given.value else None, number)
                    )
        if ts is not None:
            latest = ts if latest is None else max(latest, ts)
    if latest is None:
        return []
    watermark = latest + 1 if flush else latest - lateness_us
    produced: dict[int, list[ReferenceAlert]] = {}
    out: list[ReferenceAlert] = []
    for rule in correlations:
        for given in rule.inputs:
            for alert in produced.get(given.index, []) if given.kind == "correlation" else []:
                key = KEY_SEPARATOR.join(alert.group_values[int(g)] for g in given.group)
                hits[rule.index].append(
                    _Hit(given.position, key, alert.window_end, alert.alert_id, None, None)
                )
        produced[rule.index] = _fire(rule, hits[rule.index], watermark, max_event_ids)
        if rule.index not in silenced:
            out.extend(produced[rule.index])
    return sorted(out, key=lambda a: (a.window_end, a.rule_id, a.alert_id))
