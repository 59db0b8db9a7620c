"""Alerts and incidents for the report tests, written to a real store or cluster."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from respond.incidents import IncidentTracker
from respond.sinks import AlertSink, SinkBatch
from respond.source_watch import SourceWatch
from respond.sources import SourceStats
from respond.store import SqliteStore
from tests.test_respond.factories import alerts_frame

__all__ = ["HOSTILE", "SILENCE_T0", "batch", "track_sources", "write", "write_all", "write_store"]

SILENCE_T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
"""Event time of the first batch :func:`track_sources` runs."""

HOSTILE = (
    '<script>document.body.dataset.pwned = "script"</script>'
    "<img src=x onerror=\"document.body.dataset.pwned = 'img'\">\" & 'quoted'"
)
"""An ``event.original`` an attacker could have logged."""


def batch() -> SinkBatch:
    """Five alerts: three for mef (two of them one incident), one for moh, one without a
    ministry; ATT&CK tags, levels and raw events, one of them hostile."""
    alerts = alerts_frame(
        [
            {
                "_id": "a1",
                "minute": 0,
                "rule.id": "r-enc",
                "rule.name": "Encoded PowerShell",
                "event.original": "powershell -enc SQBFAFgA",
                "threat.technique.id": ["T1059"],
                "threat.technique.subtechnique.id": ["T1059.001"],
                "threat.tactic.id": ["TA0002"],
                "neakta.rule.level": "high",
            },
            {
                "_id": "a2",
                "minute": 5,
                "rule.id": "r-enc",
                "rule.name": "Encoded PowerShell",
                "event.original": HOSTILE,
                "threat.technique.id": ["T1059"],
                "threat.technique.subtechnique.id": ["T1059.001"],
                "threat.tactic.id": ["TA0002"],
                "neakta.rule.level": "high",
            },
            {
                "_id": "a3",
                "minute": 90,
                "rule.id": "r-mimikatz",
                "rule.name": "Mimikatz <b>bold</b>",
                "host.name": "mef-srv-03",
                "event.severity": 99,
                "event.original": "mimikatz sekurlsa::logonpasswords",
                "threat.technique.id": ["T1003"],
                "threat.tactic.id": ["TA0006"],
                "neakta.rule.level": "critical",
            },
            {
                "_id": "a4",
                "minute": 200,
                "organization.id": "moh",
                "host.name": "hrmis.maff.gov.kh",
                "rule.id": "r-scan",
                "rule.name": "Port scan",
                "event.severity": 47,
                "event.original": "SRC=198.51.100.7 DPT=22",
                "threat.technique.id": ["T9999"],
                "threat.tactic.id": ["TA0007"],
                "neakta.rule.level": "medium",
            },
            {
                "_id": "a5",
                "minute": 200,
                "organization.id": None,
                "host.name": None,
                "source.ip": "203.0.113.9",
                "rule.id": "r-intel",
                "rule.name": "Intel hit",
                "event.severity": 21,
                "event.original": "203.0.113.9 GET /",
                "threat.technique.id": None,
                "threat.tactic.id": None,
                "neakta.rule.level": "low",
            },
        ]
    )
    tracker = IncidentTracker()
    incidents = tracker.update(alerts)
    return SinkBatch(alerts=alerts, incidents=incidents)


async def write(sink: AlertSink, written: SinkBatch) -> None:
    """Write one batch and close the sink."""
    try:
        await sink.write(written)
    finally:
        await sink.close()


async def write_store(path: Path, written: SinkBatch | None = None) -> SinkBatch:
    """A fresh SQLite store at ``path`` holding ``written`` (default :func:`batch`)."""
    written = written or batch()
    await write(SqliteStore(path), written)
    return written


def _events(minute: float, *sources: tuple[str, str]) -> pl.DataFrame:
    """One event per ``(ministry, forwarding host)`` at ``minute`` after :data:`SILENCE_T0`."""
    return pl.DataFrame(
        {
            "organization.id": [org for org, _ in sources],
            "@timestamp": [SILENCE_T0 + timedelta(minutes=minute)] * len(sources),
            "observer.hostname": [host for _, host in sources],
        }
    )


def track_sources(path: Path) -> list[SinkBatch]:
    """Run four batches through the silence tracking (gap 10 min) into the store at
    ``path``, checkpointing after each; the "silent" / "resumed" alerts and incidents.

    Minute 0: mef firewall (``FG-1``), mef windows (``DC-1``), moh web (``WEB-1``).
    Minute 0.5: mef firewall (``FG-1``) again. Minute 12: moh web only, so mef's firewall
    and windows families and hosts ``fg-1`` and ``dc-1`` go silent. Minute 20: mef windows
    (``DC-1``) and moh web: windows and ``dc-1`` resume. Left silent at watermark minute
    20: mef firewall and ``fg-1``, last event at minute 0.5.
    """
    batches = [
        {"firewall": _events(0, ("mef", "FG-1")), "windows": _events(0, ("mef", "DC-1")),
         "web": _events(0, ("moh", "WEB-1"))},
        {"firewall": _events(0.5, ("mef", "FG-1"))},
        {"web": _events(12, ("moh", "WEB-1"))},
        {"windows": _events(20, ("mef", "DC-1")), "web": _events(20, ("moh", "WEB-1"))},
    ]  # fmt: skip
    tracker = IncidentTracker()
    watch = SourceWatch(
        gap_s=600.0,
        stats=SourceStats(path),
        tracker=tracker,
        clock=lambda: datetime(2026, 3, 2, 8, 0, tzinfo=UTC),
    )
    outputs = []
    try:
        for events in batches:
            output, _ = watch.observe(events)
            watch.checkpoint()
            if output.alerts.height:
                outputs.append(output)
    finally:
        watch.close()
    return outputs


async def write_all(sink: AlertSink, batches: list[SinkBatch]) -> None:
    """Write the batches in order and close the sink."""
    try:
        for written in batches:
            await sink.write(written)
    finally:
        await sink.close()
