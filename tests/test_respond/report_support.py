"""Alerts and incidents for the report tests, written to a real store or cluster."""

from __future__ import annotations

from pathlib import Path

from respond.incidents import IncidentTracker
from respond.sinks import AlertSink, SinkBatch
from respond.store import SqliteStore
from tests.test_respond.factories import alerts_frame

__all__ = ["HOSTILE", "batch", "write", "write_store"]

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
