"""Correlation state across a restart of ``neakta run``: checkpointed with the offsets."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition

from detect.correlation import CheckpointError, SQLiteCheckpointStore
from ingest.sources.kafka import KafkaSource
from neakta.cli import main
from neakta.settings import DEFAULT_RULES
from tests.integration.conftest import Broker, committed, create_topics, run, unique
from tests.integration.test_kafka_run import FAST_GROUP, FIREWALL_LINES, _start, cli_args

pytestmark = pytest.mark.integration

SCANNER = "198.51.100.77"
SCAN = "Port Scan From One Source"
# The scan is lines 268-307 (40 connections to distinct ports within a minute, threshold
# 25); the first run reads up to the middle of it.
CUT = 288


async def produce_keyed(bootstrap: str, topic: str, lines: list[str], start: int) -> None:
    """The scanner's lines to partition 0, the others alternately to 0 and 1."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        futures = [
            await producer.send(
                topic, line.encode(), partition=0 if SCANNER in line else (start + n) % 2
            )
            for n, line in enumerate(lines)
        ]
        for future in futures:
            await future
    finally:
        await producer.stop()


def scan_alerts(path: Path) -> list[dict[str, object]]:
    documents = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    return [d for d in documents if d["rule"]["name"] == SCAN]


def test_a_scan_cut_by_a_restart_raises_exactly_one_alert(
    broker: Broker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert sum(SCANNER in line for line in FIREWALL_LINES[268:308]) == 40
    topic = f"logs.firewall.{unique('m')}"
    group = unique("g")
    run(create_topics(broker.bootstrap, [topic], partitions=2))
    for name, value in FAST_GROUP.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("NEAKTA_KAFKA__MAX_RECORDS", "50")
    checkpoints = tmp_path / "checkpoints.db"
    monkeypatch.setenv("NEAKTA_CORRELATION__CHECKPOINT_PATH", str(checkpoints))
    alerts = tmp_path / "alerts.ndjson"
    args = cli_args(broker, [topic], group, alerts, "--idle-exit", "1.5")

    run(produce_keyed(broker.bootstrap, topic, FIREWALL_LINES[:CUT], 0))
    assert main(args) == 0
    assert run(committed(broker.bootstrap, group, topic, 2)) == {0: 154, 1: 134}
    assert scan_alerts(alerts) == []
    store = SQLiteCheckpointStore(checkpoints)
    try:
        newest = {slot: store.checkpoints(group, slot)[0].offsets for slot in ("0", "1")}
    finally:
        store.close()
    assert newest == {"0": {(topic, 0): 154}, "1": {(topic, 1): 134}}

    run(produce_keyed(broker.bootstrap, topic, FIREWALL_LINES[CUT:], CUT))
    assert main(args) == 0
    found = scan_alerts(alerts)
    assert [d["source"]["ip"] for d in found] == [SCANNER]  # type: ignore[index]
    # The same alert (its id: rule, group, window end) as partition 0's lines read in one go.
    assert [d["_id"] for d in found] == [d["_id"] for d in replayed_scan(tmp_path)]


def test_a_scan_survives_a_rebalance_to_a_second_member(broker: Broker, tmp_path: Path) -> None:
    topic = f"logs.firewall.{unique('m')}"
    group = unique("g")
    run(create_topics(broker.bootstrap, [topic], partitions=2))
    run(produce_keyed(broker.bootstrap, topic, FIREWALL_LINES[:CUT], 0))
    env = {
        **FAST_GROUP,
        "NEAKTA_KAFKA__MAX_RECORDS": "50",
        "NEAKTA_CORRELATION__CHECKPOINT_PATH": str(tmp_path / "checkpoints.db"),
    }
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    outputs = [tmp_path / "a.ndjson", tmp_path / "b.ndjson"]
    members = [_start(cli_args(broker, [topic], group, outputs[0]), env, logs[0])]
    try:
        wait_for(lambda: run(committed(broker.bootstrap, group, topic, 2)) == {0: 154, 1: 134})
        members.append(_start(cli_args(broker, [topic], group, outputs[1]), env, logs[1]))
        # The second member holds a partition: the group was rebalanced before the rest.
        wait_for(lambda: holds_partition(logs[1]))
        run(produce_keyed(broker.bootstrap, topic, FIREWALL_LINES[CUT:], CUT))
        ends = {0: 0, 1: 0}
        for n, line in enumerate(FIREWALL_LINES):
            ends[0 if SCANNER in line else n % 2] += 1
        wait_for(lambda: run(committed(broker.bootstrap, group, topic, 2)) == ends)
        for member in members:
            member.send_signal(signal.SIGTERM)
        for member, log in zip(members, logs, strict=True):
            assert member.wait(15) == 0, log.read_text()
    finally:
        for member in members:
            if member.poll() is None:
                member.kill()
                member.wait()
    found = [alert for output in outputs for alert in scan_alerts(output)]
    assert [d["_id"] for d in found] == [d["_id"] for d in replayed_scan(tmp_path)]


def holds_partition(log: Path) -> bool:
    lines = log.read_text().splitlines()
    return any("partitions assigned" in line and "partition=" in line for line in lines)


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def replayed_scan(tmp_path: Path) -> list[dict[str, object]]:
    lines = [line for n, line in enumerate(FIREWALL_LINES) if SCANNER in line or n % 2 == 0]
    log = tmp_path / "partition0.log"
    log.write_text("\n".join(lines) + "\n")
    alerts = tmp_path / "replayed.ndjson"
    args = ["replay", str(log), "--family", "firewall", "--rules", str(DEFAULT_RULES)]
    args += ["--alerts", str(alerts), "--db", str(tmp_path / "replayed.db"), "--no-status"]
    assert main(args) == 0
    return scan_alerts(alerts)


async def fail_assignment(bootstrap: str, topic: str) -> None:
    async def on_assigned(committed: dict[TopicPartition, int | None]) -> dict[Any, int]:
        assert committed == {TopicPartition(topic, 0): None, TopicPartition(topic, 1): None}
        raise CheckpointError("checkpoint store locked")

    source = KafkaSource(
        bootstrap_servers=bootstrap,
        topics=[topic],
        group_id=unique("g"),
        on_assigned=on_assigned,
        session_timeout_ms=2000,
        heartbeat_interval_ms=200,
    )
    try:
        with pytest.raises(CheckpointError, match="checkpoint store locked"):
            async for _batch in source.batches():
                pytest.fail("a batch was read without its state in place")
    finally:
        await source.close()


def test_a_failed_restore_stops_the_source_before_any_batch(broker: Broker) -> None:
    topic = f"logs.firewall.{unique('m')}"
    run(create_topics(broker.bootstrap, [topic], partitions=2))
    run(produce_keyed(broker.bootstrap, topic, FIREWALL_LINES[:3], 0))
    run(fail_assignment(broker.bootstrap, topic))
