"""The running pipeline counts events per ministry source and says when one goes silent."""

from __future__ import annotations

from collections import Counter

import polars as pl

from detect import CompiledRuleSet
from ingest.testing import ListDeadLetters, MemorySource
from neakta.checkpoint import Checkpoint
from neakta.pipeline import Pipeline
from neakta.status import format_summary
from respond.incidents import IncidentTracker
from respond.source_watch import SourceWatch
from respond.testing import ListSink
from tests.test_respond.test_source_watch import NOW, batch, read_from, silent

DENY_REDIS = """
title: Redis Port Reached
id: 6d2c8e1f-4b3a-4c5d-8e9f-0a1b2c3d4e5f
logsource: {category: firewall}
detection: {selection: {dst_port: 6379}, condition: selection}
level: medium
"""


def forti(host: str, clock: str, port: int = 443) -> str:
    return (
        f"date=2026-11-20 time={clock} devname={host} srcip=198.51.100.7 srcport=50000 "
        f"dstip=10.0.0.5 dstport={port} proto=6 action=deny policyid=1"
    )


def source_of(*batches: tuple[str, list[str]]) -> MemorySource:
    given = []
    for n, (ministry, lines) in enumerate(batches):
        given += MemorySource.of_lines(
            "firewall", lines, source=f"b{n}", organization=ministry
        ).given
    return MemorySource(given)


async def test_a_ministry_that_stops_sending_raises_silent_then_resumed_in_event_time() -> None:
    source = source_of(
        ("mef", [forti("FG-MEF", "08:00:00"), forti("FG-MEF", "08:01:00")]),
        ("moh", [forti("FG-MOH", "08:00:30"), forti("FG-MOH", "08:40:00", port=6379)]),
        ("mef", [forti("FG-MEF", "09:10:00")]),
    )
    listed = ListSink()
    watch = SourceWatch(gap_s=1800, tracker=IncidentTracker())
    pipeline = Pipeline(
        {"firewall": CompiledRuleSet.from_yaml(DENY_REDIS, pipeline="ecs")},
        sinks=[listed],
        dead_letters=ListDeadLetters(),
        sources=watch,
        checkpoint=Checkpoint(sources=watch),
    )

    stats = await pipeline.run(source)

    alerts = pl.concat([b.alerts for b in listed.batches], how="diagonal_relaxed")
    rows = alerts.select(
        "rule.name",
        "organization.id",
        "neakta.silence.source",
        pl.col("@timestamp").dt.strftime("%H:%M"),
    ).rows()
    assert rows == [
        # Batch 2: moh's rule alert, and mef silent since 08:01 + 30 min.
        ("Redis Port Reached", "moh", None, "08:40"),
        ("Log source silent", "mef", "firewall", "08:31"),
        ("Log source silent", "mef", "fg-mef", "08:31"),
        # Batch 3: mef again at 09:10.
        ("Log source resumed", "mef", "firewall", "09:10"),
        ("Log source resumed", "mef", "fg-mef", "09:10"),
    ]
    incidents = pl.concat([b.incidents for b in listed.batches], how="diagonal_relaxed")
    # The silence alerts open incidents (the rule alert has no tracker in this pipeline).
    assert sorted(incidents.select("organization.id", "incident.title").unique().rows()) == [
        ("mef", "Log source resumed on fg-mef"),
        ("mef", "Log source resumed on unknown"),
        ("mef", "Log source silent on fg-mef"),
        ("mef", "Log source silent on unknown"),
    ]
    assert stats.sources == Counter({"mef/firewall": 3, "moh/firewall": 2})
    assert "sources: mef/firewall 3, moh/firewall 2" in format_summary(stats, 1.0)


def test_a_rebalance_hands_the_sources_of_the_partitions_it_moves_over() -> None:
    # What the Kafka source calls on a rebalance: the revoked partitions, then the whole
    # new assignment (a member that rejoins is told of no revocation).
    watch = SourceWatch(gap_s=600, clock=lambda: NOW)
    checkpoint = Checkpoint(sources=watch)
    watch.observe(
        {
            "firewall": pl.concat(
                [
                    read_from(batch("mef", "fw1", 0), 0),
                    read_from(batch("moh", "fw2", 0), 1),
                    read_from(batch("mfa", "fw3", 0), 2),
                ]
            )
        }
    )
    checkpoint.revoke([("logs.firewall", 2)])
    assert watch.held_slots() == {0, 1}
    checkpoint.assign({("logs.firewall", 0): None, ("logs.firewall", 3): None})
    assert watch.held_slots() == {0}
    output, _ = watch.observe({"firewall": read_from(batch("mef", "fw1", 30), 0)})
    assert silent(output) == []
