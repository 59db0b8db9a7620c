"""Correlation rules on the stream: the compiled set, and the stateful per-partition runner.

:class:`CorrelationSet` is compiled once at start-up, next to the base
:class:`~detect.engine.CompiledRuleSet`. A :class:`Correlator` holds the window state of
one partition (see :mod:`detect.correlation` for the partition and checkpoint protocol):
per batch, ``process(events, matches)`` adds the matched events to the state, evaluates
every window the watermark has made final and returns the alerts, plus the matched events
it could not count (late, no ``@timestamp``, no group-by value), each with its reason.

Event time is per input (topic partition, file): see :mod:`detect.correlation.eventtime`.
Matched events are buffered until the combined watermark of the inputs passes their
window, so alerts do not depend on how inputs interleave or on batch sizes.

The state is the correlations' matched events still inside an open window (key, time,
event id, value), the last firing per group and each input's watermark; ``snapshot()``
writes it as Arrow IPC, ``restore()`` reads it back, so a restart resumes exactly where
the checkpoint was.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from detect.correlation.errors import CorrelationStateError
from detect.correlation.eventtime import DEFAULT_INPUT, EventTime
from detect.correlation.hits import HIT_SCHEMA, KEY_SEPARATOR, epoch_us
from detect.correlation.hits import extract_hits as _extract_hits
from detect.correlation.model import CompiledCorrelation
from detect.correlation.snapshot import decode_state, encode_state
from detect.correlation.windows import ALERT_SCHEMA, FIRED_SCHEMA, evaluate
from detect.engine import CompiledRuleSet
from detect.files import RuleProblem
from detect.pipeline_names import DEFAULT_PIPELINE

if TYPE_CHECKING:
    from detect.loader import SourcedRule

__all__ = ["CorrelationResult", "CorrelationSet", "Correlator"]


@dataclass(frozen=True, slots=True)
class CorrelationResult:
    """What one batch gave: alerts (``ALERT_SCHEMA``) and uncounted events (``SKIPPED_SCHEMA``)."""

    alerts: pl.DataFrame
    skipped: pl.DataFrame


class CorrelationSet:
    """Correlation rules compiled against a base rule set.

    >>> import textwrap
    >>> from detect.loader import parse_rules
    >>> loaded = parse_rules(textwrap.dedent('''
    ...     title: Failed login
    ...     name: failed_login
    ...     logsource: {product: test}
    ...     detection: {sel: {outcome: failure}, condition: sel}
    ...     ---
    ...     title: Many failed logins
    ...     correlation: {type: event_count, rules: failed_login, group-by: [user],
    ...                   timespan: 1m, condition: {gte: 2}}
    ...     level: high
    ... '''))
    >>> base = CompiledRuleSet.compile(loaded.rules, pipeline="none")
    >>> correlations = CorrelationSet.compile(loaded.correlations + loaded.rules, base,
    ...     pipeline="none")
    >>> [r.title for r in correlations.rules], correlations.rejected
    (['Many failed logins'], ())
    """

    def __init__(
        self,
        rules: Iterable[CompiledCorrelation],
        rejected: Iterable[RuleProblem] = (),
    ) -> None:
        self.rules: tuple[CompiledCorrelation, ...] = tuple(rules)
        self.rejected: tuple[RuleProblem, ...] = tuple(rejected)
        referencing: dict[tuple[str, int], list[bool]] = {}
        for rule in self.rules:
            for given in rule.inputs:
                referencing.setdefault((given.kind, given.index), []).append(rule.generate)
        # A referenced rule stays an alert of its own if any correlation says ``generate``.
        silent = {ref for ref, generate in referencing.items() if not any(generate)}
        self.silenced_rules = frozenset(i for kind, i in silent if kind == "rule")
        self.silenced_correlations = frozenset(i for kind, i in silent if kind == "correlation")

    @classmethod
    def compile(
        cls,
        sources: Iterable[SourcedRule],
        base: CompiledRuleSet,
        *,
        pipeline: str = DEFAULT_PIPELINE,
    ) -> CorrelationSet:
        """Compile the correlation rules among ``sources``.

        Base rules are looked up in ``base`` by the ``name:`` or ``id`` the correlation uses
        (``sources`` must hold the base rules too). Rules that cannot be evaluated are
        rejected by name and reason.
        """
        # pySigma is imported here, not with the module: a correlation set read from the
        # cache (unpickled, which imports this module) needs none of it.
        from detect.correlation.compiler import compile_correlations

        compiled, rejected = compile_correlations(sources, base, pipeline=pipeline)
        return cls(compiled, rejected)

    def visible(self, matches: pl.DataFrame) -> pl.DataFrame:
        """The base-rule matches that are alerts of their own (drop ``generate: false``)."""
        if not self.silenced_rules:
            return matches
        return matches.filter(~pl.col("rule_index").is_in(sorted(self.silenced_rules)))

    def correlator(
        self,
        *,
        lateness_s: float = 60.0,
        max_event_ids: int = 20,
        max_skew_s: float = 3600.0,
        idle_s: float | None = None,
    ) -> Correlator:
        """A fresh runner (empty state) for one partition."""
        return Correlator(
            self,
            lateness_s=lateness_s,
            max_event_ids=max_event_ids,
            max_skew_s=max_skew_s,
            idle_s=idle_s,
        )


class Correlator:
    """The window state of one partition (slot) and the per-batch step over it.

    Parameters
    ----------
    correlations
        The compiled correlation rules.
    lateness_s
        How far behind its own input's latest event an event may arrive and still count.
    max_event_ids
        Event ids listed in one alert.
    max_skew_s
        How far ahead of the reference clock an event may be stamped and still move the
        watermark (see :mod:`detect.correlation.eventtime`).
    idle_s
        Processing seconds after which a silent input stops holding the watermark; None:
        never (replay, where inputs finish instead).
    """

    def __init__(
        self,
        correlations: CorrelationSet,
        *,
        lateness_s: float = 60.0,
        max_event_ids: int = 20,
        max_skew_s: float = 3600.0,
        idle_s: float | None = None,
    ) -> None:
        self.correlations = correlations
        self.lateness_us = int(lateness_s * 1_000_000)
        self.max_skew_us = int(max_skew_s * 1_000_000)
        self.idle_s = idle_s
        self.max_event_ids = max_event_ids
        self.skipped_counts: Counter[str] = Counter()
        self._reset()

    def _reset(self) -> None:
        count = len(self.correlations.rules)
        self.clock = EventTime(
            lateness_us=self.lateness_us, max_skew_us=self.max_skew_us, idle_s=self.idle_s
        )
        self._hits = [pl.DataFrame(schema=HIT_SCHEMA) for _ in range(count)]
        self._fired = [pl.DataFrame(schema=FIRED_SCHEMA) for _ in range(count)]

    @property
    def watermark(self) -> int | None:
        """Event time (µs since epoch) up to which every window has been evaluated."""
        return self.clock.evaluated

    @property
    def state_rows(self) -> int:
        """Rows held in the state (matched events kept for open windows, plus firings)."""
        return sum(f.height for f in self._hits) + sum(f.height for f in self._fired)

    @property
    def skewed(self) -> Counter[str]:
        """Events per input whose clock ran ahead (they moved no watermark)."""
        return self.clock.skewed

    def expect(self, inputs: list[str], *, now_s: float | None = None) -> None:
        """Inputs that will deliver (files of a replay, assigned partitions): wait for them."""
        self.clock.expect(inputs, now_s=now_s)

    def finish(self, inputs: list[str]) -> pl.DataFrame:
        """Inputs ended (end of file); returns the alerts their end makes final."""
        for name in inputs:
            self.clock.finish(name)
        return self.advance()

    def touch(self, inputs: list[str], *, now_s: float) -> None:
        """Inputs with records still to read (Kafka lag): they do not go idle."""
        self.clock.touch(inputs, now_s=now_s)

    def forget(self, inputs: list[str]) -> None:
        """Inputs moved to another owner (revoked partitions)."""
        self.clock.forget(inputs)

    def advance(self, *, now_s: float | None = None) -> pl.DataFrame:
        """Evaluate the windows the combined watermark has made final (idle inputs too)."""
        return self._advance(self.clock.combined(now_s))

    def process(
        self,
        events: pl.DataFrame,
        matches: pl.DataFrame,
        *,
        inputs: pl.Series | None = None,
        now_s: float | None = None,
    ) -> CorrelationResult:
        """Add one batch and return the correlation alerts it completes.

        ``events`` is the batch (``@timestamp``, ``event.id`` and the group-by and value
        columns); ``matches`` is ``CompiledRuleSet.evaluate(events)`` (``row``,
        ``rule_index``...); ``inputs`` names each row's input (topic partition, file;
        default one input), ``now_s`` is the processing clock (None in replay). Alerts do
        not depend on how the stream is cut into batches nor on how inputs interleave.

        >>> from datetime import datetime, UTC
        >>> from detect.loader import parse_rules
        >>> loaded = parse_rules('''
        ... title: Denied
        ... name: denied
        ... logsource: {category: firewall}
        ... detection: {sel: {action: deny}, condition: sel}
        ... ---
        ... title: Brute force
        ... correlation: {type: event_count, rules: denied, group-by: src_ip, timespan: 1m,
        ...               condition: {gte: 2}}
        ... ''')
        >>> base = CompiledRuleSet.compile(loaded.rules, pipeline="none")
        >>> correlator = CorrelationSet.compile([*loaded.rules, *loaded.correlations], base,
        ...     pipeline="none").correlator(lateness_s=0)
        >>> events = pl.DataFrame({
        ...     "@timestamp": [datetime(2026, 3, 1, 8, 0, s, tzinfo=UTC) for s in (0, 5, 59)],
        ...     "event.id": ["a", "b", "c"],
        ...     "src_ip": ["203.0.113.5"] * 3,
        ...     "action": ["deny", "deny", "allow"],
        ... })
        >>> result = correlator.process(events, base.evaluate(events))
        >>> result.alerts.select("rule_title", "group_values", "value", "event_ids").rows()
        [('Brute force', ['203.0.113.5'], 2.0, ['a', 'b'])]
        """
        rules = self.correlations.rules
        if inputs is None:
            inputs = pl.repeat(DEFAULT_INPUT, events.height, dtype=pl.String, eager=True)
        times = events.select(epoch_us(events)).to_series() if events.height else None
        if times is None:
            times = pl.Series([], dtype=pl.Int64)
        seen = self.clock.observe(inputs, times, now_s=now_s)
        hits, skipped = _extract_hits(
            events, matches, rules, ts=seen.ts, floor=seen.floor, skewed=seen.skewed
        )
        for index, frame in hits.items():
            # Kept in time order: arrivals are nearly ordered, so this sort is cheap, and
            # the windows then need only a stable sort by group.
            self._hits[index] = pl.concat([self._hits[index], frame]).sort("ts")
        for reason in skipped["reason"]:
            self.skipped_counts[reason.split(":")[0]] += 1
        return CorrelationResult(self.advance(now_s=now_s), skipped)

    def flush(self) -> pl.DataFrame:
        """Evaluate every window still open, as at the end of a replayed file."""
        latest = self.clock.latest()
        if latest is None:
            return pl.DataFrame(schema=ALERT_SCHEMA)
        return self._advance(latest + 1)

    def _advance(self, high: int | None) -> pl.DataFrame:
        low = self.clock.evaluated
        if high is None or (low is not None and high <= low):
            return pl.DataFrame(schema=ALERT_SCHEMA)
        produced: dict[int, pl.DataFrame] = {}
        out: list[pl.DataFrame] = []
        for rule in self.correlations.rules:
            for given in rule.inputs:
                inner = produced.get(given.index) if given.kind == "correlation" else None
                if inner is not None:
                    self._hits[rule.index] = pl.concat(
                        [self._hits[rule.index], _chained_hits(inner, given.position, given.group)]
                    ).sort("ts")
            alerts, fired = evaluate(
                rule,
                self._hits[rule.index],
                self._fired[rule.index],
                low=low,
                high=high,
                max_event_ids=self.max_event_ids,
            )
            if alerts.height == 0:
                continue
            produced[rule.index] = alerts
            self._fired[rule.index] = (
                pl.concat([self._fired[rule.index], fired]).group_by("key").agg(pl.col("ts").max())
            )
            if rule.index not in self.correlations.silenced_correlations:
                out.append(alerts)
        for rule in self.correlations.rules:
            # Nothing at or before ``high - timespan`` can be inside a window still to come.
            horizon = high - rule.timespan_us
            kept = self._hits[rule.index]
            self._hits[rule.index] = kept.slice(int(kept["ts"].search_sorted(horizon, "right")))
            self._fired[rule.index] = self._fired[rule.index].filter(pl.col("ts") > horizon)
        self.clock.evaluated = high
        if not out:
            return pl.DataFrame(schema=ALERT_SCHEMA)
        return pl.concat(out).sort("window_end", "rule_id", "alert_id")

    # Snapshots ------------------------------------------------------------------------

    def snapshot(self) -> bytes:
        """The whole state as bytes (Arrow IPC frames behind a small JSON header)."""
        ids = [r.id for r in self.correlations.rules]
        hits = pl.concat(
            [f.with_columns(rule_id=pl.lit(i)) for i, f in zip(ids, self._hits, strict=True)]
            or [pl.DataFrame(schema={**HIT_SCHEMA, "rule_id": pl.String})]
        )
        fired = pl.concat(
            [f.with_columns(rule_id=pl.lit(i)) for i, f in zip(ids, self._fired, strict=True)]
            or [pl.DataFrame(schema={**FIRED_SCHEMA, "rule_id": pl.String})]
        )
        header = {"eventtime": self.clock.to_header(), "skipped": dict(self.skipped_counts)}
        return encode_state(header, [hits, fired])

    def forget_rules(self, rule_ids: frozenset[str]) -> None:
        """Drop the window state of the correlation rules with these ids."""
        for index, rule in enumerate(self.correlations.rules):
            if rule.id in rule_ids:
                self._hits[index] = pl.DataFrame(schema=HIT_SCHEMA)
                self._fired[index] = pl.DataFrame(schema=FIRED_SCHEMA)

    def restore(self, blob: bytes, *, now_s: float | None = None) -> None:
        """Replace the state by a snapshot; state of rules no longer compiled is dropped.

        ``now_s`` (the processing clock) restarts the idle time of the restored inputs.
        """
        header, frames = decode_state(blob)
        if len(frames) != 2:
            raise CorrelationStateError(f"a correlation state has 2 frames, not {len(frames)}")
        hits, fired = frames
        try:
            kept_hits = [
                hits.filter(pl.col("rule_id") == r.id).select(list(HIT_SCHEMA)).sort("ts")
                for r in self.correlations.rules
            ]
            kept_fired = [
                fired.filter(pl.col("rule_id") == r.id).select(list(FIRED_SCHEMA))
                for r in self.correlations.rules
            ]
            clock = EventTime(
                lateness_us=self.lateness_us, max_skew_us=self.max_skew_us, idle_s=self.idle_s
            )
            clock.load_header(header["eventtime"], now_s=now_s)
            skipped = Counter(header["skipped"])
        except (KeyError, TypeError, pl.exceptions.PolarsError) as error:
            raise CorrelationStateError(f"unreadable correlation state: {error}") from error
        self.clock, self.skipped_counts = clock, skipped
        self._hits, self._fired = kept_hits, kept_fired


def _chained_hits(alerts: pl.DataFrame, position: int, group: tuple[str, ...]) -> pl.DataFrame:
    """An inner correlation's alerts as events of the outer one (at their window end)."""
    key = (
        pl.concat_str(
            [pl.col("group_values").list.get(int(g), null_on_oob=True) for g in group],
            separator=KEY_SEPARATOR,
        )
        if group
        else pl.lit("")
    )
    return alerts.select(
        pl.lit(position, dtype=pl.UInt32).alias("pos"),
        key.alias("key"),
        pl.col("window_end").dt.epoch("us").alias("ts"),
        pl.col("alert_id").alias("eid"),
        pl.lit(None, dtype=pl.String).alias("value"),
        pl.lit(None, dtype=pl.Float64).alias("number"),
    ).filter(pl.col("key").is_not_null())
