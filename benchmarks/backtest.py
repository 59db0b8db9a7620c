"""Backtest over the event archive: a day of one ministry's web and endpoint events.

``python -m benchmarks.backtest``. The bundled web (nginx) and endpoint (Sysmon) samples
are parsed once and tiled to one day of events; every web row gets its own query string
(a cache-busting parameter) so that rows do not repeat, endpoint rows repeat as process
events do. The day is written to a fresh archive in batches of 100,000 rows (as the
pipeline writes it). Then, rounds alternating:

* **backtest**: :func:`detect.backtest.backtest`, the bundled single-event rules against
  the same rules without one of them, reading only the columns the rules use and
  evaluating the rules both sets share once;
* **full read**: the baseline, the same day read with every column (``pl.read_parquet``)
  and each rule set evaluated on its own.

Environment: ``NEAKTA_BENCH_BACKTEST_WEB`` (default 2,000,000 events),
``NEAKTA_BENCH_BACKTEST_ENDPOINT`` (default 1,000,000), ``NEAKTA_BENCH_BACKTEST_ROUNDS``
(default 3).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from detect.backtest import RuleSide, backtest
from detect.loader import load_rules
from ingest.archive import ParquetArchive
from ingest.parsers import parse_endpoint, parse_web

__all__ = ["build_archive", "main"]

WEB = int(os.environ.get("NEAKTA_BENCH_BACKTEST_WEB", "2000000"))
ENDPOINT = int(os.environ.get("NEAKTA_BENCH_BACKTEST_ENDPOINT", "1000000"))
ROUNDS = int(os.environ.get("NEAKTA_BENCH_BACKTEST_ROUNDS", "3"))
BATCH = 100_000
ROOT = Path(__file__).resolve().parents[1]
DAY = datetime(2026, 11, 20, tzinfo=UTC)


def _data_dir() -> Path:
    for folder in (ROOT / "samples" / "data", ROOT / "neakta" / "data"):
        if folder.is_dir():
            return folder
    raise FileNotFoundError("no bundled sample data")


def _tile(events: pl.DataFrame, rows: int, family: str) -> pl.DataFrame:
    copies = -(-rows // events.height)
    frame = pl.concat([events] * copies).head(rows)
    index = pl.int_range(pl.len(), dtype=pl.Int64)
    stamps = pl.lit(DAY) + pl.duration(microseconds=index * (86_400_000_000 // rows))
    frame = frame.with_columns(
        stamps.cast(events.schema["@timestamp"]).alias("@timestamp"),
        pl.format(f"{family}-{{}}", index).alias("event.id"),
    )
    if family == "web":
        query = pl.col("url.query").fill_null("")
        frame = frame.with_columns(pl.format("{}&_={}", query, index).alias("url.query"))
    return frame


def build_archive(root: Path) -> int:
    """Write one day of web and endpoint events under ``root``; return the event count."""
    data = _data_dir()
    web_lines = (data / "sample_web_nginx.log").read_text(encoding="utf-8").splitlines()
    endpoint_lines = (data / "sample_endpoint.ndjson").read_text(encoding="utf-8").splitlines()
    web = parse_web(pl.Series(web_lines), year=2026).events
    endpoint = parse_endpoint(pl.Series(endpoint_lines)).events
    archive = ParquetArchive(root, clock=lambda: DAY)
    total = 0
    for family, events, rows in (("web", web, WEB), ("endpoint", endpoint, ENDPOINT)):
        day = _tile(events, rows, family)
        for start in range(0, day.height, BATCH):
            archive.write(family, day.slice(start, BATCH))
        total += day.height
    return total


def _full_read(root: Path, sides: tuple[RuleSide, RuleSide]) -> int:
    alerts = 0
    for folder in sorted(root.glob("family=*/day=*")):
        frame = pl.read_parquet(folder / "*.parquet")
        for side in sides:
            alerts += sum(side.counts(frame).values())
    return alerts


def main() -> None:
    """Build the archive, time both ways in alternating rounds, print rates and ratios."""
    folders = [ROOT / "rules" / name for name in ("windows", "web", "network")]
    files = sorted(p for folder in folders for p in folder.rglob("*.yml"))
    loaded = load_rules(files)
    without_one = load_rules([p for p in files if "sql_injection_patterns" not in p.name])
    sides = (RuleSide.compile(loaded, {}), RuleSide.compile(without_one, {}))
    root = Path(tempfile.mkdtemp(prefix="neakta-backtest-"))
    try:
        started = time.perf_counter()
        events = build_archive(root)
        size = sum(p.stat().st_size for p in root.rglob("*.parquet"))
        print(
            f"archive: {events:,} events ({WEB:,} web, {ENDPOINT:,} endpoint), "
            f"{size / 1e6:.1f} MB, written in {time.perf_counter() - started:.1f} s"
        )
        times: dict[str, list[float]] = {"backtest": [], "full read": []}
        for _ in range(ROUNDS):
            started = time.perf_counter()
            result = backtest(root, *sides)
            times["backtest"].append(time.perf_counter() - started)
            assert result.events == events
            started = time.perf_counter()
            full = _full_read(root, sides)
            times["full read"].append(time.perf_counter() - started)
            assert full == sum(result.candidate.values()) + sum(result.deployed.values())
        for name, values in times.items():
            rates = sorted(events / t for t in values)
            print(
                f"{name:>9}: {min(values):.2f}-{max(values):.2f} s, "
                f"{rates[0] / 1e6:.2f}-{rates[-1] / 1e6:.2f} M events/s (two rule sets)"
            )
        ratios = sorted(f / b for f, b in zip(times["full read"], times["backtest"], strict=True))
        print(f"full read / backtest time, per round: {ratios[0]:.2f}-{ratios[-1]:.2f}x")
    finally:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
