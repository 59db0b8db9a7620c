"""The next batch is detected while this one is delivered, saved and committed.

What a batch's completion saves is what its own detection left: the state the next batch
changes meanwhile is not in it.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from detect import CompiledRuleSet
from enrich import load_attack
from ingest.sources import SourceBatch
from ingest.testing import ListDeadLetters, MemorySource
from neakta.alerting import AlertStage
from neakta.checkpoint import Checkpoint
from neakta.pipeline import Pipeline
from respond import IncidentTracker
from respond.assembly import Lookups
from respond.sinks import Delivery, SinkBatch
from respond.store import SqliteStore
from tests.test_neakta.test_pipeline import ATTACK, rulesets


@dataclass
class CountedStage(AlertStage):
    """An alert stage that tells when it has seen ``count`` family batches."""

    count: int = 2
    seen: int = 0
    reached: threading.Event = field(default_factory=threading.Event)

    def __call__(
        self, events: pl.DataFrame, matches: pl.DataFrame, ruleset: CompiledRuleSet
    ) -> SinkBatch:
        output = super().__call__(events, matches, ruleset)
        self.seen += 1
        if self.seen >= self.count:
            self.reached.set()
        return output


@dataclass
class WaitsForTheNextDetection:
    """The store, whose first write waits (up to 5 s) until the second batch was detected."""

    store: SqliteStore
    stage: CountedStage
    waited: list[bool] = field(default_factory=list)

    async def write(self, batch: SinkBatch) -> Delivery:
        if not self.waited:
            self.waited.append(await asyncio.to_thread(self.stage.reached.wait, 5))
        return await self.store.write(batch)

    async def close(self) -> None:
        await self.store.close()


@dataclass
class StoreAtCommit(MemorySource):
    """Notes the store's incidents and tracker rows as each batch is committed."""

    store: Path = Path()
    at_commit: list[tuple[int, int]] = field(default_factory=list)

    async def commit(self, batch: SourceBatch) -> None:
        reader = sqlite3.connect(self.store)
        incidents = reader.execute("SELECT count(*) FROM incidents").fetchone()[0]
        tracked = reader.execute("SELECT count(*) FROM tracker").fetchone()[0]
        reader.close()
        self.at_commit.append((incidents, tracked))
        await super().commit(batch)


def attacks(hosts: int) -> list[str]:
    """One attack per host: one alert, one incident each."""
    return [ATTACK.replace('"ws1"', f'"ws{n}"') for n in range(1, hosts + 1)]


async def test_the_next_batch_is_detected_while_this_one_is_delivered(tmp_path: Path) -> None:
    tracker = IncidentTracker()
    stage = CountedStage(Lookups(attack=load_attack()), tracker=tracker)
    store = SqliteStore(tmp_path / "neakta.db", tracker=tracker)
    waiting = WaitsForTheNextDetection(store, stage)
    given = MemorySource.of_lines("endpoint", attacks(3), batch_size=1).given
    source = StoreAtCommit(given, store=tmp_path / "neakta.db")
    pipeline = Pipeline(
        rulesets(),
        sinks=[waiting],
        dead_letters=ListDeadLetters(),
        make_alerts=stage,
        checkpoint=Checkpoint(incidents=store, tracker=tracker),
        ahead=1,
    )
    try:
        stats = await pipeline.run(source)
    finally:
        await pipeline.close()
    assert waiting.waited == [True]  # batch 2 was detected before batch 1 was delivered
    assert stats.batches == 3
    assert source.committed == source.given
    # At each commit the store holds the incidents of the batches committed, no more:
    # batch 2's incident, already grouped when batch 1 was written, came with batch 2.
    assert source.at_commit == [(1, 1), (2, 2), (3, 3)]


async def test_one_batch_at_a_time_when_a_hook_reads_the_state_after_each_batch() -> None:
    tracker = IncidentTracker()
    stage = CountedStage(Lookups(attack=load_attack()), tracker=tracker)
    source = MemorySource.of_lines("endpoint", attacks(2), batch_size=1)
    detected_before_the_hook: list[int] = []

    async def after_batch(pipeline: Pipeline, taken: object) -> None:
        detected_before_the_hook.append(stage.seen)

    pipeline = Pipeline(
        rulesets(),
        dead_letters=ListDeadLetters(),
        make_alerts=stage,
        after_batch=after_batch,
        ahead=1,
    )
    await pipeline.run(source)
    assert detected_before_the_hook == [1, 2]


async def test_a_batch_that_fails_to_be_delivered_ends_the_run_with_its_error() -> None:
    source = MemorySource.of_lines("endpoint", attacks(3), batch_size=1)

    class Broken:
        async def write(self, batch: SinkBatch) -> Delivery:
            raise ValueError("disk on fire")

        async def close(self) -> None:
            return None

    pipeline = Pipeline(rulesets(), sinks=[Broken()], dead_letters=ListDeadLetters(), ahead=1)
    try:
        await pipeline.run(source)
    except ValueError as error:
        assert "disk on fire" in str(error)
    else:
        raise AssertionError("the run went on")
    assert source.committed == []


async def test_the_hook_after_a_batch_gets_what_was_taken_as_that_batch_was_detected() -> None:
    tracker = IncidentTracker()
    stage = CountedStage(Lookups(attack=load_attack()), tracker=tracker)
    source = MemorySource.of_lines("endpoint", attacks(3), batch_size=1)
    given: list[tuple[object, int]] = []

    class WaitsOnce:
        waited = False

        async def write(self, batch: SinkBatch) -> Delivery:
            if not self.waited:
                self.waited = await asyncio.to_thread(stage.reached.wait, 5)
            return Delivery(written=batch.alerts.height)

        async def close(self) -> None:
            return None

    async def after_batch(pipeline: Pipeline, taken: object) -> None:
        given.append((taken, stage.seen))

    pipeline = Pipeline(
        rulesets(),
        sinks=[WaitsOnce()],
        dead_letters=ListDeadLetters(),
        make_alerts=stage,
        after_batch=after_batch,
        after_detect=lambda: stage.seen,
        ahead=1,
    )
    await pipeline.run(source)
    taken = [value for value, _ in given]
    assert taken == [1, 2, 3]
    # Batch 2 was detected before the hook of batch 1 ran: the hook got batch 1's value.
    assert given[0][1] == 2
