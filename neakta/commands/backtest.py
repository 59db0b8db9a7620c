"""``neakta rules backtest``: rules over the event archive, against the rules deployed now.

Prints, for every day and rule with an alert on either side, the alerts of the rules under
test, of the deployed rules, and the change; then the totals. How long the scan took goes
to standard error.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from detect.backtest import BacktestResult, RuleSide, backtest
from detect.loader import load_rules
from neakta.options import add_option
from neakta.settings import Settings

__all__ = ["cmd_rules_backtest", "parse_day", "register"]


def parse_day(text: str, today: date | None = None) -> date:
    """``YYYY-MM-DD``, or ``Nd`` for N days before today (UTC).

    >>> parse_day("2026-11-25"), parse_day("2d", today=date(2026, 11, 25))
    (datetime.date(2026, 11, 25), datetime.date(2026, 11, 23))
    """
    if text.endswith("d") and text[:-1].isdigit():
        return (today or datetime.now(UTC).date()) - timedelta(days=int(text[:-1]))
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a day (YYYY-MM-DD or Nd): {text!r}") from None


def _describe(sides: tuple[RuleSide, RuleSide]) -> dict[str, str]:
    names: dict[str, str] = {}
    for side in reversed(sides):
        for rule in side.ruleset.rules:
            names[rule.id] = f"{rule.title} ({rule.path}:{rule.line})"
        for correlation in side.correlations.rules:
            names[correlation.id] = f"{correlation.title} ({correlation.path}:{correlation.line})"
    return names


def print_result(result: BacktestResult, names: dict[str, str], out: TextIO) -> None:
    """The per-day table and the totals."""
    keys = sorted(set(result.candidate) | set(result.deployed), key=lambda k: (k[0], names[k[1]]))
    print(f"{'day':<10}  {'alerts':>7}  {'deployed':>8}  {'change':>7}  rule", file=out)
    for day, rule_id in keys:
        new, old = result.candidate[day, rule_id], result.deployed[day, rule_id]
        change = f"{new - old:+d}" if new != old else "0"
        print(f"{day}  {new:>7}  {old:>8}  {change:>7}  {names[rule_id]}", file=out)
    new, old = sum(result.candidate.values()), sum(result.deployed.values())
    print(
        f"total: {new} alert(s) from the rules, {old} from the deployed rules ({new - old:+d}),"
        f" on {result.events} event(s) over {len(result.days)} day(s)",
        file=out,
    )
    if result.repeats:
        print(f"  {result.repeats} repeated event(s) archived twice, counted once", file=out)


def cmd_rules_backtest(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """Run the rules and the deployed rules over the archive; print the comparison."""
    if not args.archive.is_dir():
        print(f"neakta: no archive at {args.archive}", file=sys.stderr)
        return 2
    loaded = load_rules(args.rules)
    deployed_loaded = load_rules(args.deployed)
    sides = (
        RuleSide.compile(loaded, settings.placeholders),
        RuleSide.compile(deployed_loaded, settings.placeholders),
    )
    for problem in (*loaded.problems, *sides[0].ruleset.rejected):
        print(problem, file=sys.stderr)
    started = time.perf_counter()
    result = backtest(args.archive, *sides, since=args.since, until=args.until)
    elapsed = time.perf_counter() - started
    print_result(result, _describe(sides), out)
    print(f"scanned {result.events} event(s) in {elapsed:.2f} s", file=sys.stderr)
    return 0


def register(rule_commands: Any, settings: Settings) -> None:
    """Add ``backtest`` to the ``rules`` subcommands."""
    command = rule_commands.add_parser(
        "backtest", help="alerts per rule per day on the event archive, against deployed rules"
    )
    command.add_argument(
        "--rules", nargs="+", type=Path, required=True, help="rule files or folders to try"
    )
    add_option(
        command,
        "--archive",
        env="NEAKTA_RUN__ARCHIVE",
        help="the event archive folder",
        default_help=None,
        type=Path,
        default=settings.run.archive,
        required=settings.run.archive is None,
    )
    add_option(
        command,
        "--deployed",
        env="NEAKTA_RULES",
        help="the rules to compare with",
        default_help="the configured rules",
        nargs="+",
        type=Path,
        default=list(settings.rules),
    )
    command.add_argument("--since", type=parse_day, help="first day, YYYY-MM-DD or Nd ago")
    command.add_argument("--until", type=parse_day, help="last day, YYYY-MM-DD or Nd ago")
    command.set_defaults(handler=cmd_rules_backtest)
