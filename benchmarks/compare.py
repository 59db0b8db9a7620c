"""Side-by-side comparison in one run: neakta against the alternatives, as a table.

``python -m benchmarks.compare`` (``make bench``). Each engine runs the same rules on the
same generated Sysmon process events; slow engines get a smaller sample, and every figure
is events per second on this machine, so the ratios are what to read.
Environment: ``NEAKTA_SIGMAHQ`` (a SigmaHQ checkout: use its process_creation rules),
``NEAKTA_BENCH_EVENTS`` (events for neakta, default 1,000,000).
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable

import polars as pl

from benchmarks.baselines import PerRuleFilter, PythonMatcher, SqliteMatcher
from benchmarks.workloads import EVENTS, events, rule_sources, ruleset, with_unique_command_lines
from detect import CompiledRuleSet

SMALL = int(os.environ.get("NEAKTA_BENCH_SMALL_EVENTS", "2000"))
MEDIUM = min(EVENTS, int(os.environ.get("NEAKTA_BENCH_MEDIUM_EVENTS", "100000")))


def rate(run: Callable[[pl.DataFrame], int], frame: pl.DataFrame) -> tuple[float, int]:
    """Events per second of one ``run`` over ``frame``, and the matches it found."""
    started = time.perf_counter()
    found = run(frame)
    return frame.height / (time.perf_counter() - started), found


def matches_of(compiled: CompiledRuleSet) -> Callable[[pl.DataFrame], int]:
    """A counter of the matches ``compiled`` finds in a frame."""

    def count(frame: pl.DataFrame) -> int:
        return compiled.evaluate(frame).height

    return count


def main() -> None:
    """Print the comparison table."""
    description, rules = rule_sources()
    print(f"rules: {description}; machine: {os.cpu_count()} cores, {platform.processor()}")
    print(
        f"polars {pl.__version__}; events: neakta {EVENTS:,}, "
        f"Polars baselines {MEDIUM:,}, SQLite/Python {SMALL:,}"
    )
    big, medium, small = events(EVENTS), events(MEDIUM), events(SMALL)
    unique = with_unique_command_lines(big)
    counts = [10, 100, None]
    header = f"{'rules':>6} {'engine':<34} {'events/s':>12} {'matches':>9} {'neakta x':>9}"
    print(header)
    print("-" * len(header))
    for count in counts:
        fast = ruleset(count)
        n_rules = len(fast.rules)
        fast = fast.calibrate(small)  # calibration out of the timing
        neakta, found = rate(matches_of(fast), big)
        rows: list[tuple[str, float, int]] = [("neakta (fast patterns)", neakta, found)]
        fresh = ruleset(count)
        fresh = fresh.calibrate(with_unique_command_lines(small))
        rows.append(("neakta, every command line unique", *rate(matches_of(fresh), unique)))
        naive = ruleset(count, strategy="naive")
        rows.append(
            (
                "neakta naive (one lazy query)",
                *rate(matches_of(naive), medium),
            )
        )
        per_rule = PerRuleFilter(fast)
        rows.append(("Polars: one filter per rule", *rate(per_rule.count, medium)))
        chosen = rules if count is None else rules[:count]
        sqlite = SqliteMatcher(chosen)
        rows.append((f"pySigma SQLite ({len(sqlite.queries)} queries)", *rate(sqlite.count, small)))
        rows.append(("plain Python matcher", *rate(PythonMatcher(chosen).count, small)))
        small_neakta = fast.evaluate(small).height
        for name, per_second, matches in rows:
            ratio = neakta / per_second
            print(f"{n_rules:>6} {name:<34} {per_second:>12,.0f} {matches:>9,} {ratio:>8.1f}x")
        print(f"{'':>6} (on the {SMALL:,}-event sample neakta finds {small_neakta:,} matches)")
    print(f"\nneakta at {len(ruleset(None).rules)} rules vs 10 rules: see the first rows.")


if __name__ == "__main__":
    main()
