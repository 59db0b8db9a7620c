"""Backtest: rules run over the event archive, alerts per rule per day, against deployed rules.

The archive (:mod:`ingest.archive`) holds parsed events as Parquet partitioned by family and
day. For each family and day, only the columns the two rule sets read are loaded (Hive
partition pruning picks the day's folder, projection the columns), repeats of one event
(a batch archived twice) are dropped by ``event.id``, and both rule sets are evaluated
with the engine. Base rules of correlations that raise no alert of their own
(``generate: false``) are left out, as in ``neakta run``; correlation rules see the days in
order, with a week of allowed lateness, as ``neakta replay`` runs them over files.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import polars as pl

from detect import ir
from detect.compiled import CompiledRule
from detect.correlation import CorrelationSet
from detect.engine import CompiledRuleSet
from detect.loader import LoadedRules
from detect.plans import has_keywords
from ingest.archive import DAY_COLUMN, archived_families, scan_archive

__all__ = ["CORRELATION_LATENESS_S", "BacktestResult", "RuleSide", "backtest"]

_EVENT_ID = "event.id"
_STAMP = "@timestamp"
CORRELATION_LATENESS_S = 7 * 86_400.0
"""Allowed lateness of correlation rules over the archive, as for replayed files."""


@dataclass(frozen=True, slots=True)
class RuleSide:
    """One rule set compiled for backtesting: the engine's rules and who stays silent."""

    ruleset: CompiledRuleSet
    correlations: CorrelationSet

    @classmethod
    def compile(cls, loaded: LoadedRules, placeholders: dict[str, list[str]]) -> RuleSide:
        """Compile with the ``ecs`` pipeline, as ``neakta run`` does."""
        ruleset = CompiledRuleSet.compile(loaded.rules, pipeline="ecs", placeholders=placeholders)
        correlations = CorrelationSet.compile(
            [*loaded.rules, *loaded.correlations], ruleset, pipeline="ecs"
        )
        return cls(ruleset, correlations)

    def counts(self, events: pl.DataFrame) -> Counter[str]:
        """Alerts per rule id on ``events`` (this side alone)."""
        matches = self.correlations.visible(self.ruleset.evaluate(events))
        return Counter(matches.get_column("rule_id").to_list())


@dataclass(slots=True)
class BacktestResult:
    """Alerts per (day, rule id) of the candidate and the deployed rules, and the work done."""

    candidate: Counter[tuple[date, str]] = field(default_factory=Counter)
    deployed: Counter[tuple[date, str]] = field(default_factory=Counter)
    events: int = 0
    days: set[date] = field(default_factory=set)
    repeats: int = 0


def _days(root: Path, family: str, since: date | None, until: date | None) -> list[date]:
    days = []
    for folder in (root / f"family={family}").glob(f"{DAY_COLUMN}=*"):
        try:
            day = date.fromisoformat(folder.name.split("=", 1)[1])
        except ValueError:
            continue
        if (since is None or day >= since) and (until is None or day <= until):
            days.append(day)
    return sorted(days)


@dataclass(frozen=True, slots=True)
class _Plan:
    """Both sides' rules evaluated as one set, and how its indices map back to each side."""

    ruleset: CompiledRuleSet
    alerting: tuple[dict[int, str], ...]
    local: tuple[dict[int, int], ...]


def _combined(sides: tuple[RuleSide, RuleSide]) -> _Plan:
    """One rule set holding each distinct rule of both sides once.

    A rule both sides hold unchanged (same id, same detection) is evaluated once. Per side:
    the combined index of each rule that raises alerts -> its id, and of every rule -> its
    index in the side's own rule set (what its correlation rules reference).
    """
    keys: dict[tuple[str, ir.Node], int] = {}
    rules: list[CompiledRule] = []
    alerting: list[dict[int, str]] = []
    local: list[dict[int, int]] = []
    for side in sides:
        silenced = side.correlations.silenced_rules
        mine: dict[int, str] = {}
        indices: dict[int, int] = {}
        for rule in side.ruleset.rules:
            index = keys.setdefault((rule.id, rule.node), len(rules))
            if index == len(rules):
                rules.append(replace(rule, index=index))
            indices[index] = rule.index
            if rule.index not in silenced:
                mine[index] = rule.id
        alerting.append(mine)
        local.append(indices)
    return _Plan(CompiledRuleSet(rules, pipeline="ecs"), tuple(alerting), tuple(local))


def _columns(plan: _Plan, sides: tuple[RuleSide, RuleSide]) -> tuple[set[str], bool]:
    """The columns the rules and correlation rules read; whether every column is needed."""
    nodes = [rule.node for rule in plan.ruleset.rules]
    wanted = set().union(*(ir.fields_of(n) for n in nodes)) | {_EVENT_ID, _STAMP}
    for side in sides:
        for correlation in side.correlations.rules:
            for given in correlation.inputs:
                if given.kind == "rule":
                    wanted.update(given.group, given.value)
    return wanted, any(map(has_keywords, nodes))


def _local(matches: pl.DataFrame, indices: dict[int, int]) -> pl.DataFrame:
    """The matches of one side's rules, numbered as in that side's own rule set."""
    index = pl.col("rule_index")
    return matches.filter(index.is_in(list(indices))).with_columns(
        index.replace_strict(indices, return_dtype=pl.UInt32)
    )


def _count_correlations(alerts: pl.DataFrame, counter: Counter[tuple[date, str]]) -> None:
    days = alerts.get_column("window_end").dt.date().to_list()
    for day, rule_id in zip(days, alerts.get_column("rule_id").to_list(), strict=True):
        counter[day, rule_id] += 1


def _day_frame(root: Path, family: str, day: date, wanted: set[str], every: bool) -> pl.DataFrame:
    lazy = scan_archive(root, family, since=day, until=day)
    if lazy is None:
        return pl.DataFrame()
    available = lazy.collect_schema().names()
    columns = [c for c in available if c != DAY_COLUMN and (every or c in wanted)]
    return lazy.select(columns).collect()


class _Replay:
    """Both sides over the archive, day after day: counts and correlation windows."""

    def __init__(self, sides: tuple[RuleSide, RuleSide], result: BacktestResult) -> None:
        self.plan = _combined(sides)
        self.calibrated: dict[str, CompiledRuleSet] = {}
        self.result = result
        self.counters = (result.candidate, result.deployed)
        self.correlators = [
            side.correlations.correlator(lateness_s=CORRELATION_LATENESS_S)
            if side.correlations.rules
            else None
            for side in sides
        ]

    def add(self, day: date, family: str, frame: pl.DataFrame) -> None:
        """Count the alerts of one family's events of one day."""
        if _EVENT_ID in frame.columns:
            ids = pl.col(_EVENT_ID)
            unique = frame.filter(ids.is_null() | ids.is_first_distinct())
            self.result.repeats += frame.height - unique.height
            frame = unique
        self.result.events += frame.height
        self.result.days.add(day)
        ruleset = self.calibrated.get(family)
        if ruleset is None:  # calibrated once per family, on its first day
            ruleset = self.calibrated[family] = self.plan.ruleset.calibrate(frame)
        matches = ruleset.evaluate(frame)
        counts = Counter(matches.get_column("rule_index").to_list())
        for alerting, counter in zip(self.plan.alerting, self.counters, strict=True):
            for index, count in counts.items():
                if index in alerting:
                    counter[day, alerting[index]] += count
        sides = zip(self.correlators, self.plan.local, self.counters, strict=True)
        for correlator, indices, counter in sides:
            if correlator is not None:
                alerts = correlator.process(frame, _local(matches, indices)).alerts
                _count_correlations(alerts, counter)

    def finish(self) -> None:
        """Decide the correlation windows still open."""
        for correlator, counter in zip(self.correlators, self.counters, strict=True):
            if correlator is not None:
                _count_correlations(correlator.flush(), counter)


def backtest(
    root: Path,
    candidate: RuleSide,
    deployed: RuleSide,
    *,
    since: date | None = None,
    until: date | None = None,
) -> BacktestResult:
    """Evaluate both rule sets on every archived day in ``[since, until]``.

    Rules the two sides share unchanged are evaluated once per event. Correlation rules
    see the days in order (their windows may span days); an alert counts on the day its
    window ends.
    """
    result = BacktestResult()
    sides = (candidate, deployed)
    replay = _Replay(sides, result)
    wanted, every = _columns(replay.plan, sides)
    days: dict[date, list[str]] = {}
    for family in archived_families(root):
        for day in _days(root, family, since, until):
            days.setdefault(day, []).append(family)
    for day, families in sorted(days.items()):
        for family in families:
            replay.add(day, family, _day_frame(root, family, day, wanted, every))
    replay.finish()
    return result
