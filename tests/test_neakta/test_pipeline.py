"""The per-batch chain: alerts reach every sink before the source commits; backpressure."""

from __future__ import annotations

import asyncio
import doctest
import importlib
from dataclasses import dataclass, field

import polars as pl
import pytest

from detect import CompiledRuleSet
from ingest.testing import ListDeadLetters, MemorySource
from neakta.pipeline import Pipeline
from respond.alerts import alert_id, simple_alerts
from respond.errors import SinkRejectedError
from respond.sinks import AlertSink, Delivery, SinkBatch
from respond.testing import ListSink

WHOAMI = """
title: Whoami From A Web Server
id: 3c0b9a1e-2d4f-4e6a-9b8c-7d6e5f4a3b2c
logsource: {category: process_creation, product: windows}
detection:
  selection:
    ParentImage|endswith: '\\w3wp.exe'
    Image|endswith: '\\whoami.exe'
  condition: selection
level: high
"""


def sysmon(image: str, parent: str = "explorer.exe") -> str:
    return (
        '{"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "ws1", '
        f'"UtcTime": "2024-01-02 03:04:05.678", "Image": "C:\\\\Windows\\\\{image}", '
        f'"ParentImage": "C:\\\\inetpub\\\\{parent}"}}'
    )


ATTACK = sysmon("whoami.exe", "w3wp.exe")
BENIGN = sysmon("notepad.exe")


def rulesets() -> dict[str, CompiledRuleSet]:
    return {"endpoint": CompiledRuleSet.from_yaml(WHOAMI, pipeline="ecs")}


@dataclass
class CommitWatchingSink:
    """Records, at each write, how many batches the source had committed by then."""

    source: MemorySource
    committed_at_write: list[int] = field(default_factory=list)

    async def write(self, batch: SinkBatch) -> Delivery:
        self.committed_at_write.append(len(self.source.committed))
        return Delivery(written=batch.alerts.height)

    async def close(self) -> None:
        return None


async def test_each_batch_is_committed_only_after_every_sink_wrote_it() -> None:
    source = MemorySource.of_lines("endpoint", [ATTACK, BENIGN, ATTACK, "garbage"], batch_size=2)
    watcher = CommitWatchingSink(source)
    listed = ListSink()
    dead = ListDeadLetters()
    pipeline = Pipeline(rulesets(), sinks=[watcher, listed], dead_letters=dead)
    stats = await pipeline.run(source)
    assert watcher.committed_at_write == [0, 1]
    assert source.committed == source.given
    assert [b.alerts["event.original"].to_list() for b in listed.batches] == [[ATTACK], [ATTACK]]
    assert dead.dead.select("origin", "reason").rows() == [("memory:4", "invalid JSON")]
    assert (stats.records, stats.events, stats.matches, stats.written) == (4, 3, 2, 2)
    assert dict(stats.dead) == {"invalid JSON": 1}


async def test_unavailable_sink_gets_the_same_batch_again_and_nothing_is_committed_meanwhile() -> (
    None
):
    source = MemorySource.of_lines("endpoint", [ATTACK, ATTACK], batch_size=1)
    sink = ListSink(fail_next=3)
    pipeline = Pipeline(rulesets(), sinks=[sink], dead_letters=ListDeadLetters(), backoff=0.001)
    first = source.given[0]
    result = await pipeline.process(first)
    # Three failures then a success: written once, and process() never commits.
    assert sink.fail_next == 0
    assert len(sink.batches) == 1
    assert source.committed == []
    assert result.written == 1
    await pipeline.run(MemorySource([source.given[1]]))
    assert len(sink.batches) == 2


async def test_stop_while_a_sink_is_down_leaves_the_batch_uncommitted() -> None:
    source = MemorySource.of_lines("endpoint", [ATTACK])
    sink = ListSink(fail_next=10**6)
    pipeline = Pipeline(rulesets(), sinks=[sink], dead_letters=ListDeadLetters(), backoff=0.01)
    task = asyncio.create_task(pipeline.run(source))
    await asyncio.sleep(0.05)
    pipeline.stop.set()
    stats = await asyncio.wait_for(task, 5)
    assert source.committed == []
    assert sink.batches == []
    assert stats.batches == 0


async def test_dead_letters_down_blocks_the_commit_too() -> None:
    source = MemorySource.of_lines("endpoint", ["garbage"])
    dead = ListDeadLetters(fail_next=2)
    pipeline = Pipeline(rulesets(), sinks=[], dead_letters=dead, backoff=0.001)
    await pipeline.run(source)
    assert dead.fail_next == 0
    assert dead.dead["origin"].to_list() == ["memory:1"]
    assert len(source.committed) == 1


async def test_a_sink_that_rejects_the_batch_stops_the_run_without_commit() -> None:
    class Rejecting(ListSink):
        async def write(self, batch: SinkBatch) -> Delivery:
            raise SinkRejectedError("mapping conflict")

    source = MemorySource.of_lines("endpoint", [ATTACK])
    pipeline = Pipeline(rulesets(), sinks=[Rejecting()], dead_letters=ListDeadLetters())
    with pytest.raises(SinkRejectedError):
        await pipeline.run(source)
    assert source.committed == []


@dataclass
class SlowSink:
    """Takes ``delay`` seconds to write; notes when each write started and ended."""

    delay: float
    log: list[str]
    name: str

    async def write(self, batch: SinkBatch) -> Delivery:
        self.log.append(f"{self.name} starts")
        await asyncio.sleep(self.delay)
        self.log.append(f"{self.name} ends")
        return Delivery(written=batch.alerts.height)

    async def close(self) -> None:
        return None


async def test_the_sinks_are_written_at_once_and_a_rejection_waits_for_the_others() -> None:
    log: list[str] = []

    class Rejecting(ListSink):
        async def write(self, batch: SinkBatch) -> Delivery:
            log.append("rejecting starts")
            raise SinkRejectedError("mapping conflict")

    source = MemorySource.of_lines("endpoint", [ATTACK])
    sinks: list[AlertSink] = [SlowSink(0.05, log, "slow"), SlowSink(0.01, log, "quick")]
    pipeline = Pipeline(rulesets(), sinks=sinks, dead_letters=ListDeadLetters())
    await pipeline.run(source)
    assert log == ["slow starts", "quick starts", "quick ends", "slow ends"]
    assert len(source.committed) == 1

    log.clear()
    source = MemorySource.of_lines("endpoint", [ATTACK])
    sinks = [Rejecting(), SlowSink(0.05, log, "slow")]
    pipeline = Pipeline(rulesets(), sinks=sinks, dead_letters=ListDeadLetters())
    with pytest.raises(SinkRejectedError):
        await pipeline.run(source)
    assert log == ["rejecting starts", "slow starts", "slow ends"]
    assert source.committed == []


async def test_replaying_the_same_records_gives_the_same_alert_ids() -> None:
    runs = []
    for _ in range(2):
        sink = ListSink()
        source = MemorySource.of_lines("endpoint", [BENIGN, ATTACK], organization="mptc")
        await Pipeline(rulesets(), sinks=[sink], dead_letters=ListDeadLetters()).run(source)
        runs.append(sink.batches[0].alerts)
    assert runs[0]["_id"].to_list() == runs[1]["_id"].to_list()
    alert = runs[0].row(0, named=True)
    assert alert["_id"] == alert_id(alert["rule.id"], alert["event.id"])
    assert (alert["organization.id"], alert["event.severity"], alert["event.kind"]) == (
        "mptc",
        73,
        "alert",
    )


def test_simple_alerts_of_no_matches_is_an_empty_batch() -> None:
    ruleset = rulesets()["endpoint"]
    empty = simple_alerts(pl.DataFrame({"a": [1]}), ruleset.evaluate(pl.DataFrame()), ruleset)
    assert empty.alerts.columns == ["_id"]
    assert empty.alerts.height == 0


@pytest.mark.parametrize("name", ["neakta.pipeline", "neakta.status", "respond.alerts"])
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    failed, _ = doctest.testmod(module, optionflags=flags, verbose=False)
    assert failed == 0
