"""The stream gives what a replay gives: the bundled logs through Kafka, shuffled and broken.

The bundled multi-family sample logs (FortiGate and iptables, Sysmon JSON, IIS W3C and
nginx) go to three topics of two partitions, keyed as forwarders key them, the three
topics' records interleaved at random. ``neakta run`` reads them with random batch sizes,
is killed (SIGKILL) once, restarted, and once it reads again joined by a second process
that shares no file with it: a rebalance hands partitions over, their state through the
changelog topic. The alerts must be exactly the replay's, compared by alert id: a
correlation alert's names its rule, group and window end, a single-event alert's its rule
and event, whose ``event.id`` names the line's content (ministry, dataset, raw text), never
where it was read from.

The incidents, ids included, must be the replay's too: the union of both processes'
stores, each incident in its latest version.

``NEAKTA_STREAM_SEEDS=1,2,3,...`` runs more seeds than the default two;
``NEAKTA_STREAM_DATA=folder`` reads the four sample files (same names) from another folder,
such as larger ones written by ``python -m samples``; ``NEAKTA_STREAM_RULES=a,b`` adds rule
folders to the bundled rules (SigmaHQ's process_creation rules give 174 incidents on the
bundled logs), ``NEAKTA_STREAM_IDLE_S`` the idle release (1.5 s; more for heavy rule sets).
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import orjson
import pytest

from neakta.settings import DEFAULT_RULES
from tests.integration.conftest import Broker, committed, run, unique
from tests.integration.test_kafka_run import SAMPLES as BUNDLED
from testsupport.stream import (
    alert_ids,
    documents,
    eventually,
    fill_topics,
    holds_the_replay,
    latest_incidents,
    start,
    wait_for,
)

pytestmark = pytest.mark.integration

PARTITIONS = 2
SAMPLES = Path(os.environ.get("NEAKTA_STREAM_DATA", str(BUNDLED)))
RULES = [
    str(DEFAULT_RULES),
    *(r for r in os.environ.get("NEAKTA_STREAM_RULES", "").split(",") if r),
]
SEEDS = [int(s) for s in os.environ.get("NEAKTA_STREAM_SEEDS", "11,29").split(",") if s]
ENV = {
    "NEAKTA_KAFKA__SESSION_TIMEOUT_MS": "2000",
    "NEAKTA_KAFKA__HEARTBEAT_INTERVAL_MS": "200",
    "NEAKTA_KAFKA__POLL_TIMEOUT_MS": "200",
    "NEAKTA_CORRELATION__STORE": "kafka",
    # Heavier rule sets read slower: a partition silent that long under load is released
    # as idle, and its next events come late (NEAKTA_STREAM_IDLE_S gives it more).
    "NEAKTA_CORRELATION__IDLE_S": os.environ.get("NEAKTA_STREAM_IDLE_S", "1.5"),
}


def incidents(*stores: Path) -> set[tuple[object, ...]]:
    """Incidents of the stores with their ids, each in its latest version."""
    return {
        (
            i["id"],
            i["group"],
            i["entity"],
            i["first_seen"],
            i["last_seen"],
            i["alert_count"],
            tuple(i["alert_ids"]),
            i["severity"],
        )
        for i in latest_incidents(*stores).values()
    }


def replayed(tmp_path: Path) -> list[dict[str, object]]:
    """``neakta replay`` of the same files with the same rules; its alerts."""
    alerts = tmp_path / "replay" / "alerts.ndjson"
    process = start(
        [
            "replay",
            str(SAMPLES),
            "--rules",
            *RULES,
            "--alerts",
            str(alerts),
            "--db",
            str(tmp_path / "replay" / "neakta.db"),
            "--no-status",
        ],
        {},
        tmp_path / "replay",
    )
    assert process.wait(600) == 0, (tmp_path / "replay" / "neakta.log").read_text()
    return documents(alerts)


def streamed_with_a_kill_and_a_rebalance(
    broker: Broker, tmp_path: Path, seed: int, more: dict[str, str], *, incidents_too: bool
) -> tuple[list[dict[str, object]], Path, Path]:
    """The bundled logs through two ``neakta run`` (``more`` settings), one killed once.

    Returns the alerts of both, and each one's folder. The replay runs first (see
    :func:`replayed`): the members are stopped once they hold its alerts, and its
    incidents with ``incidents_too``, or after two minutes.
    """
    replayed(tmp_path)
    rng = random.Random(seed)
    suffix = unique("s")
    topics = {family: f"{family}-{suffix}" for family in ("firewall", "endpoint", "web")}
    group = unique("g")
    total = run(fill_topics(broker.bootstrap, topics, SAMPLES, rng, PARTITIONS))
    env = {
        **ENV,
        **more,
        "NEAKTA_KAFKA__FAMILIES": orjson.dumps({t: f for f, t in topics.items()}).decode(),
    }

    def args(folder: Path) -> list[str]:
        return [
            "run",
            "--bootstrap-servers",
            broker.bootstrap,
            "--group-id",
            group,
            "--topics",
            *topics.values(),
            "--rules",
            *RULES,
            "--alerts",
            str(folder / "alerts.ndjson"),
            "--db",
            str(folder / "neakta.db"),
            "--checkpoints",
            str(folder / "checkpoints.db"),
            "--no-status",
        ]

    def done() -> int:
        return sum(
            sum(run(committed(broker.bootstrap, group, topic, PARTITIONS)).values())
            for topic in topics.values()
        )

    first, second = tmp_path / "a", tmp_path / "b"
    sizes = {"NEAKTA_KAFKA__MAX_RECORDS": str(rng.randint(20, 400))}
    members = [start(args(first), {**env, **sizes}, first)]
    try:
        cut = rng.uniform(0.2, 0.6) * total
        patience = 90 + total / 200  # seconds; larger data sets read longer
        wait_for(lambda: done() >= cut, patience, "the first member to read part of the stream")
        members[0].send_signal(signal.SIGKILL)
        members[0].wait(10)
        killed_at = done()
        for folder in (first, second):
            sizes = {"NEAKTA_KAFKA__MAX_RECORDS": str(rng.randint(20, 400))}
            members.append(start(args(folder), {**env, **sizes}, folder))
            if folder == first:
                # The restarted member reads on alone first, so that the second one takes
                # partitions over from a live process (a rebalance), not only from the store.
                wait_for(lambda: done() > killed_at, patience, "the restarted member to read")
        wait_for(lambda: done() == total, patience + 30, "every record to be committed")
        # The second member may join after the last record: its partitions' held alerts
        # and open windows are decided once it holds them and they are idle.
        wait_for(
            lambda: "partitions assigned" in (second / "neakta.log").read_text(),
            patience,
            "the second member to be assigned partitions",
        )
        # Every input idle: the windows still open and the alerts held for event time are
        # decided, as at a replay's end. A loaded machine takes longer than the idle time:
        # waited for (the assertions after say what differs, if it never comes), then a
        # little longer for anything written twice to show.
        holds = holds_the_replay(
            lambda: [first / "alerts.ndjson", second / "alerts.ndjson"],
            documents(tmp_path / "replay" / "alerts.ndjson"),
            (lambda: [first / "neakta.db", second / "neakta.db"]) if incidents_too else None,
            tmp_path / "replay" / "neakta.db",
        )
        eventually(holds, 120)
        time.sleep(float(ENV["NEAKTA_CORRELATION__IDLE_S"]))
        for member in members[1:]:
            member.send_signal(signal.SIGTERM)
        for member, folder in zip(members[1:], (first, second), strict=True):
            assert member.wait(30) == 0, (folder / "neakta.log").read_text()
    finally:
        for member in members:
            if member.poll() is None:
                member.kill()
                member.wait()
    logs = [(folder / "neakta.log").read_text() for folder in (first, second)]
    assert all("partitions assigned" in log for log in logs), logs
    # Default settings on Tansu: the dead-letter producer falls back from idempotence.
    assert all("no idempotent producer" in log for log in logs), logs
    # As in the replay, no event is late: interleaving and restarts made none late.
    assert not any("late: " in log for log in logs), logs
    streamed = documents(first / "alerts.ndjson") + documents(second / "alerts.ndjson")
    return streamed, first, second


@pytest.mark.parametrize("seed", SEEDS)
def test_kafka_with_a_kill_and_a_rebalance_gives_the_replay_alerts(
    broker: Broker, tmp_path: Path, seed: int
) -> None:
    streamed, first, second = streamed_with_a_kill_and_a_rebalance(
        broker, tmp_path, seed, {}, incidents_too=True
    )
    replay = documents(tmp_path / "replay" / "alerts.ndjson")
    assert len(alert_ids(replay, correlation=True)) >= 5
    assert alert_ids(replay) - alert_ids(replay, correlation=True)
    assert alert_ids(streamed, correlation=True) == alert_ids(replay, correlation=True)
    assert alert_ids(streamed) == alert_ids(replay)
    # Incidents too, ids included: each partition's alerts are grouped in event-time order
    # behind its watermark, its open incidents and held alerts handed over with it.
    replay_incidents = incidents(tmp_path / "replay" / "neakta.db")
    assert len(replay_incidents) >= 10
    assert incidents(first / "neakta.db", second / "neakta.db") == replay_incidents


def test_grouping_where_alerts_are_raised_the_next_batch_detected_early_gives_the_replay_alerts(
    broker: Broker, tmp_path: Path
) -> None:
    # Without incident routing each batch's successor is detected while it is delivered,
    # saved and committed: what it saves (correlation windows, incident and parser state,
    # counters) must still be its own, through the kill and the hand-over. Incidents are
    # grouped per partition here, so only the alerts are the replay's.
    more = {"NEAKTA_KAFKA__ROUTE_INCIDENTS": "false"}
    streamed, _, _ = streamed_with_a_kill_and_a_rebalance(
        broker, tmp_path, SEEDS[0], more, incidents_too=False
    )
    replay = documents(tmp_path / "replay" / "alerts.ndjson")
    assert alert_ids(streamed, correlation=True) == alert_ids(replay, correlation=True)
    assert alert_ids(streamed) == alert_ids(replay)
