"""Correlation state per partition ("slot"), checkpointed with the offsets and restored."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Hashable, Mapping
from pathlib import Path

import polars as pl
import pytest
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from detect import CompiledRuleSet
from detect.correlation import FILE_SLOT, CorrelationSlots, SQLiteCheckpointStore
from enrich import load_attack
from ingest.sources.kafka import records_frame
from ingest.sources.parsing import parse_records
from ingest.sources.records import SourceBatch, decode_records
from ingest.testing import ListDeadLetters, MemorySource
from neakta.alerting import AlertStage
from neakta.checkpoint import Checkpoint
from neakta.cli import main
from neakta.pipeline import Pipeline
from neakta.rulesets import compile_correlations, compile_rulesets
from neakta.settings import DEFAULT_RULES
from respond.assembly import Lookups
from respond.testing import ListSink

TOPIC = "logs.firewall.mef"
GROUP = "neakta"
SCAN = "Port Scan From One Source"
SCANNER = "198.51.100.77"
SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "data"
LINES = (SAMPLES / "sample_firewall.log").read_text().splitlines()
RULESETS = compile_rulesets([DEFAULT_RULES], families=("firewall",))
CORRELATIONS = compile_correlations([DEFAULT_RULES], RULESETS["firewall"])
ATTACK = load_attack()
# Lines 268-307: 40 connections from the scanner to distinct ports in one minute (>= 25).
FIRST, MIDDLE, END = LINES[:288], LINES[288:300], LINES[300:]


def kafka_batch(placed: list[tuple[int, int, str]], topic: str = TOPIC) -> SourceBatch:
    """A batch as KafkaSource makes it from (partition, offset, line) records."""
    parts = []
    position: dict[Hashable, int] = {}
    for partition in sorted({p for p, _, _ in placed}):
        records = [
            ConsumerRecord(topic, p, o, 0, 0, None, line.encode(), None, -1, len(line), ())
            for p, o, line in placed
            if p == partition
        ]
        parts.append(records_frame(topic, partition, records, family="firewall", ministry="mef"))
        position[TopicPartition(topic, partition)] = records[-1].offset + 1
    good, dead = decode_records(pl.concat(parts), max_bytes=1 << 20)
    return SourceBatch(good, dead, position)


def on_partition(lines: list[str], partition: int = 0, start: int = 0) -> SourceBatch:
    return kafka_batch([(partition, start + n, line) for n, line in enumerate(lines)])


def stage(store: SQLiteCheckpointStore | None = None, group_id: str = GROUP) -> CorrelationSlots:
    """Correlation slots checkpointed in ``store`` under ``group_id``."""
    correlator = CORRELATIONS.correlator(lateness_s=60)
    return CorrelationSlots(correlator, checkpoints=store, group_id=group_id)


async def scans(alerts: CorrelationSlots, *batches: SourceBatch) -> list[str]:
    """Run the batches through a pipeline; the source IPs of the port-scan alerts."""
    sink = ListSink()
    pipeline = Pipeline(
        RULESETS,
        sinks=[sink],
        dead_letters=ListDeadLetters(),
        make_alerts=AlertStage(Lookups(attack=ATTACK), slots=alerts),
        checkpoint=Checkpoint(alerts),
    )
    source = MemorySource(list(batches))
    await pipeline.run(source)
    assert source.committed == list(batches)
    names = [
        ip
        for batch in sink.batches
        if batch.alerts.height
        for name, ip in batch.alerts.select("rule.name", "source.ip").iter_rows()
        if name == SCAN
    ]
    return names


def test_events_carry_their_partition() -> None:
    batch = kafka_batch([(0, 5, LINES[0]), (3, 9, LINES[1])])
    frame = parse_records(batch.records, year=2026).events["firewall"]
    assert frame.get_column("neakta.partition").to_list() == [0, 3]
    assert frame.schema["neakta.partition"] == pl.Int32


async def test_one_partition_sees_the_whole_scan() -> None:
    alerts = stage()
    assert await scans(alerts, on_partition(LINES)) == [SCANNER]
    assert set(alerts.slots) == {FILE_SLOT, 0}


async def test_a_scan_split_over_two_partitions_is_counted_per_partition() -> None:
    # Every other line to partition 1: each slot sees 20 ports of the scanner, under 25.
    placed = [(n % 2, n // 2, line) for n, line in enumerate(LINES)]
    alerts = stage()
    assert await scans(alerts, kafka_batch(placed)) == []
    assert set(alerts.slots) == {FILE_SLOT, 0, 1}


def test_a_slow_batch_reads_the_clock_once_so_its_inputs_wait_for_each_other() -> None:
    # Each family of a batch is correlated in turn. Here every reading of the clock is
    # two seconds later than the one before, past the idle time: read anew for the second
    # family, its input (records in hand, older than the first's) would have gone idle
    # and its events been late.
    other = "logs.firewall.mof"
    readings = itertools.count(1_000.0, 2.0)
    correlator = CORRELATIONS.correlator(lateness_s=60, idle_s=1.5)
    slots = CorrelationSlots(correlator, clock=lambda: next(readings))
    slots.assign({TopicPartition(TOPIC, 0): None, TopicPartition(other, 0): None})

    def family(batch: SourceBatch) -> tuple[pl.DataFrame, pl.DataFrame]:
        events = parse_records(batch.records, year=2026).events["firewall"]
        return events, RULESETS["firewall"].evaluate(events)

    later = family(on_partition(END, start=len(FIRST) + len(MIDDLE)))
    earlier = family(kafka_batch([(0, n, line) for n, line in enumerate(FIRST)], other))
    slots.touch([f"{TOPIC}/0", f"{other}/0"])
    slots.correlate(*later)
    slots.correlate(*earlier)
    slots.tick()

    assert later[1].height
    assert earlier[1].height
    assert "late: before the allowed lateness" not in slots.skipped


async def test_each_batch_is_checkpointed_per_slot_before_commit(tmp_path: Path) -> None:
    store = SQLiteCheckpointStore(tmp_path / "checkpoints.db")
    first = kafka_batch([(0, 0, LINES[0]), (1, 0, LINES[1])])
    second = on_partition(LINES[2:5], 0, 1)
    await scans(stage(store), first, second)
    assert [c.offsets for c in store.checkpoints(GROUP, "0")] == [
        {(TOPIC, 0): 4},
        {(TOPIC, 0): 1},
    ]
    assert [c.offsets for c in store.checkpoints(GROUP, "1")] == [{(TOPIC, 1): 1}]


class SlowStore(SQLiteCheckpointStore):
    """Checkpoints that take a while to write; what went on meanwhile, in order."""

    def __init__(self, path: Path, log: list[str]) -> None:
        super().__init__(path)
        self.log = log
        self.saving = False

    def save(
        self, group_id: str, slot: str, offsets: Mapping[TopicPartition, int], state: bytes
    ) -> int:
        self.saving = True
        time.sleep(0.2)  # blocks whichever thread saves
        self.saving = False
        self.log.append(f"saved {slot} {dict(offsets)}")
        return super().save(group_id, slot, offsets, state)


async def test_a_slow_checkpoint_save_leaves_the_event_loop_free_and_precedes_the_commit(
    tmp_path: Path,
) -> None:
    log: list[str] = []
    store = SlowStore(tmp_path / "checkpoints.db", log)
    ticks_while_saving = 0

    async def tick() -> None:
        nonlocal ticks_while_saving
        while True:
            await asyncio.sleep(0.01)
            ticks_while_saving += store.saving

    class LoggedCommits(MemorySource):
        async def commit(self, batch: SourceBatch) -> None:
            log.append(f"commit {dict(batch.position)}")
            await super().commit(batch)

    slots = stage(store)
    pipeline = Pipeline(
        RULESETS,
        dead_letters=ListDeadLetters(),
        make_alerts=AlertStage(Lookups(attack=ATTACK), slots=slots),
        checkpoint=Checkpoint(slots),
    )
    ticker = asyncio.ensure_future(tick())
    try:
        await pipeline.run(LoggedCommits([on_partition(LINES[:3]), on_partition(LINES[3:5], 0, 3)]))
    finally:
        ticker.cancel()
    assert ticks_while_saving >= 5
    assert log == [
        f"saved 0 {{{(TOPIC, 0)!r}: 3}}",
        f"commit {{{TopicPartition(TOPIC, 0)!r}: 3}}",
        f"saved 0 {{{(TOPIC, 0)!r}: 5}}",
        f"commit {{{TopicPartition(TOPIC, 0)!r}: 5}}",
    ]
    assert [c.offsets for c in store.checkpoints(GROUP, "0")] == [{(TOPIC, 0): 5}, {(TOPIC, 0): 3}]


async def test_file_mode_saves_no_checkpoint(tmp_path: Path) -> None:
    store = SQLiteCheckpointStore(tmp_path / "checkpoints.db")
    alerts = stage(store)
    assert await scans(alerts, MemorySource.of_lines("firewall", LINES).given[0]) == [SCANNER]
    assert store.checkpoints(GROUP, str(FILE_SLOT)) == []


async def test_restart_after_commit_resumes_the_scan_once(tmp_path: Path) -> None:
    store = SQLiteCheckpointStore(tmp_path / "checkpoints.db")
    assert await scans(stage(store), on_partition(FIRST)) == []
    restarted = stage(store)
    seeks = restarted.assign({TopicPartition(TOPIC, 0): len(FIRST)})
    assert seeks == {(TOPIC, 0): len(FIRST)}
    rest = on_partition(LINES[len(FIRST) :], start=len(FIRST))
    assert await scans(restarted, rest) == [SCANNER]


async def test_crash_between_checkpoint_and_commit_restores_the_older_state(
    tmp_path: Path,
) -> None:
    store = SQLiteCheckpointStore(tmp_path / "checkpoints.db")
    crashed = stage(store)
    assert await scans(crashed, on_partition(FIRST)) == []
    held = crashed.slots[0].state_rows
    # The middle batch was checkpointed, then the process died before Kafka's commit.
    middle = on_partition(MIDDLE, start=len(FIRST))
    AlertStage(Lookups(attack=ATTACK), slots=crashed)(*evaluated(middle))
    Checkpoint(crashed).save(middle)
    restarted = stage(store)
    seeks = restarted.assign({TopicPartition(TOPIC, 0): len(FIRST)})
    assert seeks == {(TOPIC, 0): len(FIRST)}
    assert restarted.slots[0].state_rows == held < crashed.slots[0].state_rows
    # Read again from there: the middle batch counts once, and the scan alerts once.
    assert await scans(restarted, middle, on_partition(END, start=300)) == [SCANNER]


async def test_assignment_without_checkpoint_starts_empty_where_kafka_is(tmp_path: Path) -> None:
    store = SQLiteCheckpointStore(tmp_path / "checkpoints.db")
    alerts = stage(store)
    assert await scans(alerts, on_partition(FIRST)) == []
    assert alerts.slots[0].state_rows > 0
    alerts.revoke([TopicPartition(TOPIC, 0)])
    assert set(alerts.slots) == {FILE_SLOT}
    # Another group has no checkpoint; Kafka's offset is kept (no seek).
    other = stage(store, group_id="other")
    assert other.assign({TopicPartition(TOPIC, 0): None}) == {}
    assert other.slots[0].state_rows == 0


async def test_an_unreadable_checkpoint_is_reported_and_starts_empty(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = SQLiteCheckpointStore(tmp_path / "checkpoints.db")
    store.save(GROUP, "0", {(TOPIC, 0): 10}, b"not a snapshot")
    alerts = stage(store)
    assert alerts.assign({TopicPartition(TOPIC, 0): 10}) == {}
    assert alerts.slots[0].state_rows == 0
    assert "slot 0 starts empty, its checkpoint is unreadable" in caplog.text


def evaluated(batch: SourceBatch) -> tuple[pl.DataFrame, pl.DataFrame, CompiledRuleSet]:
    events = parse_records(batch.records, year=2026).events["firewall"]
    ruleset = RULESETS["firewall"]
    return events, ruleset.evaluate(events), ruleset


def test_run_refuses_a_checkpoint_store_it_cannot_open(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "taken").write_text("a file, not a folder")
    where = tmp_path / "taken" / "checkpoints.db"
    args = ["run", "--bootstrap-servers", "127.0.0.1:9", "--checkpoints", str(where)]
    assert main([*args, "--no-status"]) == 2
    assert f"--checkpoints {where}: cannot write the checkpoints" in capsys.readouterr().err


async def test_a_batch_saves_the_state_its_detection_left_not_the_next_ones(
    tmp_path: Path,
) -> None:
    store = SQLiteCheckpointStore(tmp_path / "checkpoints.db")
    alerts = stage(store)
    first = on_partition(FIRST)
    AlertStage(Lookups(attack=ATTACK), slots=alerts)(*evaluated(first))
    checkpoint = Checkpoint(alerts)
    prepared = checkpoint.prepare(first)  # taken as the first batch is detected
    held = alerts.slots[0].state_rows
    # The next batch is detected while the first is delivered, before its save.
    middle = on_partition(MIDDLE, start=len(FIRST))
    AlertStage(Lookups(attack=ATTACK), slots=alerts)(*evaluated(middle))
    assert alerts.slots[0].state_rows > held
    source = MemorySource([first, middle])

    async def delivered() -> None:
        return None

    async def once(what: str, call: Callable[[], Awaitable[None]]) -> None:
        await call()

    await checkpoint.complete(first, source, flush=delivered, retry=once, prepared=prepared)
    assert source.committed == [first]
    restarted = stage(store)
    restarted.assign({TopicPartition(TOPIC, 0): len(FIRST)})
    assert restarted.slots[0].state_rows == held
