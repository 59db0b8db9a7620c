"""The embedded default: bundled sample ministry logs -> detections -> a printed summary."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TextIO

import polars as pl

from detect import CompiledRuleSet, load_rules
from ingest.events import read_events_file
from neakta.settings import DEFAULT_RULES

__all__ = ["SAMPLE_ENDPOINT", "format_table", "run_demo"]

SAMPLE_ENDPOINT = Path(__file__).resolve().parent / "data" / "sample_endpoint.ndjson"


def format_table(frame: pl.DataFrame, widths: dict[str, int]) -> str:
    """A plain text table of ``frame`` with columns cut to ``widths``."""

    def cut(value: object, width: int) -> str:
        text = "" if value is None else str(value)
        return text if len(text) <= width else text[: width - 1] + "…"

    columns = list(widths)
    head = "  ".join(c.ljust(widths[c]) for c in columns)
    rule = "  ".join("-" * widths[c] for c in columns)
    body = [
        "  ".join(cut(row[c], widths[c]).ljust(widths[c]) for c in columns).rstrip()
        for row in frame.select(columns).iter_rows(named=True)
    ]
    return "\n".join([head, rule, *body])


def run_demo(out: TextIO, *, rules: Path = DEFAULT_RULES, events: Path = SAMPLE_ENDPOINT) -> int:
    """Evaluate the bundled rules on the bundled endpoint sample and print the matches."""
    started = time.perf_counter()
    loaded = load_rules([rules])
    ruleset = CompiledRuleSet.compile(loaded.rules, pipeline="raw")
    for problem in (*loaded.problems, *ruleset.rejected):
        print(f"rule problem: {problem}", file=out)
    decoded = read_events_file(events)
    matches = ruleset.evaluate(decoded.events)
    elapsed = time.perf_counter() - started
    columns = decoded.events.columns
    shown = matches.join(
        decoded.events.with_row_index("row").select(
            pl.col("row").cast(pl.UInt32),
            "Computer",
            pl.coalesce(
                pl.col(c) for c in ("CommandLine", "QueryName", "TargetObject") if c in columns
            ).alias("what"),
        ),
        on="row",
        how="left",
    ).with_columns(line=decoded.lines.gather(matches["row"]))
    print(
        f"neakta demo: {decoded.events.height} endpoint events from {events.name}, "
        f"{len(ruleset.rules)} rules from {rules.name}/, "
        f"{matches.height} detections in {elapsed:.2f} s",
        file=out,
    )
    print(file=out)
    widths = {
        "line": 5,
        "level": 8,
        "rule_title": 44,
        "Computer": 28,
        "what": 60,
    }
    print(format_table(shown, widths), file=out)
    print(file=out)
    by_level = shown.group_by("level").len().sort("len", descending=True)
    summary = ", ".join(f"{n} {level}" for level, n in by_level.iter_rows())
    print(f"detections by level: {summary}", file=out)
    if decoded.dead.height:
        print(f"{decoded.dead.height} undecodable line(s) kept aside", file=out)
    return 0
