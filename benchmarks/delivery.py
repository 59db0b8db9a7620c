"""In-process seconds per 100k events: Sysmon parse, alert building and delivery.

``python benchmarks/delivery.py`` generates Sysmon process creations where no two events
are alike (:mod:`benchmarks.sysmon`), and times, batch by batch as ``neakta run`` goes:
the parse (:func:`ingest.sources.parsing.parse_records`), the alert stage over SigmaHQ's
matches (:class:`neakta.alerting.AlertStage`, with the incident tracker), and the two
sinks of the scale-out benchmark's ``neakta run``: the SQLite store and the ``--alerts``
NDJSON file. Each phase has its wall seconds and its CPU seconds (all threads: on a
shared machine the steadier figure); each sink also the CPU seconds of the event loop's
thread itself (``time.thread_time``): what the loop cannot give the Kafka fetcher.

Side by side: ``--baseline DIR`` (a checkout of another commit, e.g. from
``git archive``) runs the same measurement with that tree's code in a subprocess,
alternating with this tree's, ``--rounds`` times; the summary gives each side's range.
It is run as a script (not ``-m``) so that the baseline's packages are imported.

Options: ``--events N`` (default 100,000), ``--batch B`` (records per batch, 25,000),
``--rounds R`` (3), ``--rules DIR`` (default SigmaHQ's process_creation under
``NEAKTA_SIGMAHQ``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

PHASES = (
    "parse",
    "parse cpu",
    "alert building",
    "alert building cpu",
    "store",
    "store cpu",
    "store loop",
    "alert file",
    "alert file cpu",
    "alert file loop",
)


def _records(lines: list[bytes], start: int) -> pl.DataFrame:
    count = len(lines)
    return pl.DataFrame(
        {
            "family": ["endpoint"] * count,
            "source": ["logs.endpoint"] * count,
            "origin": [f"logs.endpoint/0/{start + n}" for n in range(count)],
            "line": [line.decode() for line in lines],
            "header_organization": [None] * count,
            "source_organization": [None] * count,
        },
        schema={name: pl.String() for name in ("family", "source", "origin", "line")}
        | {"header_organization": pl.String(), "source_organization": pl.String()},
    )


def measure(events: int, batch: int, rules: Path, cache: Path) -> dict[str, float]:
    """Seconds per 100k events of each phase, over ``events`` events in ``batch`` batches."""
    from benchmarks.sysmon import generate_sysmon_frame, sysmon_lines
    from detect.cache import compile_rules
    from ingest.sources.parsing import parse_records
    from neakta.alerting import AlertStage
    from neakta.outputs import tracker_from_settings
    from neakta.settings import Settings
    from neakta.wiring import enrichment_from_settings
    from respond.ndjson import NdjsonAlertWriter
    from respond.store import SqliteStore

    lines = sysmon_lines(generate_sysmon_frame(events, seed=1))
    settings = Settings()
    ruleset = compile_rules([rules], pipeline="ecs", cache_dir=cache)
    stage = AlertStage(
        enrichment_from_settings(settings.enrich),
        tracker=tracker_from_settings(settings.respond),
        clock=lambda: datetime(2026, 12, 5, tzinfo=UTC),
    )
    work = Path(tempfile.mkdtemp(prefix="neakta-delivery-"))
    store = SqliteStore(work / "store.sqlite", tracker=stage.tracker)
    writer = NdjsonAlertWriter(work / "alerts.ndjson")
    spent: dict[str, float] = defaultdict(float)
    alerts = 0

    async def deliver(output: object) -> None:
        for name, sink in (("store", store), ("alert file", writer)):
            wall, cpu, loop = time.perf_counter(), time.process_time(), time.thread_time()
            await sink.write(output)  # type: ignore[arg-type]
            spent[name] += time.perf_counter() - wall
            spent[name + " cpu"] += time.process_time() - cpu
            spent[name + " loop"] += time.thread_time() - loop

    for start in range(0, events, batch):
        records = _records(lines[start : start + batch], start)
        began, cpu = time.perf_counter(), time.process_time()
        parsed = parse_records(records, year=2026)
        spent["parse"] += time.perf_counter() - began
        spent["parse cpu"] += time.process_time() - cpu
        frame = parsed.events["endpoint"]
        if not ruleset.calibrated:
            ruleset = ruleset.calibrate(frame)
        matches = ruleset.evaluate(frame)
        began, cpu = time.perf_counter(), time.process_time()
        output = stage(frame, matches, ruleset)
        spent["alert building"] += time.perf_counter() - began
        spent["alert building cpu"] += time.process_time() - cpu
        alerts += output.alerts.height
        asyncio.run(deliver(output))
    asyncio.run(writer.close())
    store.close_now()
    scale = 100_000 / events
    return {**{phase: spent[phase] * scale for phase in PHASES}, "alert count": alerts * scale}


def _child(tree: Path, args: argparse.Namespace) -> dict[str, float]:
    from benchmarks.trees import child_figures

    options = [
        "--events", str(args.events), "--batch", str(args.batch),
        "--rules", str(args.rules), "--cache", str(args.cache),
    ]  # fmt: skip
    figures: dict[str, float] = child_figures(__file__, tree, options)
    return figures


def main() -> None:
    """Print each side's seconds per 100k events per round, then their ranges."""
    here = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=25_000)
    parser.add_argument("--rounds", type=int, default=3)
    sigma = os.environ.get("NEAKTA_SIGMAHQ")
    default_rules = Path(sigma) / "rules/windows/process_creation" if sigma else None
    parser.add_argument("--rules", type=Path, default=default_rules)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "neakta-rc")
    parser.add_argument("--baseline", type=Path)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rules is None:
        parser.error("--rules or NEAKTA_SIGMAHQ is needed")
    if args.child:
        print(json.dumps(measure(args.events, args.batch, args.rules, args.cache)))
        return
    sides = {"this tree": here}
    if args.baseline is not None:
        sides = {"baseline": args.baseline, **sides}
    results: dict[str, list[dict[str, float]]] = defaultdict(list)
    for round_ in range(args.rounds):
        for name, tree in sides.items():
            figures = _child(tree, args)
            results[name].append(figures)
            shown = " ".join(f"{phase}={figures[phase]:.2f}" for phase in PHASES)
            print(
                f"round {round_ + 1} {name}: {shown} alerts={figures['alert count']:.0f}",
                flush=True,
            )
    print(f"\nseconds per 100k events, {args.rounds} rounds (min-max)")
    for phase in PHASES:
        spans = []
        for name in sides:
            values = [figures[phase] for figures in results[name]]
            spans.append(f"{name} {min(values):.2f}-{max(values):.2f}")
        print(f"{phase:>16}: " + ", ".join(spans))


if __name__ == "__main__":
    main()
