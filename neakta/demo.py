"""The embedded default: bundled ministry logs -> detections -> incidents in a local store.

``neakta demo`` replays the bundled sample logs of all three families (firewall, web,
endpoint) through the same pipeline ``neakta run`` uses, with the bundled rules, the sample
asset inventory of the ministries and the sample threat intelligence. Alerts and incidents
land in a fresh SQLite store, alerts also in an Elasticsearch bulk file, and the incidents
are printed as a table.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import polars as pl

from ingest.deadletter import NdjsonDeadLetters
from neakta import wiring
from neakta.settings import (
    DEFAULT_RULES,
    EnrichSettings,
    RespondSettings,
    Settings,
    load_settings,
)
from neakta.status import RunStats, format_summary
from respond import SqliteStore, severity_label
from respond.report import read_sqlite, write_report
from respond.sinks import Delivery, SinkBatch
from samples import BUNDLED, DATA_DIR

__all__ = ["DEMO_DIR", "format_table", "run_demo"]

DEMO_DIR = Path(".neakta") / "demo"
ENRICH_DATA = Path(__file__).resolve().parent.parent / "enrich" / "data"


def format_table(rows: Sequence[dict[str, Any]], widths: dict[str, int]) -> str:
    """A plain text table of ``rows`` with columns cut to ``widths``.

    >>> print(format_table([{"a": "x", "b": "long text"}], {"a": 1, "b": 5}))
    a  b
    -  -----
    x  long…
    """

    def cut(value: object, width: int) -> str:
        text = "" if value is None else str(value)
        return text if len(text) <= width else text[: width - 1] + "…"

    columns = list(widths)
    head = "  ".join(c.ljust(widths[c]) for c in columns).rstrip()
    rule = "  ".join("-" * widths[c] for c in columns)
    body = [
        "  ".join(cut(row.get(c), widths[c]).ljust(widths[c]) for c in columns).rstrip()
        for row in rows
    ]
    return "\n".join([head, rule, *body])


class _Tally:
    """Counts alerts by family-independent level and rule, for the printed summary."""

    def __init__(self) -> None:
        self.alerts: list[pl.DataFrame] = []

    async def write(self, batch: SinkBatch) -> Delivery:
        if batch.alerts.height:
            self.alerts.append(batch.alerts.select("rule.name", "neakta.rule.level"))
        return Delivery()

    async def close(self) -> None:
        return None


def _settings(folder: Path) -> Settings:
    """The embedded default: bundled sample inventory and intel, a store under ``folder``."""
    return load_settings().model_copy(
        update={
            "enrich": EnrichSettings(
                assets=ENRICH_DATA / "assets.csv",
                indicators=(ENRICH_DATA / "indicators.csv", ENRICH_DATA / "indicators.stix.json"),
            ),
            "respond": RespondSettings(ndjson_path=folder / "alerts.ndjson"),
        }
    )


async def _replay(
    files: list[Path], rules: Path, folder: Path, tally: _Tally
) -> tuple[RunStats, float, str, tuple[str, ...]]:
    settings = _settings(folder)
    rulesets = wiring.compile_rulesets([rules])
    base = next(iter(rulesets.values()))
    stages = wiring.build_stages(
        settings,
        store=folder / "neakta.db",
        rules=[rules],
        base=base,
    )
    pipeline = wiring.build_pipeline(
        rulesets,
        stages,
        sinks=[tally],
        dead_letters=NdjsonDeadLetters(folder / "dead-letters.ndjson"),
        settings=settings,
    )
    correlations = stages.correlations.rules
    loaded = f"{len(base.rules)} rules, {len(correlations)} correlation rules"
    started = time.perf_counter()
    try:
        stats = await pipeline.replay(files)
    finally:
        await pipeline.close()
    titles = tuple(rule.title for rule in correlations)
    return stats, time.perf_counter() - started, loaded, titles


def run_demo(
    out: TextIO, *, rules: Path = DEFAULT_RULES, data: Path = DATA_DIR, folder: Path = DEMO_DIR
) -> int:
    """Replay the bundled logs into a fresh store under ``folder`` and print the incidents."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    files = [data / sample.name for sample in BUNDLED]
    tally = _Tally()
    stats, elapsed, loaded, correlation_titles = asyncio.run(_replay(files, rules, folder, tally))
    print(f"neakta demo: {len(files)} bundled log files from {data}; {loaded}", file=out)
    print(format_summary(stats, elapsed), file=out)
    if tally.alerts:
        alerts = pl.concat(tally.alerts)
        by_level = alerts.group_by("neakta.rule.level").len().sort("len", descending=True)
        levels = ", ".join(f"{n} {level}" for level, n in by_level.iter_rows())
        print(f"alerts by level: {levels}", file=out)
    store = SqliteStore(folder / "neakta.db")
    try:
        incidents = store.list_incidents(limit=1000)
    finally:
        store.close_now()
    shown = [
        {
            **incident,
            "severity": severity_label(int(incident["severity"])),
            "ministry": incident["organization_id"],
            "alerts": incident["alert_count"],
            "seen": f"{str(incident['first_seen'])[11:19]}-{str(incident['last_seen'])[11:19]}",
        }
        for incident in incidents[:25]
    ]
    print(f"\n{len(incidents)} incidents (the 25 most severe):\n", file=out)
    widths = {
        "severity": 8,
        "ministry": 8,
        "title": 62,
        "alerts": 6,
        "seen": 17,
    }
    print(format_table(shown, widths), file=out)
    counts = Counter(severity_label(int(i["severity"])) for i in incidents)
    print("\nincidents by severity: " + ", ".join(f"{n} {s}" for s, n in counts.most_common()),
          file=out)  # fmt: skip
    correlated = [i for i in incidents if str(i["title"]).startswith(correlation_titles)]
    print(f"found by correlation rules ({len(correlated)}):", file=out)
    for incident in correlated:
        print(f"  {severity_label(int(incident['severity'])):8}  {incident['title']}", file=out)
    print(
        f"\nstore: {folder / 'neakta.db'} (neakta incidents list --db {folder / 'neakta.db'})"
        f"\nalerts for Elasticsearch _bulk: {folder / 'alerts.ndjson'}",
        file=out,
    )
    stored = read_sqlite(folder / "neakta.db", ministry=None, since=None)
    write_report(stored, out=folder / "report.html", assets=ENRICH_DATA / "assets.csv")
    print(f"national report: {folder / 'report.html'} (neakta report --help)", file=out)
    return 0
