"""Scale-out: K ``neakta run`` processes in one consumer group, aggregate events per second.

``python -m benchmarks.scaleout`` starts a local Tansu broker, produces N Sysmon process
creations where no two events are alike (:mod:`benchmarks.sysmon`) to ``logs.endpoint``
with P partitions, then for each number of processes K and of detection threads T
(``POLARS_MAX_THREADS``) starts K ``neakta run`` processes in one fresh consumer group,
each in its own working directory (its own alert file, store and checkpoints), and
times them from launch until the group has committed every record. Start-up is included;
the rule set is compiled once beforehand, so every process starts from a warm cache.

Options: ``--events N`` (default 1,000,000), ``--partitions P`` (16), ``--processes``
(``1,2,4,8``), ``--threads`` (``1,2,4,8,16``), ``--rules`` (a folder; default SigmaHQ's
process_creation under ``NEAKTA_SIGMAHQ``, else the bundled rules). K x T beyond the
machine's cores is still run: the table shows where adding either stops paying.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from benchmarks.sysmon import generate_sysmon_frame, sysmon_lines
from detect.cache import compile_rules
from neakta.settings import DEFAULT_RULES
from testsupport.tansu import tansu_broker

TOPIC = "logs.endpoint"
NEAKTA = str(Path(sys.executable).parent / "neakta")


async def produce(bootstrap: str, events: int, partitions: int) -> None:
    """Create the topic and fill it with ``events`` distinct Sysmon lines."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(TOPIC, partitions, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=1 << 20)
    await producer.start()
    try:
        sent = 0
        while sent < events:
            count = min(50_000, events - sent)
            lines = sysmon_lines(generate_sysmon_frame(count, seed=sent + 1))
            pending = [
                await producer.send(TOPIC, line, partition=(sent + n) % partitions)
                for n, line in enumerate(lines)
            ]
            await asyncio.gather(*pending)
            sent += count
    finally:
        await producer.stop()


async def committed(bootstrap: str, group: str, partitions: int) -> int:
    """Records the group has committed, over all partitions."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        asked = [TopicPartition(TOPIC, p) for p in range(partitions)]
        offsets = await admin.list_consumer_group_offsets(group, partitions=asked)
    finally:
        await admin.close()
    return sum(max(meta.offset, 0) for meta in offsets.values())


def launch(
    bootstrap: str, group: str, rules: Path, work: Path, threads: int
) -> subprocess.Popen[bytes]:
    """One ``neakta run`` consuming ``TOPIC`` in ``group``, in its own folder ``work``."""
    work.mkdir(parents=True)
    # Tansu does not hand out producer ids: the dead-letter producer runs without them.
    env = os.environ | {
        "POLARS_MAX_THREADS": str(threads),
        "NEAKTA_KAFKA__DLQ_IDEMPOTENCE": "false",
    }
    command = [
        NEAKTA, "run", "--bootstrap-servers", bootstrap, "--group-id", group,
        "--topics", TOPIC, "--rules", str(rules), "--alerts", "alerts.ndjson",
        "--db", "store.sqlite", "--checkpoints", "checkpoints.sqlite", "--no-status",
    ]  # fmt: skip
    log = (work / "neakta.log").open("wb")
    return subprocess.Popen(command, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)


async def trial(
    bootstrap: str,
    events: int,
    rules: Path,
    work: Path,
    *,
    partitions: int,
    processes: int,
    threads: int,
) -> float:
    """Aggregate events/s of ``processes`` x ``threads`` over the whole topic."""
    group = f"scaleout-{uuid.uuid4().hex[:8]}"
    started = time.perf_counter()
    running = [
        launch(bootstrap, group, rules, work / f"{group}-{n}", threads) for n in range(processes)
    ]
    try:
        while await committed(bootstrap, group, partitions) < events:
            if all(p.poll() is not None for p in running):
                log = (work / f"{group}-0" / "neakta.log").read_text(errors="replace")
                raise RuntimeError(f"every neakta run exited early:\n{log[-2000:]}")
            await asyncio.sleep(0.25)
        return events / (time.perf_counter() - started)
    finally:
        for process in running:
            process.send_signal(signal.SIGTERM)
        for process in running:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


def _numbers(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def main() -> None:
    """Produce the events once, then time every (processes, threads) pair."""
    sigmahq = os.environ.get("NEAKTA_SIGMAHQ")
    default = Path(sigmahq) / "rules" / "windows" / "process_creation" if sigmahq else DEFAULT_RULES
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=16)
    parser.add_argument("--processes", type=_numbers, default=[1, 2, 4, 8])
    parser.add_argument("--threads", type=_numbers, default=[1, 2, 4, 8, 16])
    parser.add_argument("--rules", type=Path, default=default)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="neakta-scaleout-") as raw:
        work = Path(raw)
        os.environ["XDG_CACHE_HOME"] = str(work / "cache")
        ruleset = compile_rules([args.rules], pipeline="ecs", cache_dir=work / "cache" / "neakta")
        print(f"{len(ruleset.rules)} rules ({args.rules}), {args.events:,} events, "
              f"{args.partitions} partitions, {os.cpu_count()} cores")  # fmt: skip
        with tansu_broker() as bootstrap:
            asyncio.run(produce(bootstrap, args.events, args.partitions))
            print(f"{'processes':>9} {'threads':>7} {'events/s':>10}")
            for processes in args.processes:
                for threads in args.threads:
                    rate = asyncio.run(
                        trial(
                            bootstrap,
                            args.events,
                            args.rules,
                            work,
                            partitions=args.partitions,
                            processes=processes,
                            threads=threads,
                        )
                    )
                    print(f"{processes:>9} {threads:>7} {rate:>10,.0f}", flush=True)


if __name__ == "__main__":
    main()
