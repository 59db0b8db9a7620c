"""End to end from a Kafka broker through detection: the pipeline against a per-record loop.

Both sides read the same records (a bundled sample of one log family, repeated) from a
fresh topic on a local Tansu broker and evaluate the bundled rules:

* **neakta**: :class:`ingest.sources.kafka.KafkaSource` + :class:`neakta.pipeline.Pipeline`
  (bounded ``getmany`` batches, one decode, one parse, one rule evaluation per batch,
  stamping, alerts, commit);
* **per record**: a consumer that takes one record at a time, parses it alone and
  evaluates it alone, committing after each.

``python -m benchmarks.pipeline`` prints both rates and their ratio;
:func:`compare_pipeline` returns them for ``benchmarks/compare.py``. Environment:
``NEAKTA_BENCH_PIPELINE_FAMILY`` (``endpoint``, the default: Sysmon JSON; ``web``: nginx
lines; ``firewall``: FortiGate, iptables, pfSense and CEF lines),
``NEAKTA_BENCH_PIPELINE_EVENTS`` (default 200,000) and
``NEAKTA_BENCH_PIPELINE_BASELINE_EVENTS`` (default 2,000).

It then prints where the Kafka side's time goes (:func:`compare_consumer`, same topic, same
run): records/s of ``getmany`` alone with aiokafka's fetch size and with the source's, of
``getmany`` plus the records frame (:meth:`KafkaSource.batches`), and the pipeline again
with the source's fetch overlap off (``fetcher_steps=0``, as before) and on; for those two,
``source s`` is the median time the pipeline waited for its next batch (``getmany``, the
records frame, the decode), the part the source can change. Rounds alternate, so a busy
machine hurts both sides alike: ``NEAKTA_BENCH_CONSUMER_ROUNDS`` (default 3; 0 skips it).
"""

from __future__ import annotations

import asyncio
import math
import os
import time
import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import polars as pl
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from detect import CompiledRuleSet
from ingest.sources import SourceBatch
from ingest.sources.kafka import PARTITION_FETCH_BYTES, KafkaSource
from ingest.sources.parsing import parse_family
from ingest.testing import ListDeadLetters
from neakta.pipeline import Pipeline
from neakta.settings import DEFAULT_RULES
from neakta.wiring import compile_rulesets
from respond.sinks import Delivery, SinkBatch
from testsupport.tansu import tansu_broker

__all__ = [
    "ConsumerRate",
    "PipelineRates",
    "compare_consumer",
    "compare_pipeline",
    "fill_topic",
    "parse_lines",
]

_DATA = Path(__file__).resolve().parent.parent / "samples" / "data"
SAMPLES = {
    "endpoint": _DATA / "sample_endpoint.ndjson",
    "web": _DATA / "sample_web_nginx.log",
    "firewall": _DATA / "sample_firewall.log",
}
"""The bundled sample each family's topic is filled from."""
FAMILY = os.environ.get("NEAKTA_BENCH_PIPELINE_FAMILY", "endpoint")
SAMPLE = SAMPLES[FAMILY]
YEAR = 2024
EVENTS = int(os.environ.get("NEAKTA_BENCH_PIPELINE_EVENTS", "200000"))
BASELINE_EVENTS = int(os.environ.get("NEAKTA_BENCH_PIPELINE_BASELINE_EVENTS", "2000"))
CONSUMER_ROUNDS = int(os.environ.get("NEAKTA_BENCH_CONSUMER_ROUNDS", "3"))
AIOKAFKA_PARTITION_FETCH_BYTES = 1 << 20
"""aiokafka's own ``max_partition_fetch_bytes``."""
# Tansu answers a group join after about half the session timeout: keep joins out of timings.
_QUICK_JOIN: dict[str, Any] = {"session_timeout_ms": 2000, "heartbeat_interval_ms": 200}


@dataclass(frozen=True)
class PipelineRates:
    """Events per second of each side, and how many alerts each found."""

    events: int
    neakta: float
    neakta_alerts: int
    baseline_events: int
    baseline: float
    baseline_matches: int

    @property
    def ratio(self) -> float:
        """How many times faster than the baseline."""
        return self.neakta / self.baseline if self.baseline else float("inf")


async def fill_topic(
    bootstrap: str, count: int, *, partitions: int = 1, family: str = FAMILY
) -> str:
    """A fresh ``logs.<family>.<id>`` topic holding ``count`` records of the family's sample."""
    topic = f"logs.{family}.b{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()
    lines = SAMPLES[family].read_bytes().splitlines()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=1 << 20)
    await producer.start()
    try:
        pending = []
        for n in range(count):
            pending.append(await producer.send(topic, lines[n % len(lines)]))
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return topic


class _CountingSink:
    def __init__(self) -> None:
        self.alerts = 0

    async def write(self, batch: SinkBatch) -> Delivery:
        self.alerts += batch.alerts.height
        return Delivery(written=batch.alerts.height)

    async def close(self) -> None:
        return None


class _TimedSource:
    """A source that adds up how long the pipeline waits for each next batch."""

    def __init__(self, source: KafkaSource) -> None:
        self.source = source
        self.waited = 0.0

    async def batches(self) -> AsyncGenerator[SourceBatch, None]:
        batches = self.source.batches()
        try:
            while True:
                started = time.perf_counter()
                try:
                    batch = await anext(batches)
                except StopAsyncIteration:
                    return
                self.waited += time.perf_counter() - started
                yield batch
        finally:
            await batches.aclose()

    async def commit(self, batch: SourceBatch) -> None:
        await self.source.commit(batch)

    async def close(self) -> None:
        await self.source.close()


async def run_neakta(
    bootstrap: str,
    topic: str,
    count: int,
    rulesets: dict[str, CompiledRuleSet],
    **source_options: Any,
) -> tuple[float, int]:
    """Events/s of the pipeline over ``count`` records of ``topic``, and its alerts.

    ``source_options`` go to :class:`KafkaSource` (``fetcher_steps``, consumer options).
    """
    rate, alerts, _ = await run_neakta_timed(bootstrap, topic, count, rulesets, **source_options)
    return rate, alerts


async def run_neakta_timed(
    bootstrap: str,
    topic: str,
    count: int,
    rulesets: dict[str, CompiledRuleSet],
    **source_options: Any,
) -> tuple[float, int, float]:
    """:func:`run_neakta`, and the seconds the pipeline spent waiting for the source."""
    stop = asyncio.Event()
    source = _TimedSource(
        KafkaSource(
            bootstrap_servers=bootstrap,
            topics=[topic],
            group_id=f"bench-{uuid.uuid4().hex[:8]}",
            max_records=50_000,
            timeout_ms=200,
            stop=stop,
            **(_QUICK_JOIN | source_options),
        )
    )
    sink = _CountingSink()
    pipeline = Pipeline(rulesets, sinks=[sink], dead_letters=ListDeadLetters(), stop=stop)
    await source.source.start()
    started = time.perf_counter()
    finished = started

    async def watch() -> None:
        nonlocal finished
        while pipeline.stats.records < count:
            await asyncio.sleep(0.005)
        finished = time.perf_counter()
        stop.set()

    watcher = asyncio.create_task(watch())
    await pipeline.run(source)
    await watcher
    await source.close()
    return count / (finished - started), sink.alerts, source.waited


def parse_lines(lines: list[str], family: str = FAMILY) -> pl.DataFrame:
    """The events of one family's lines, as the pipeline's parser reads them."""
    result = parse_family(family, pl.Series(lines, dtype=pl.String), year=YEAR)
    assert result is not None
    return result.events


async def run_per_record(
    bootstrap: str, topic: str, count: int, ruleset: CompiledRuleSet, family: str = FAMILY
) -> tuple[float, int]:
    """Events/s consuming, parsing and evaluating one record at a time, and its matches."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"base-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **_QUICK_JOIN,
    )
    await consumer.start()
    ruleset = ruleset.calibrate(parse_lines([SAMPLES[family].read_text().splitlines()[1]], family))
    seen = matches = 0
    started = time.perf_counter()
    try:
        while seen < count:
            fetched = await consumer.getmany(timeout_ms=200, max_records=1)
            for records in fetched.values():
                for record in records:
                    events = parse_lines([record.value.decode()], family)
                    matches += ruleset.evaluate(events).height
                    await consumer.commit()
                    seen += 1
    finally:
        await consumer.stop()
    return seen / (time.perf_counter() - started), matches


@dataclass(frozen=True)
class ConsumerRate:
    """One way of reading the topic, measured.

    Records/s (best and median round), batch size, and for the pipeline the median seconds
    it waited for the source's next batch (else NaN).
    """

    label: str
    best: float
    median: float
    per_batch: float
    waited: float


async def _assigned(consumer: AIOKafkaConsumer) -> None:
    while not consumer.assignment():
        await asyncio.sleep(0.01)


async def read_getmany(
    bootstrap: str, topic: str, count: int, **options: Any
) -> tuple[float, float, float]:
    """Records/s of bare ``getmany(max_records=50,000)`` calls, records per call, NaN."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"get-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **(_QUICK_JOIN | options),
    )
    await consumer.start()
    seen = calls = 0
    try:
        await _assigned(consumer)
        started = time.perf_counter()
        while seen < count:
            fetched = await consumer.getmany(timeout_ms=200, max_records=50_000)
            calls += bool(fetched)
            seen += sum(len(records) for records in fetched.values())
        elapsed = time.perf_counter() - started
    finally:
        await consumer.stop()
    return seen / elapsed, seen / max(calls, 1), float("nan")


async def read_batches(
    bootstrap: str, topic: str, count: int, **options: Any
) -> tuple[float, float, float]:
    """Records/s of :meth:`KafkaSource.batches` (``getmany`` + records frame), per batch, NaN."""
    source = KafkaSource(
        bootstrap_servers=bootstrap,
        topics=[topic],
        group_id=f"src-{uuid.uuid4().hex[:8]}",
        max_records=50_000,
        timeout_ms=200,
        **(_QUICK_JOIN | options),
    )
    await source.start()
    seen = calls = 0
    try:
        while not source.assigned:
            await asyncio.sleep(0.01)
        started = time.perf_counter()
        batches = source.batches()
        async for batch in batches:
            seen += batch.size
            calls += 1
            if seen >= count:
                break
        elapsed = time.perf_counter() - started
        await batches.aclose()
    finally:
        await source.close()
    return seen / elapsed, seen / max(calls, 1), float("nan")


async def compare_consumer(
    bootstrap: str, topic: str, count: int, *, rounds: int = CONSUMER_ROUNDS
) -> list[ConsumerRate]:
    """The Kafka side's rates on one topic, alternating the ways round by round."""
    small: dict[str, Any] = {"max_partition_fetch_bytes": AIOKAFKA_PARTITION_FETCH_BYTES}
    big: dict[str, Any] = {"max_partition_fetch_bytes": PARTITION_FETCH_BYTES}
    rulesets = compile_rulesets([DEFAULT_RULES], families=(FAMILY,))
    ways: list[tuple[str, Any]] = [
        ("getmany alone, 1 MiB partition fetch", partial(read_getmany, **small)),
        ("getmany alone, 16 MiB partition fetch", partial(read_getmany, **big)),
        ("getmany + records frame (source)", read_batches),
        (
            "pipeline, fetch overlap off (before)",
            partial(_pipeline_rate, rulesets=rulesets, fetcher_steps=0, **small),
        ),
        ("pipeline, source defaults (after)", partial(_pipeline_rate, rulesets=rulesets)),
    ]
    found: dict[str, list[tuple[float, float, float]]] = {label: [] for label, _ in ways}
    for _ in range(rounds):
        for label, way in ways:
            found[label].append(await way(bootstrap, topic, count))
    rates = []
    for label, runs in found.items():
        speeds = sorted(rate for rate, _, _ in runs)
        waits = sorted(waited for _, _, waited in runs)
        middle = len(runs) // 2
        rates.append(ConsumerRate(label, speeds[-1], speeds[middle], runs[-1][1], waits[middle]))
    return rates


async def _pipeline_rate(
    bootstrap: str,
    topic: str,
    count: int,
    *,
    rulesets: dict[str, CompiledRuleSet],
    **source_options: Any,
) -> tuple[float, float, float]:
    rate, _, waited = await run_neakta_timed(bootstrap, topic, count, rulesets, **source_options)
    return rate, float("nan"), waited


async def compare_pipeline(
    bootstrap: str, *, events: int = EVENTS, baseline_events: int = BASELINE_EVENTS
) -> PipelineRates:
    """Both sides on the same broker in the same run."""
    rulesets = compile_rulesets([DEFAULT_RULES], families=(FAMILY,))
    topic = await fill_topic(bootstrap, max(events, baseline_events))
    neakta, alerts = await run_neakta(bootstrap, topic, events, rulesets)
    single = compile_rulesets([DEFAULT_RULES], families=(FAMILY,))[FAMILY]
    baseline, matches = await run_per_record(bootstrap, topic, baseline_events, single)
    return PipelineRates(events, neakta, alerts, baseline_events, baseline, matches)


async def _measure(bootstrap: str) -> tuple[PipelineRates, list[ConsumerRate]]:
    rates = await compare_pipeline(bootstrap)
    if not CONSUMER_ROUNDS:
        return rates, []
    topic = await fill_topic(bootstrap, EVENTS)
    return rates, await compare_consumer(bootstrap, topic, EVENTS)


def main() -> None:
    with tansu_broker() as bootstrap:
        rates, consumer = asyncio.run(_measure(bootstrap))
    print(f"log family: {FAMILY} ({SAMPLE.name}, repeated)")
    print(f"{'engine':<40} {'events':>9} {'events/s':>12} {'alerts':>8}")
    print(
        f"{'neakta pipeline (batches)':<40} {rates.events:>9,} {rates.neakta:>12,.0f} "
        f"{rates.neakta_alerts:>8,}"
    )
    print(
        f"{'per record (consume, parse, evaluate)':<40} {rates.baseline_events:>9,} "
        f"{rates.baseline:>12,.0f} {rates.baseline_matches:>8,}"
    )
    print(f"neakta is {rates.ratio:,.0f} times the per-record rate")
    if not consumer:
        return
    print()
    print(
        f"{'kafka side, ' + format(EVENTS, ',') + ' records':<40} {'best/s':>12} "
        f"{'median/s':>12} {'per batch':>10} {'source s':>9}"
    )
    for rate in consumer:
        per_batch = "" if math.isnan(rate.per_batch) else f"{rate.per_batch:,.0f}"
        waited = "" if math.isnan(rate.waited) else f"{rate.waited:.2f}"
        print(
            f"{rate.label:<40} {rate.best:>12,.0f} {rate.median:>12,.0f} {per_batch:>10} "
            f"{waited:>9}"
        )


if __name__ == "__main__":
    main()
