"""Reading ahead: the next batch is read and parsed while this one is detected and delivered.

Results and the commit order stay those of one batch at a time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from ingest.sources import SourceBatch
from ingest.testing import ListDeadLetters, MemorySource
from neakta.pipeline import Pipeline
from neakta.readahead import read_ahead
from respond.sinks import Delivery, SinkBatch
from respond.testing import ListSink
from tests.test_neakta.test_pipeline import ATTACK, BENIGN, rulesets


@dataclass
class LoggedSource(MemorySource):
    """A memory source that logs each batch it hands out and each commit."""

    log: list[str] = field(default_factory=list)

    async def batches(self) -> AsyncIterator[SourceBatch]:
        try:
            for n, batch in enumerate(self.given, 1):
                self.log.append(f"read {n}")
                yield batch
        finally:
            self.log.append("closed")

    async def commit(self, batch: SourceBatch) -> None:
        number = next(n for n, given in enumerate(self.given, 1) if given is batch)
        self.log.append(f"commit {number}")
        await super().commit(batch)


@dataclass
class LoggedSink:
    """Logs each write, after giving the event loop a few turns (time to read ahead)."""

    source: LoggedSource

    async def write(self, batch: SinkBatch) -> Delivery:
        for _ in range(20):
            await asyncio.sleep(0)
        self.source.log.append(f"write {len(self.source.committed) + 1}")
        return Delivery(written=batch.alerts.height)

    async def close(self) -> None:
        return None


def attack(computer: str) -> str:
    """The whoami attack, on its own computer (so its own event and alert)."""
    return ATTACK.replace('"ws1"', f'"{computer}"')


def numbered(count: int) -> LoggedSource:
    lines = [attack(f"ws{n}") for n in range(count)]
    return LoggedSource(MemorySource.of_lines("endpoint", lines, batch_size=1).given)


async def test_the_next_batches_are_read_before_this_one_is_written_and_commits_stay_in_order() -> (
    None
):
    source = numbered(4)
    pipeline = Pipeline(rulesets(), sinks=[LoggedSink(source)], dead_letters=ListDeadLetters())
    pipeline.ahead = 1
    stats = await pipeline.run(source)
    assert stats.batches == 4
    # The source may end (closed) before or after the last write.
    log = [entry for entry in source.log if entry != "closed"]
    assert [entry for entry in log if entry.startswith("read")] == [
        "read 1",
        "read 2",
        "read 3",
        "read 4",
    ]
    # Batch 2 is read while batch 1 is parsed, batch 3 while batch 2 is: with one batch
    # parsed ahead, two are read beyond the one in hand before batch 1 is written.
    assert log.index("read 3") < log.index("write 1")
    # Batch 4 is read once batch 2 is in hand: the pipeline detects it while batch 1 is
    # delivered, so whether before batch 1's write ends depends on how fast that is.
    assert log.index("read 4") < log.index("write 2")
    # Each batch is written, then committed, in order.
    assert [entry for entry in log if not entry.startswith("read")] == [
        "write 1",
        "commit 1",
        "write 2",
        "commit 2",
        "write 3",
        "commit 3",
        "write 4",
        "commit 4",
    ]
    assert source.log.count("closed") == 1


async def test_the_source_is_read_while_the_batch_before_is_prepared() -> None:
    asked = asyncio.Event()

    async def numbers() -> AsyncIterator[SourceBatch]:
        for n in range(1, 4):
            if n == 2:
                asked.set()
            yield SourceBatch(position={"n": n})

    async def prepare(batch: SourceBatch) -> int:
        if batch.position["n"] == 1:
            # Batch 2 is asked for while batch 1 is still being prepared.
            await asyncio.wait_for(asked.wait(), 5)
        return batch.position["n"]

    prepared = [p async for _, p in read_ahead(numbers(), prepare, ahead=1)]
    assert prepared == [1, 2, 3]


async def test_one_batch_at_a_time_reads_after_the_commit() -> None:
    source = numbered(2)
    pipeline = Pipeline(rulesets(), sinks=[LoggedSink(source)], dead_letters=ListDeadLetters())
    await pipeline.run(source)
    assert source.log == [
        "read 1",
        "write 1",
        "commit 1",
        "read 2",
        "write 2",
        "commit 2",
        "closed",
    ]


@pytest.mark.parametrize("ahead", [0, 1, 2])
async def test_reading_ahead_gives_the_same_alerts_dead_letters_and_counts(ahead: int) -> None:
    lines = [attack("a"), BENIGN, "garbage", attack("b"), BENIGN, attack("c"), "{}"]
    source = MemorySource.of_lines("endpoint", lines, batch_size=2)
    sink, dead = ListSink(), ListDeadLetters()
    pipeline = Pipeline(rulesets(), sinks=[sink], dead_letters=dead, ahead=ahead)
    stats = await pipeline.run(source)
    assert [b.alerts["event.original"].to_list() for b in sink.batches] == [
        [attack("a")],
        [attack("b")],
        [attack("c")],
    ]
    assert dead.dead["origin"].to_list() == ["memory:3", "memory:7"]
    assert source.committed == source.given
    assert (stats.records, stats.events, stats.matches, stats.written) == (7, 5, 3, 3)


async def test_a_stop_leaves_the_batch_read_ahead_uncommitted() -> None:
    source = numbered(3)
    pipeline = Pipeline(
        rulesets(), sinks=[LoggedSink(source)], dead_letters=ListDeadLetters(), ahead=1
    )

    class StopAfterFirst(ListSink):
        async def write(self, batch: SinkBatch) -> Delivery:
            # Stopped once the second batch is read ahead (however slowly it comes).
            deadline = time.monotonic() + 10
            while "read 2" not in source.log and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            pipeline.stop.set()
            return await super().write(batch)

    pipeline.sinks.append(StopAfterFirst())
    stats = await pipeline.run(source)
    assert stats.batches == 1
    assert source.committed == source.given[:1]
    # The second batch was read ahead; the source was closed without its commit.
    assert source.log[-1] == "closed"
    assert "read 2" in source.log


async def test_what_the_source_raises_comes_after_the_batches_before_it() -> None:
    async def failing() -> AsyncIterator[SourceBatch]:
        yield SourceBatch(position={"n": 1})
        raise RuntimeError("broker gone")

    async def prepare(batch: SourceBatch) -> int:
        return batch.position["n"]

    seen = []
    with pytest.raises(RuntimeError, match="broker gone"):
        async for _, prepared in read_ahead(failing(), prepare, ahead=1):
            seen.append(prepared)
    assert seen == [1]


async def test_a_batch_in_hand_counts_as_activity_for_the_idle_watcher() -> None:
    source = numbered(1)
    seen: list[tuple[float, float]] = []

    class Slow(ListSink):
        async def write(self, batch: SinkBatch) -> Delivery:
            await asyncio.sleep(0.05)
            seen.append((pipeline.active, time.monotonic()))
            return await super().write(batch)

    pipeline = Pipeline(rulesets(), sinks=[Slow()], dead_letters=ListDeadLetters(), ahead=1)
    started = time.monotonic()
    await pipeline.run(source)
    # While the batch was written, the pipeline was active "now", not at its start.
    [(active, now)] = seen
    assert active >= now - 0.01 > started
    assert pipeline.active == pipeline.last_batch
