"""Parsed events through detection, alerts, incidents and the embedded sinks, twice."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from detect import CompiledRuleSet, parse_rules
from ingest.parsers import parse_endpoint
from respond.alerts import build_alerts
from respond.incidents import IncidentTracker
from respond.ndjson import NdjsonSink
from respond.sinks import SinkBatch
from respond.store import SqliteStore
from tests.rules_text import WHOAMI_FROM_WEB_SERVER

RULE = WHOAMI_FROM_WEB_SERVER


def sysmon(minute: int, image: str, parent: str) -> str:
    return json.dumps(
        {
            "EventID": 1,
            "Channel": "Microsoft-Windows-Sysmon/Operational",
            "Computer": "mptc-dmz-web-02",
            "UtcTime": f"2026-03-01 08:{minute:02d}:00.000",
            "Image": image,
            "ParentImage": parent,
            "CommandLine": "whoami /all",
        }
    )


LINES = pl.Series(
    [
        sysmon(0, r"C:\Windows\System32\whoami.exe", r"C:\inetpub\w3wp.exe"),
        sysmon(1, r"C:\Windows\System32\whoami.exe", r"C:\Windows\explorer.exe"),
        sysmon(7, r"C:\Windows\System32\whoami.exe", r"C:\inetpub\w3wp.exe"),
        "not json",
    ]
)


async def run_once(tmp_path: Path, tracker: IncidentTracker) -> tuple[int, int, int]:
    parsed = parse_endpoint(LINES)
    ruleset = CompiledRuleSet.compile(parse_rules(RULE).rules, pipeline="ecs")
    events = parsed.events.with_columns(pl.lit("mptc").alias("organization.id"))
    alerts = build_alerts(
        events, ruleset.evaluate(events), ruleset.rules, ingested=datetime.now(UTC)
    )
    store = SqliteStore(tmp_path / "neakta.db", tracker=tracker)
    store.resume(tracker)
    ndjson = NdjsonSink(tmp_path / "alerts.ndjson")
    batch = SinkBatch(alerts=alerts, incidents=tracker.update(alerts))
    stored = await store.write(batch)
    exported = await ndjson.write(batch)
    await store.close()
    await ndjson.close()
    assert parsed.dead["reason"].len() == 1
    return stored.written, exported.written, batch.incidents.height


async def test_a_replay_after_a_restart_adds_nothing(tmp_path: Path) -> None:
    assert await run_once(tmp_path, IncidentTracker()) == (2, 2, 1)
    assert await run_once(tmp_path, IncidentTracker()) == (0, 0, 0)
    store = SqliteStore(tmp_path / "neakta.db")
    (incident,) = store.list_incidents()
    store.close_now()
    assert (incident["title"], incident["alert_count"], incident["organization_id"]) == (
        "Whoami From A Web Server on mptc-dmz-web-02",
        2,
        "mptc",
    )
    assert (incident["first_seen"], incident["last_seen"]) == (
        "2026-03-01T08:00:00.000000+00:00",
        "2026-03-01T08:07:00.000000+00:00",
    )
