"""Stream against replay: sample logs to Kafka as forwarders send them, ``neakta`` processes.

What the integration tests and ``python -m benchmarks.restarts`` share: the four sample
files of a folder keyed as forwarders key them (:func:`keyed_streams`), produced to one
topic per family in a random interleaving (:func:`produce_interleaved`), ``neakta run``
processes started, killed and stopped while the group reads them (:class:`Stream` and
:func:`play`), and what they wrote compared with ``neakta replay`` of the same files
(:func:`compare`): alert ids, single-event and correlation apart, and incidents by id and
content, each incident in its latest version over every store that holds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from random import Random
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

__all__ = [
    "FAMILIES",
    "Stream",
    "alert_ids",
    "committed",
    "compare",
    "create_topics",
    "documents",
    "eventually",
    "keyed_streams",
    "latest_incidents",
    "member_env",
    "play",
    "produce_interleaved",
    "replay",
    "start",
    "wait_for",
]

FAMILIES = ("firewall", "endpoint", "web")
"""The topic families of the sample logs (IIS and nginx share ``web``)."""

Keyed = list[tuple[int | None, str]]
"""(partition, line) in sending order; None: every partition (IIS directives)."""

_IIS_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) ")
_CLF_TIME = re.compile(r"\[(\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\]")
_SOURCE_IP = re.compile(r"(?:srcip=|SRC=)([0-9.]+)")


def _web_time(line: str) -> float:
    if found := _IIS_TIME.match(line):
        return datetime.fromisoformat(found.group(1) + "+00:00").timestamp()
    found = _CLF_TIME.search(line)
    assert found, line
    return datetime.strptime(found.group(1), "%d/%b/%Y:%H:%M:%S %z").timestamp()


def keyed_streams(
    folder: Path, partitions: int, *, scatter: frozenset[str] = frozenset()
) -> dict[str, Keyed]:
    """Per family, (partition, line) in the order a forwarder sends them.

    Firewall lines are keyed by source address and web lines by client address (the
    correlations group by them), endpoint events by host; IIS directives go to every
    partition (None), where they precede the lines they describe. The two web files are
    merged in time order, as one forwarder would send them. The families in ``scatter``
    are keyed by the line itself instead, as a forwarder without keys spreads them.
    """

    def partition(key: str) -> int:
        return zlib.crc32(key.encode()) % partitions

    firewall: Keyed = [
        (partition(m.group(1) if (m := _SOURCE_IP.search(line)) else line), line)
        for line in (folder / "sample_firewall.log").read_text().splitlines()
        if line
    ]
    endpoint: Keyed = [
        (
            partition(line if "endpoint" in scatter else str(orjson.loads(line).get("Computer"))),
            line,
        )
        for line in (folder / "sample_endpoint.ndjson").read_text().splitlines()
        if line
    ]
    iis = (folder / "sample_web_iis.log").read_text().splitlines()
    nginx = (folder / "sample_web_nginx.log").read_text().splitlines()
    timed: list[tuple[float, int, str]] = []
    last = 0.0
    for number, line in enumerate(iis):
        # A directive keeps its place just before the next line of its file.
        last = last if line.startswith("#") else _web_time(line)
        timed.append((last, number, line))
    timed += [(_web_time(line), len(iis) + n, line) for n, line in enumerate(nginx) if line]
    # Directives sort before the lines of the same second of their file.
    timed.sort(key=lambda t: (t[0], t[1]))
    web: Keyed = []
    for _, _, line in timed:
        if line.startswith("#"):
            web.append((None, line))
        else:
            client = line.split(" ")[8] if _IIS_TIME.match(line) else line.split(" ")[0]
            web.append((partition(client), line))
    return {"firewall": firewall, "endpoint": endpoint, "web": web}


async def create_topics(bootstrap: str, names: list[str], partitions: int) -> None:
    """Create topics of ``partitions`` partitions each."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1) for name in names]
        )
    finally:
        await admin.close()


async def produce_interleaved(
    bootstrap: str,
    topics: dict[str, str],
    streams: dict[str, Keyed],
    rng: Random,
    partitions: int,
) -> dict[str, dict[int, int]]:
    """Send the families' streams in a random interleaving of random chunks; end offsets."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    counts = {topic: dict.fromkeys(range(partitions), 0) for topic in topics.values()}
    positions = dict.fromkeys(streams, 0)
    try:
        futures = []
        while any(positions[f] < len(streams[f]) for f in streams):
            family = rng.choice([f for f in streams if positions[f] < len(streams[f])])
            begin = positions[family]
            positions[family] = min(begin + rng.randint(1, 300), len(streams[family]))
            topic = topics[family]
            for partition, line in streams[family][begin : positions[family]]:
                targets = range(partitions) if partition is None else [partition]
                for target in targets:
                    futures.append(await producer.send(topic, line.encode(), partition=target))
                    counts[topic][target] += 1
            if len(futures) > 20_000:
                await asyncio.gather(*futures)
                futures = []
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return counts


async def fill_topics(
    bootstrap: str,
    topics: dict[str, str],
    folder: Path,
    rng: Random,
    partitions: int,
    *,
    scatter: frozenset[str] = frozenset(),
) -> int:
    """Create ``topics`` and send ``folder``'s sample logs to them; how many records.

    The topics (family -> name) get ``partitions`` partitions each; the lines are keyed as
    forwarders key them (:func:`keyed_streams`) and sent in a random interleaving
    (:func:`produce_interleaved`).
    """
    await create_topics(bootstrap, list(topics.values()), partitions)
    streams = keyed_streams(folder, partitions, scatter=scatter)
    ends = await produce_interleaved(bootstrap, topics, streams, rng, partitions)
    return sum(sum(counts.values()) for counts in ends.values())


async def committed(bootstrap: str, group: str, topic: str, partitions: int) -> dict[int, int]:
    """The group's committed offset per partition (0 when none)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        found = {}
        for partition in range(partitions):
            offset = await consumer.committed(TopicPartition(topic, partition))
            found[partition] = offset or 0
        return found
    finally:
        await consumer.stop()


async def _caught_up(bootstrap: str, group: str) -> bool:
    """Every alert routed to the incident topic of ``group`` is grouped, or no topic.

    The topic (``neakta.<group>.incidents``) is read whole: in each partition the last
    mark of every source slot must say idle (nothing held back any more), and the group
    ``<group>.incidents`` must have committed the partition to its end.
    """
    topic = f"neakta.{group}.incidents"
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=f"{group}.incidents")
    await consumer.start()
    try:
        if topic not in await consumer.topics():
            return True
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        ends = await consumer.end_offsets(tps)
        done = [(await consumer.committed(tp)) or 0 for tp in tps]
        if any(offset < ends[tp] for offset, tp in zip(done, tps, strict=True)):
            return False
    finally:
        await consumer.stop()
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await reader.start()
    try:
        reader.assign(tps)
        idle: dict[int, dict[int, bool]] = {tp.partition: {} for tp in tps}
        sources = 0
        for tp in tps:
            while (await reader.position(tp)) < ends[tp]:
                for record in (await reader.getmany(tp, timeout_ms=1000)).get(tp, []):
                    value = orjson.loads(record.value)
                    if "mark" in value:
                        idle[tp.partition][value["source"]] = value["idle"]
                        sources = max(sources, value["sources"])
        return all(
            all(marks.get(source, False) for source in range(sources)) for marks in idle.values()
        )
    finally:
        await reader.stop()


def member_env(
    store: str, topics: dict[str, str], *, idle_s: float, session_ms: int = 2000
) -> dict[str, str]:
    """Settings of a member: checkpoint store, topic families, a quick group, idle time.

    ``session_ms``: the group's session timeout (a killed member's partitions move on
    after it); heartbeats at a tenth of it.
    """
    return {
        "NEAKTA_KAFKA__SESSION_TIMEOUT_MS": str(session_ms),
        "NEAKTA_KAFKA__HEARTBEAT_INTERVAL_MS": str(session_ms // 10),
        "NEAKTA_KAFKA__POLL_TIMEOUT_MS": "200",
        "NEAKTA_KAFKA__FAMILIES": orjson.dumps({t: f for f, t in topics.items()}).decode(),
        "NEAKTA_CORRELATION__STORE": store,
        "NEAKTA_CORRELATION__IDLE_S": str(idle_s),
    }


def start(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    """``python -m neakta.cli ARGS`` in ``cwd``, its output appended to ``cwd/neakta.log``."""
    cwd.mkdir(parents=True, exist_ok=True)
    with (cwd / "neakta.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "neakta.cli", *args],
            cwd=cwd,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` until it holds; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def eventually(condition: Callable[[], bool], timeout: float) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds pass; whether it held.

    For a state the run reaches in its own time (windows and held incidents decided once
    the inputs go idle): the assertions after it say what differs, where it never came.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)
    return True


def documents(path: Path) -> list[dict[str, Any]]:
    """The JSON lines of a file (none if it is missing; a line cut short is skipped)."""
    if not path.exists():
        return []
    found = []
    for line in path.read_bytes().splitlines():
        try:
            found.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            continue  # the line a SIGKILL cut short
    return found


def alert_ids(alerts: list[dict[str, Any]], *, correlation: bool | None = None) -> set[str]:
    """The alerts' ids; ``correlation`` True/False: only correlation/single-event ones."""
    return {
        str(alert["_id"])
        for alert in alerts
        if correlation is None or ("correlation" in alert.get("neakta", {})) == correlation
    }


def latest_incidents(*stores: Path) -> dict[str, dict[str, Any]]:
    """Incidents by id, each in its latest version over the stores.

    The latest: most alerts, then last seen (an incident handed over with a partition is
    in two stores).
    """
    latest: dict[str, dict[str, Any]] = {}
    for store in stores:
        if not store.exists():
            continue
        with contextlib.closing(sqlite3.connect(store)) as db:
            for (text,) in db.execute("SELECT document FROM incidents"):
                incident = orjson.loads(text)["incident"]
                held = latest.get(incident["id"])
                if held is None or (held["alert_count"], held["last_seen"]) < (
                    incident["alert_count"],
                    incident["last_seen"],
                ):
                    latest[incident["id"]] = incident
    return latest


def replay(logs: Path, rules: Path, out: Path, timeout: float = 1800) -> list[dict[str, Any]]:
    """``neakta replay`` of the sample files in ``logs`` into ``out``; its alerts."""
    alerts = out / "alerts.ndjson"
    args = ["replay", str(logs), "--rules", str(rules), "--alerts", str(alerts)]
    process = start([*args, "--db", str(out / "neakta.db"), "--no-status"], {}, out)
    assert process.wait(timeout) == 0, (out / "neakta.log").read_text()
    return documents(alerts)


def _content(incident: dict[str, Any]) -> bytes:
    """An incident's content, but ``change``.

    What its last update did depends on how the alerts were released (all at once:
    ``opened``; over several batches: ``updated``).
    """
    return orjson.dumps(
        {k: v for k, v in incident.items() if k != "change"}, option=orjson.OPT_SORT_KEYS
    )


def compare(
    streamed: list[dict[str, Any]],
    stores: list[Path],
    replayed: list[dict[str, Any]],
    replay_store: Path,
) -> dict[str, tuple[int, int]]:
    """(lost, extra) of the stream against the replay: per kind of alert, and incidents.

    An incident is lost when the replay holds its id with content the stream does not
    (a different cut counts as one lost and one extra).
    """
    found: dict[str, tuple[int, int]] = {}
    for kind, correlation in (("single", False), ("correlation", True)):
        ours, theirs = (
            alert_ids(streamed, correlation=correlation),
            alert_ids(replayed, correlation=correlation),
        )
        found[kind] = (len(theirs - ours), len(ours - theirs))
    ours_i = {_content(i) for i in latest_incidents(*stores).values()}
    theirs_i = {_content(i) for i in latest_incidents(replay_store).values()}
    found["incidents"] = (len(theirs_i - ours_i), len(ours_i - theirs_i))
    return found


@dataclass
class Stream:
    """Topics filled with sample logs, and how ``neakta run`` members of one group read them.

    Parameters
    ----------
    bootstrap, topics, group, partitions
        The broker, the topic of each family, the consumer group, partitions per topic.
    total
        Records produced (what the group must commit).
    env
        Environment of every member (settings).
    rules
        The rules folder.
    root
        Working directories of the members are ``root / name``; they share the SQLite
        checkpoint store ``root / checkpoints.db``, as processes of one host do.
    """

    bootstrap: str
    topics: dict[str, str]
    group: str
    partitions: int
    total: int
    env: dict[str, str]
    rules: Path
    root: Path
    members: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def args(self, folder: Path) -> list[str]:
        """The ``neakta run`` command line of a member working in ``folder``."""
        return [
            "run",
            "--bootstrap-servers",
            self.bootstrap,
            "--group-id",
            self.group,
            "--topics",
            *self.topics.values(),
            "--rules",
            str(self.rules),
            "--alerts",
            str(folder / "alerts.ndjson"),
            "--db",
            str(folder / "neakta.db"),
            # One host: members share the SQLite store (unused with the changelog store).
            "--checkpoints",
            str(self.root / "checkpoints.db"),
            "--no-status",
        ]

    def done(self) -> int:
        """Records the group has committed."""
        return sum(
            sum(asyncio.run(committed(self.bootstrap, self.group, t, self.partitions)).values())
            for t in self.topics.values()
        )

    def grouped(self) -> bool:
        """Whether the group's incident consumers committed all of the incident topic.

        True when the topic does not exist (incidents not routed).
        """
        return asyncio.run(_caught_up(self.bootstrap, self.group))

    def launch(self, name: str, env: dict[str, str] | None = None) -> None:
        """Start member ``name`` (again, after a kill: same folder)."""
        folder = self.root / name
        self.members[name] = start(self.args(folder), {**self.env, **(env or {})}, folder)

    def folders(self) -> list[Path]:
        """The working directory of every member started."""
        return [self.root / name for name in sorted(self.members)]

    def alert_files(self) -> list[Path]:
        """The alert file of every member started."""
        return [folder / "alerts.ndjson" for folder in self.folders()]

    def stores(self) -> list[Path]:
        """The store of every member started."""
        return [folder / "neakta.db" for folder in self.folders()]

    def stop(self, name: str, *, timeout: float = 60) -> None:
        """SIGTERM member ``name`` and check that it stopped cleanly."""
        member = self.members[name]
        member.send_signal(signal.SIGTERM)
        assert member.wait(timeout) == 0, (self.root / name / "neakta.log").read_text()

    def kill(self, name: str) -> None:
        """SIGKILL member ``name``."""
        member = self.members[name]
        member.send_signal(signal.SIGKILL)
        member.wait(30)

    def report(self, lines: int = 60) -> str:
        """Each member's state (running or its exit code) and the last ``lines`` of its log."""
        parts = []
        for name, member in sorted(self.members.items()):
            code = member.poll()
            state = "running" if code is None else f"exited with {code}"
            log = self.root / name / "neakta.log"
            tail = log.read_text(errors="replace").splitlines()[-lines:] if log.exists() else []
            parts.append(f"--- member {name}: {state}; its log ends:\n" + "\n".join(tail))
        return "\n".join(parts)

    def reap(self) -> None:
        """Kill whatever member still runs (after a failure)."""
        for member in self.members.values():
            if member.poll() is None:
                member.kill()
                member.wait()


Step = tuple[float, str, str]
"""``(fraction, action, member)``: once the group committed ``fraction`` of the records,
``start``, ``kill`` (SIGKILL, then start again at once) or ``stop`` (SIGTERM) a member."""


def holds_the_replay(
    alert_files: Callable[[], list[Path]],
    replayed: list[dict[str, Any]],
    stores: Callable[[], list[Path]] | None = None,
    replay_store: Path | None = None,
) -> Callable[[], bool]:
    """Whether a stream's output holds the replay's alerts so far, and its incidents.

    ``alert_files()`` and ``stores()`` name the files as they are now (members may start
    later); without ``stores``, only the alerts are compared. For :func:`eventually`.
    """

    def holds() -> bool:
        streamed = [a for path in alert_files() for a in documents(path)]
        if alert_ids(streamed) != alert_ids(replayed):
            return False
        if stores is None or replay_store is None:
            return True
        written = stores()
        if not all(store.exists() for store in written):
            return False
        try:
            return compare(streamed, written, replayed, replay_store)["incidents"] == (0, 0)
        except sqlite3.Error:
            return False  # being written

    return holds


def play(
    stream: Stream,
    steps: list[Step],
    rng: Random,
    *,
    idle_s: float,
    patience: float,
    settled: Callable[[], bool] | None = None,
) -> None:
    """Run the members through ``steps``, to the end of the stream, and stop them.

    Each (re)start draws a batch size (``NEAKTA_KAFKA__MAX_RECORDS``, 20-400). At the end,
    once every record is committed, every input goes idle (``idle_s``) so the windows
    still open are decided, as at a replay's end; then every member still running stops.
    ``settled`` (such as :func:`holds_the_replay`) is waited for first, up to ``patience``:
    a loaded machine decides later than the idle time, and the caller's assertions say
    what differs if it never holds.
    """

    def sizes() -> dict[str, str]:
        return {"NEAKTA_KAFKA__MAX_RECORDS": str(rng.randint(20, 400))}

    stopped: set[str] = set()

    def reached(records: float) -> bool:
        # A member that exited by itself would leave the others waiting: say so at once.
        gone = [n for n, m in stream.members.items() if n not in stopped and m.poll() is not None]
        assert not gone, f"member {', '.join(gone)} exited on its own"
        return stream.done() >= records

    try:
        for fraction, action, name in steps:
            if fraction > 0:
                cut = fraction * stream.total
                wait_for(partial(reached, cut), patience, f"{fraction:.0%} committed")
            if action == "kill":
                stream.kill(name)
            if action in ("start", "kill"):
                stream.launch(name, sizes())
            elif action == "stop":
                stopped.add(name)
                stream.stop(name)
        wait_for(partial(reached, stream.total), patience, "every record committed")
        if settled is not None:
            eventually(settled, patience)
            time.sleep(idle_s)  # anything written twice shows meanwhile
        else:
            time.sleep(idle_s + 2.0)
        # Incidents routed by key are grouped once the last marks reached their partitions.
        wait_for(stream.grouped, patience, "every routed alert grouped")
        for name, member in sorted(stream.members.items()):
            if member.poll() is None:
                stream.stop(name)
    except AssertionError as error:
        # What the members were doing says why the group did not get there.
        raise AssertionError(f"{error}\n{stream.report()}") from None
    finally:
        stream.reap()
