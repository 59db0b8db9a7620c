"""Restarts and rebalances at scale: the stream against the replay of the same day.

``python -m benchmarks.restarts`` writes a day of raw ministry logs with the generators of
:mod:`samples` (one hour after another, ``--lines`` lines in all, seeded), starts a local
Tansu broker (or uses ``--bootstrap``), produces the logs to three topics of
``--partitions`` partitions as forwarders send them (:mod:`testsupport.stream`,
random interleaving), and for each checkpoint store (``--stores``: ``sqlite``, ``kafka``)
and scenario (``--scenarios``) runs ``neakta run`` in a fresh consumer group:

``steady``
    one member reads the whole stream;
``kill``
    one member, SIGKILLed ``--kills`` times at even fractions of the stream, restarted at
    once each time;
``rebalance``
    two members, each in its own working directory: the second joins at a quarter of the
    stream and leaves (SIGTERM) at 60 %, handing its partitions back.

Members of one run share the SQLite checkpoint file (one host); with ``kafka`` the state
goes through the group's changelog topic. Each run's alerts and incidents are compared
with ``neakta replay`` of the same files: lost and extra single-event alerts, correlation
alerts (by alert id) and incidents (by id and content, each in its latest version over the
members' stores), and the wall time from the first start to the last member stopped.
One line per run, then a summary per store and scenario over the seeds.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from random import Random

from aiokafka import AIOKafkaConsumer, TopicPartition

from ingest.sources.changelog import changelog_topic
from neakta.settings import DEFAULT_RULES
from samples.day import write_day
from testsupport.stream import (
    FAMILIES,
    Step,
    Stream,
    compare,
    documents,
    fill_topics,
    member_env,
    play,
    replay,
)
from testsupport.tansu import tansu_broker

SCENARIOS = ("steady", "kill", "rebalance")
STORES = ("sqlite", "kafka")
KINDS = ("single", "correlation", "incidents")
IDLE_S = 2.0
SESSION_MS = 3000
_CHANGELOG_READ = re.compile(r"changelog \S+ read: \d+ keys from (\d+) records")


def steps(scenario: str, kills: int) -> list[Step]:
    """What happens to the members during the stream (see the module notes)."""
    if scenario == "steady":
        return [(0.0, "start", "a")]
    if scenario == "kill":
        return [(0.0, "start", "a")] + [((n + 1) / (kills + 1), "kill", "a") for n in range(kills)]
    if scenario == "rebalance":
        return [(0.0, "start", "a"), (0.25, "start", "b"), (0.6, "stop", "b")]
    raise ValueError(f"unknown scenario {scenario!r}")


@contextmanager
def broker(bootstrap: str | None) -> Iterator[str]:
    """The given broker, or a fresh Tansu one for the time of the block."""
    if bootstrap:
        yield bootstrap
        return
    with tansu_broker() as started:
        yield started


def run_seed(args: argparse.Namespace, seed: int, work: Path) -> list[tuple[object, ...]]:
    """Every store and scenario on one seed's day; a row per run."""
    logs = work / f"day-{seed}"
    written = write_day(logs, seed=seed, lines=args.lines, hours=args.hours)
    began = time.perf_counter()
    replayed = replay(logs, args.rules, work / f"replay-{seed}")
    replay_s = time.perf_counter() - began
    print(f"seed {seed}: {written} lines; replay {replay_s:.1f} s", flush=True)
    rows: list[tuple[object, ...]] = [(seed, "-", "replay", replay_s, *([0, 0] * len(KINDS)))]
    with broker(args.bootstrap) as bootstrap:
        suffix = uuid.uuid4().hex[:8]
        topics = {family: f"{family}-{suffix}" for family in FAMILIES}
        rng = Random(seed)
        total = asyncio.run(fill_topics(bootstrap, topics, logs, rng, args.partitions))
        for store in args.stores:
            for scenario in args.scenarios:
                root = work / f"run-{seed}-{store}-{scenario}"
                env = member_env(store, topics, idle_s=IDLE_S, session_ms=SESSION_MS)
                stream = Stream(
                    bootstrap, topics, f"g{suffix}-{store}-{scenario}", args.partitions,
                    total, env, args.rules, root,
                )  # fmt: skip
                began = time.perf_counter()
                play(stream, steps(scenario, args.kills), rng, idle_s=IDLE_S, patience=3600)
                wall = time.perf_counter() - began
                streamed = [a for f in stream.folders() for a in documents(f / "alerts.ndjson")]
                stores = [f / "neakta.db" for f in stream.folders()]
                found = compare(streamed, stores, replayed, work / f"replay-{seed}" / "neakta.db")
                row = (seed, store, scenario, wall, *(n for k in KINDS for n in found[k]))
                print(
                    _line(row) + _changelog_reads(stream.folders(), bootstrap, stream.group),
                    flush=True,
                )
                rows.append(row)
    return rows


async def _records(bootstrap: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        return int((await consumer.end_offsets([partition]))[partition])
    finally:
        await consumer.stop()


def _changelog_reads(folders: list[Path], bootstrap: str, group: str) -> str:
    """Changelog reads on assignment: how many, the most records one read, the topic's.

    The reads are those the members logged; the topic's records are counted at the end.
    """
    reads = [
        int(found.group(1))
        for folder in folders
        for found in _CHANGELOG_READ.finditer((folder / "neakta.log").read_text())
    ]
    if not reads:
        return ""
    topic = asyncio.run(_records(bootstrap, changelog_topic(group)))
    return f"  changelog: {len(reads)} reads, at most {max(reads)} of {topic} records"


def _line(row: tuple[object, ...]) -> str:
    seed, store, scenario, wall, *counts = row
    pairs = " ".join(
        f"{kind} -{counts[2 * n]}/+{counts[2 * n + 1]}" for n, kind in enumerate(KINDS)
    )
    return f"seed {seed} {store:6} {scenario:9} {float(str(wall)):7.1f} s  lost/extra: {pairs}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the scenarios; print a line per run and a summary (see the module notes)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.restarts", description=__doc__)
    parser.add_argument("--seeds", default="1,2,3", help="seeds of the day's logs (1,2,3)")
    parser.add_argument("--lines", type=int, default=200_000, help="lines in the day (200000)")
    parser.add_argument("--hours", type=int, default=24, help="hours in the day (24)")
    parser.add_argument("--partitions", type=int, default=4, help="partitions per topic (4)")
    parser.add_argument("--kills", type=int, default=3, help="SIGKILLs in `kill` (3)")
    parser.add_argument("--stores", default=",".join(STORES), help="sqlite,kafka")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="steady,kill,rebalance")
    parser.add_argument("--rules", type=Path, default=DEFAULT_RULES, help="rules folder")
    parser.add_argument("--bootstrap", help="a running broker (default: start Tansu)")
    parser.add_argument("--work", type=Path, help="keep the files here (default: a temp dir)")
    args = parser.parse_args(argv)
    args.stores = [s for s in args.stores.split(",") if s]
    args.scenarios = [s for s in args.scenarios.split(",") if s]
    rows: list[tuple[object, ...]] = []
    with tempfile.TemporaryDirectory(prefix="neakta-restarts-") as temp:
        work = args.work or Path(temp)
        for seed in (int(s) for s in args.seeds.split(",") if s):
            rows += run_seed(args, seed, work)
    print("\nstore  scenario  wall s (min-max over seeds)  lost/extra summed over seeds")
    for store, scenario in sorted({(r[1], r[2]) for r in rows}):
        mine = [r for r in rows if (r[1], r[2]) == (store, scenario)]
        walls = [float(str(r[3])) for r in mine]
        sums = [sum(int(str(r[4 + n])) for r in mine) for n in range(2 * len(KINDS))]
        pairs = " ".join(
            f"{kind} -{sums[2 * n]}/+{sums[2 * n + 1]}" for n, kind in enumerate(KINDS)
        )
        print(f"{store:6} {scenario:9} {min(walls):6.1f}-{max(walls):6.1f}  {pairs}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
