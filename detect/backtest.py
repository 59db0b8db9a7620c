"""Backtest: rules run over the event archive, alerts per rule per day, against deployed rules.

The archive (:mod:`ingest.archive`) holds parsed events as Parquet partitioned by family and
day. For each family and day, only the columns the two rule sets read are loaded (Hive
partition pruning picks the day's folder, projection the columns), repeats of one event
(a batch archived twice) are dropped by ``event.id``, and both rule sets are evaluated
with the engine. Base rules of correlations that raise no alert of their own
(``generate: false``) are left out, as in ``neakta run``; correlation rules themselves are
not replayed.
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

__all__ = ["BacktestResult", "RuleSide", "backtest"]

_EVENT_ID = "event.id"


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


def _combined(sides: tuple[RuleSide, RuleSide]) -> tuple[CompiledRuleSet, list[dict[int, str]]]:
    """One rule set holding each distinct alerting rule of both sides once.

    A rule both sides hold unchanged (same id, same detection) is evaluated once; for each
    side, the combined index of each of its rules -> the rule id.
    """
    keys: dict[tuple[str, ir.Node], int] = {}
    rules: list[CompiledRule] = []
    members: list[dict[int, str]] = []
    for side in sides:
        silenced = side.correlations.silenced_rules
        mine: dict[int, str] = {}
        for rule in side.ruleset.rules:
            if rule.index in silenced:
                continue
            index = keys.setdefault((rule.id, rule.node), len(rules))
            if index == len(rules):
                rules.append(replace(rule, index=index))
            mine[index] = rule.id
        members.append(mine)
    return CompiledRuleSet(rules, pipeline="ecs"), members


def backtest(
    root: Path,
    candidate: RuleSide,
    deployed: RuleSide,
    *,
    since: date | None = None,
    until: date | None = None,
) -> BacktestResult:
    """Evaluate both rule sets on every archived day in ``[since, until]``.

    Rules the two sides share unchanged are evaluated once per event.
    """
    result = BacktestResult()
    combined, (new_rules, old_rules) = _combined((candidate, deployed))
    nodes = [rule.node for rule in combined.rules]
    wanted = set().union(*(ir.fields_of(n) for n in nodes)) | {_EVENT_ID}
    keywords = any(map(has_keywords, nodes))
    for family in archived_families(root):
        for day in _days(root, family, since, until):
            lazy = scan_archive(root, family, since=day, until=day)
            if lazy is None:
                continue
            available = lazy.collect_schema().names()
            columns = available if keywords else [c for c in available if c in wanted]
            frame = lazy.select(columns).collect()
            if _EVENT_ID in frame.columns:
                ids = pl.col(_EVENT_ID)
                unique = frame.filter(ids.is_null() | ids.is_first_distinct())
                result.repeats += frame.height - unique.height
                frame = unique
            result.events += frame.height
            result.days.add(day)
            matches = combined.evaluate(frame)
            counts = Counter(matches.get_column("rule_index").to_list())
            for index, count in counts.items():
                if index in new_rules:
                    result.candidate[day, new_rules[index]] += count
                if index in old_rules:
                    result.deployed[day, old_rules[index]] += count
    return result
