"""Scale-out: K ``neakta run`` processes in one consumer group, aggregate events per second.

``python -m benchmarks.scaleout`` starts a local Tansu broker, produces N Sysmon process
creations where no two events are alike (:mod:`benchmarks.sysmon`) to ``logs.endpoint``
with P partitions, then for each number of processes K and of detection threads T
(``POLARS_MAX_THREADS``) starts K ``neakta run`` processes in one fresh consumer group,
each in its own working directory (its own alert file, store and checkpoints), and
times them from launch until the group has committed every record. Start-up is included;
the rule set and its correlation rules are compiled once beforehand, so every process
starts from a warm cache.

Options: ``--events N`` (default 1,000,000), ``--partitions P`` (16), ``--processes``
(``1,2,4,8``), ``--threads`` (``1,2,4,8,16``), ``--rules`` (a folder; default SigmaHQ's
process_creation under ``NEAKTA_SIGMAHQ``, else the bundled rules; given several times,
every trial runs once per folder, interleaved, on the same events), ``--no-matches``
(leave out the generated events any rule matches, evaluated on the raw Sysmon fields: a
workload where detection finds next to nothing, so no alert is built). K x T beyond the
machine's cores is still run: the table shows where adding either stops paying. Each
trial also prints the first process's matches and alerts, and a steady rate: the records
committed after the first commit over the time they took (start-up and joining left out),
the CPU seconds used and the peak resident memory (summed over the processes).
``--trace SECONDS`` also prints, that often, the rate of the records committed since: a
long run shows whether it slows down as its state grows.

Side by side: ``--variant NAME:VAR=VALUE,VAR=VALUE`` (repeatable) runs every trial once per
variant with those environment variables set (``--variant 'one-at-a-time:NEAKTA_RUN__AHEAD=0'``
against ``--variant 'default:'``), interleaved, ``--rounds R`` times; a summary gives each
variant's range over the rounds. ``--variant 'supervised:NEAKTA_RUN__PROCESSES=2'`` makes
each of the K processes a supervisor of 2 workers (``neakta run --processes 2``); the CPU
seconds count every process's children too.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import polars as pl
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from benchmarks.sysmon import generate_sysmon_frame, sysmon_lines
from detect.cache import compile_rules
from neakta.rulesets import compile_correlations
from neakta.settings import DEFAULT_RULES
from testsupport.tansu import tansu_broker

TOPIC = "logs.endpoint"
NEAKTA = str(Path(sys.executable).parent / "neakta")


Keep = Callable[[pl.DataFrame], pl.DataFrame]


def without_matches(folders: list[Path], cache: Path) -> Keep:
    """A filter dropping the Sysmon rows any rule of ``folders`` matches (raw field names)."""
    rulesets = [compile_rules([rules], pipeline="raw", cache_dir=cache) for rules in folders]

    def keep(frame: pl.DataFrame) -> pl.DataFrame:
        matched = pl.concat(
            ruleset.calibrate(frame).evaluate(frame)["row"] for ruleset in rulesets
        ).unique()
        return (
            frame.with_row_index("_row")
            .filter(~pl.col("_row").is_in(matched.implode()))
            .drop("_row")
        )

    return keep


async def produce(bootstrap: str, events: int, partitions: int, keep: Keep | None = None) -> None:
    """Create the topic and fill it with ``events`` distinct Sysmon lines.

    With ``keep``, only the lines of the rows it keeps (more are generated to make up).
    """
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
            frame = generate_sysmon_frame(count, seed=sent + 1)
            lines = sysmon_lines(frame if keep is None else keep(frame))[:count]
            count = len(lines)
            if not count:
                raise RuntimeError("every generated event matches a rule")
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
    bootstrap: str,
    group: str,
    rules: Path,
    work: Path,
    threads: int,
    *,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """One ``neakta run`` consuming ``TOPIC`` in ``group``, in its own folder ``work``.

    ``env``: more environment variables (settings) for it.
    """
    work.mkdir(parents=True)
    # Tansu does not hand out producer ids: the dead-letter producer runs without them.
    env = os.environ | {
        "POLARS_MAX_THREADS": str(threads),
        "NEAKTA_KAFKA__DLQ_IDEMPOTENCE": "false",
        **(env or {}),
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
    env: dict[str, str] | None = None,
    trace: float = 0.0,
) -> tuple[float, float, float, float]:
    """Aggregate events/s of ``processes`` x ``threads`` over the whole topic.

    ``env``: more environment variables for every process (see :func:`launch`).
    ``trace``: every that many seconds, print the rate of the records committed since
    (0: never): whether a long run slows down as its state grows.

    Returns
    -------
    tuple of float
        From launch (start-up and joining the group included), and from the first commit
        on (the records committed after it, over the time they took: the steady rate); and
        the CPU seconds the processes used until the last commit (0 where ``/proc`` is
        missing): the work done, whatever share of the cores other jobs took; and their
        peak resident memory in MB (:func:`peak_rss_mb`, summed over the processes).
    """
    group = f"scaleout-{uuid.uuid4().hex[:8]}"
    started = time.perf_counter()
    first: tuple[float, int] | None = None
    traced = (started, 0)
    running = [
        launch(bootstrap, group, rules, work / f"{group}-{n}", threads, env=env)
        for n in range(processes)
    ]
    try:
        while (done := await committed(bootstrap, group, partitions)) < events:
            now = time.perf_counter()
            if first is None and done:
                first = (now, done)
            if trace and now - traced[0] >= trace:
                rate = (done - traced[1]) / (now - traced[0])
                line = f"  {now - started:7.1f} s {done:>12,} committed {rate:>10,.0f}/s"
                print(line, flush=True)
                traced = (now, done)
            if all(p.poll() is not None for p in running):
                log = (work / f"{group}-0" / "neakta.log").read_text(errors="replace")
                raise RuntimeError(f"every neakta run exited early:\n{log[-2000:]}")
            await asyncio.sleep(0.25)
        ended = time.perf_counter()
        cpu = sum(map(cpu_seconds, running))
        rss = sum(map(peak_rss_mb, running))
        steady = (events - first[1]) / (ended - first[0]) if first is not None else 0.0
        return events / (ended - started), steady, cpu, rss
    finally:
        for process in running:
            process.send_signal(signal.SIGTERM)
        for process in running:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        log = (work / f"{group}-0" / "neakta.log").read_text(errors="replace")
        print(*(line for line in log.splitlines() if "matches:" in line), flush=True)


def _family(process: subprocess.Popen[bytes]) -> Iterator[tuple[int, list[str]]]:
    """``process`` and its children (a supervisor's workers), by ``/proc``.

    Yields each pid and its ``/proc/<pid>/stat`` fields counted from the state field (the
    3rd); nothing without ``/proc``.
    """
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid, rest = stat.read_text().split(" (", 1)
        except OSError:
            continue
        fields = rest.rsplit(")", 1)[1].split()
        if int(pid) == process.pid or int(fields[1]) == process.pid:
            yield int(pid), fields


def cpu_seconds(process: subprocess.Popen[bytes]) -> float:
    """User and system CPU seconds of ``process`` and its children so far (0 without /proc).

    A supervisor's workers are its children.
    """
    # Fields 14 and 15 (utime, stime).
    total = sum(int(fields[11]) + int(fields[12]) for _, fields in _family(process))
    return total / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(process: subprocess.Popen[bytes]) -> float:
    """Peak resident memory (``VmHWM``) of ``process`` in MB, 0 without ``/proc``.

    Where it has children (a supervisor's workers), the sum of their peaks, each reached
    at its own time: an upper bound of what they held at once.
    """
    peaks: dict[int, float] = {}
    for pid, _ in _family(process):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
        if found:
            peaks[pid] = int(found.group(1)) / 1024
    workers = [peak for pid, peak in peaks.items() if pid != process.pid]
    return sum(workers) if workers else peaks.get(process.pid, 0.0)


_WARM = """
import sys
from pathlib import Path
from detect.cache import compile_rules
from neakta.rulesets import compile_correlations
rules, cache = [Path(sys.argv[1])], Path(sys.argv[2])
compile_correlations(rules, compile_rules(rules, pipeline="ecs", cache_dir=cache), cache_dir=cache)
"""


def warm_cache(rules: Path, cache: Path, env: dict[str, str]) -> None:
    """Compile the rules under a variant's environment, so that its trials start warm too.

    The cache key holds the code's version: another checkout (``PYTHONPATH``) compiles
    its own entry, which would otherwise fall in its first trial.
    """
    done = subprocess.run(
        [sys.executable, "-c", _WARM, str(rules), str(cache)],
        env=os.environ | env,
        cwd=cache.parent,  # not the checkout: "-c" puts the working folder first on the path
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        print(f"  (its cache could not be warmed, its first trial compiles: {done.stderr[-300:]})")


def _numbers(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def _variant(text: str) -> tuple[str, dict[str, str]]:
    """``NAME:VAR=VALUE,VAR=VALUE`` -> name and environment.

    A comma not followed by ``VAR=`` belongs to the value (``_RJEM_MALLOC_CONF=a:1,b:2``).
    """
    name, _, assignments = text.partition(":")
    parts = re.split(r",(?=[A-Za-z_][A-Za-z0-9_]*=)", assignments)
    env = dict(part.split("=", 1) for part in parts if part)
    return name or "default", env


def _span(values: list[float], digits: int = 0) -> str:
    low, high = min(values), max(values)
    return f"{low:,.{digits}f}" if len(values) == 1 else f"{low:,.{digits}f}-{high:,.{digits}f}"


def main() -> None:
    """Produce the events once, then time every (processes, threads) pair per variant."""
    sigmahq = os.environ.get("NEAKTA_SIGMAHQ")
    default = Path(sigmahq) / "rules" / "windows" / "process_creation" if sigmahq else DEFAULT_RULES
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=16)
    parser.add_argument("--processes", type=_numbers, default=[1, 2, 4, 8])
    parser.add_argument("--threads", type=_numbers, default=[1, 2, 4, 8, 16])
    parser.add_argument("--rules", type=Path, action="append", default=[])
    parser.add_argument("--no-matches", action="store_true")
    parser.add_argument("--variant", type=_variant, action="append", default=[])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--trace", type=float, default=0.0, metavar="SECONDS")
    args = parser.parse_args()
    variants: list[tuple[str, dict[str, str]]] = args.variant or [("default", {})]
    folders: list[Path] = args.rules or [default]
    width = max(7, *(len(name) for name, _ in variants))
    results: dict[tuple[str, str, int, int], list[tuple[float, float, float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="neakta-scaleout-") as raw:
        work = Path(raw)
        os.environ["XDG_CACHE_HOME"] = str(work / "cache")
        labels: dict[Path, str] = {}
        for rules in folders:
            ruleset = compile_rules([rules], pipeline="ecs", cache_dir=work / "cache" / "neakta")
            compile_correlations([rules], ruleset, cache_dir=work / "cache" / "neakta")
            labels[rules] = f"{len(ruleset.rules):,}"
            print(f"{labels[rules]} rules ({rules})")
        print(f"{args.events:,} events, {args.partitions} partitions, {os.cpu_count()} cores")
        for name, env in variants:
            print(f"variant {name}: {' '.join(f'{k}={v}' for k, v in env.items()) or '-'}")
            if env:
                for rules in folders:
                    warm_cache(rules, work / "cache" / "neakta", env)
        with tansu_broker() as bootstrap:
            keep = without_matches(folders, work / "cache" / "raw") if args.no_matches else None
            asyncio.run(produce(bootstrap, args.events, args.partitions, keep))
            print(f"{'variant':>{width}} {'rules':>6} {'processes':>9} {'threads':>7} "
                  f"{'events/s':>10} {'steady':>10} {'cpu s':>7} {'peak MB':>8}")  # fmt: skip
            for _ in range(args.rounds):
                for processes in args.processes:
                    for threads in args.threads:
                        for rules in folders:
                            for name, env in variants:
                                rate, steady, cpu, rss = asyncio.run(
                                    trial(
                                        bootstrap,
                                        args.events,
                                        rules,
                                        work,
                                        partitions=args.partitions,
                                        processes=processes,
                                        threads=threads,
                                        env=env,
                                        trace=args.trace,
                                    )
                                )
                                key = (name, labels[rules], processes, threads)
                                results.setdefault(key, []).append((rate, steady, cpu, rss))
                                print(
                                    f"{name:>{width}} {labels[rules]:>6} {processes:>9} "
                                    f"{threads:>7} {rate:>10,.0f} {steady:>10,.0f} {cpu:>7.1f} "
                                    f"{rss:>8,.0f}",
                                    flush=True,
                                )
    if args.rounds > 1 or len(variants) > 1 or len(folders) > 1:
        print(
            f"\nover {args.rounds} round(s): events/s (from launch), steady, CPU seconds, peak MB"
        )
        for (name, label, processes, threads), rates in results.items():
            launched, steadily, cpus, peaks = (
                _span([r[n] for r in rates], digits) for n, digits in enumerate((0, 0, 1, 0))
            )
            print(
                f"{name:>{width}} {label:>6} {processes:>9} {threads:>7} "
                f"{launched:>15} {steadily:>15} {cpus:>11} {peaks:>13}"
            )


if __name__ == "__main__":
    main()
