"""Incidents of partitions moved between two processes are the incidents of a replay."""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import polars as pl
from aiokafka import TopicPartition

from detect.correlation import CorrelationSlots, SQLiteCheckpointStore
from ingest.sources.records import SourceBatch
from ingest.testing import ListDeadLetters, MemorySource
from neakta.alerting import AlertStage
from neakta.checkpoint import Checkpoint
from neakta.pipeline import Pipeline
from respond.assembly import Lookups
from respond.incidents import IncidentTracker
from respond.testing import ListSink
from tests.test_neakta.test_correlation_slots import (
    ATTACK,
    CORRELATIONS,
    GROUP,
    LINES,
    RULESETS,
    TOPIC,
    kafka_batch,
)

_SOURCE = re.compile(r"(?:srcip=|SRC=)([0-9.]+)")


class Member:
    """One process: its correlation slots, tracker, checkpoint and a sink it writes to."""

    def __init__(self, store: SQLiteCheckpointStore | None, clock: list[float]) -> None:
        correlator = CORRELATIONS.correlator(lateness_s=60, idle_s=10 if store else None)
        self.slots = CorrelationSlots(
            correlator,
            checkpoints=store,
            group_id=GROUP,
            clock=(lambda: clock[0]) if store else None,
        )
        self.tracker = IncidentTracker()
        self.stage = AlertStage(Lookups(attack=ATTACK), tracker=self.tracker, slots=self.slots)
        self.checkpoint = Checkpoint(self.slots, tracker=self.tracker)
        self.sink = ListSink()

    async def run(self, source: MemorySource) -> None:
        pipeline = Pipeline(
            RULESETS,
            sinks=[self.sink],
            dead_letters=ListDeadLetters(),
            make_alerts=self.stage,
            checkpoint=self.checkpoint,
        )
        await pipeline.run(source)

    def idle(self) -> None:
        """Every input idle: what it holds is decided (as a quiet Kafka run does)."""
        nothing = SourceBatch(pl.DataFrame(), pl.DataFrame(), {})
        self.sink.batches.append(self.stage.advance(nothing))

    def incidents(self) -> pl.DataFrame:
        found = [b.incidents for b in self.sink.batches if b.incidents.height]
        return pl.concat(found, how="diagonal_relaxed") if found else pl.DataFrame()


def latest(*members: Member) -> set[tuple[object, ...]]:
    """Each incident's last version over the members' sinks (the most alerts)."""
    frames = [m.incidents() for m in members if m.incidents().height]
    every = pl.concat(frames, how="diagonal_relaxed").sort("incident.alert_count")
    last = every.unique("incident.id", keep="last")
    columns = ("incident.id", "incident.first_seen", "incident.alert_count", "incident.severity")
    rows = last.select(*columns, "incident.alert_ids").rows()
    return {(*row[:-1], tuple(row[-1])) for row in rows}


def placed(lines: list[str], start: int) -> list[tuple[int, int, str]]:
    """(partition, offset, line) keyed by source address, offsets from ``start`` per line."""
    keyed = []
    for number, line in enumerate(lines, start):
        found = _SOURCE.search(line)
        keyed.append((zlib.crc32((found.group(1) if found else line).encode()) % 2, number, line))
    return keyed


def batches(records: list[tuple[int, int, str]], size: int) -> list[SourceBatch]:
    return [kafka_batch(records[n : n + size]) for n in range(0, len(records), size)]


async def test_a_partition_moved_to_a_second_process_gives_the_replay_incidents(
    tmp_path: Path,
) -> None:
    replay = Member(None, [0.0])
    await replay.run(MemorySource.of_lines("firewall", LINES, organization="mef"))
    expected = latest(replay)
    assert len(expected) >= 3

    store = SQLiteCheckpointStore(tmp_path / "checkpoints.db")
    clock = [1000.0]
    records = placed(LINES, 0)
    cut = 400  # two alerts are held there
    first = Member(store, clock)
    first.checkpoint.assign({TopicPartition(TOPIC, 0): None, TopicPartition(TOPIC, 1): None})
    await first.run(MemorySource(batches(records[:cut], 40)))
    assert first.tracker.held > 0
    # A rebalance: partition 1 moves to a second process, with its incidents and held alerts.
    first.checkpoint.revoke([TopicPartition(TOPIC, 1)])
    second = Member(store, clock)
    second.checkpoint.assign({TopicPartition(TOPIC, 1): cut})
    assert second.tracker.slots() == {1}
    rest = records[cut:]
    await first.run(MemorySource(batches([r for r in rest if r[0] == 0], 53)))
    await second.run(MemorySource(batches([r for r in rest if r[0] == 1], 29)))
    clock[0] += 60
    first.idle()
    second.idle()
    assert (first.tracker.held, second.tracker.held) == (0, 0)
    assert latest(first, second) == expected


async def test_a_slot_left_out_of_a_new_assignment_is_dropped_without_a_revocation(
    tmp_path: Path,
) -> None:
    store = SQLiteCheckpointStore(tmp_path / "checkpoints.db")
    clock = [1000.0]
    member = Member(store, clock)
    member.checkpoint.assign({TopicPartition(TOPIC, 0): None, TopicPartition(TOPIC, 1): None})
    await member.run(MemorySource(batches(placed(LINES, 0)[:400], 40)))
    # Partition 1 holds the only two alerts held.
    assert [len(member.tracker.slot_state(slot)["held"]) for slot in (0, 1)] == [0, 2]
    # The member rejoined as a new one: no revocation, only its new assignment.
    member.checkpoint.assign({TopicPartition(TOPIC, 0): None})
    assert 1 not in member.slots.slots
    assert 1 not in member.tracker.slots()
    # They are the new owner's now: going idle groups none of them here.
    member.sink.batches.clear()
    clock[0] += 60
    member.idle()
    assert member.incidents().height == 0
