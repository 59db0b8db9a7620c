"""``neakta run`` against a real broker: matches, dead-letter topic, committed offsets."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import polars as pl
import pytest

from ingest.sources.families import family_of_topic
from ingest.sources.parsing import parse_records
from neakta.cli import main
from neakta.rulesets import compile_correlations, compile_rulesets
from neakta.settings import DEFAULT_RULES
from respond.alerts import simple_alerts
from tests.integration.conftest import (
    Broker,
    committed,
    create_topics,
    produce,
    read_all,
    run,
    unique,
)

pytestmark = pytest.mark.integration

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "data"
ENDPOINT_LINES = (SAMPLES / "sample_endpoint.ndjson").read_text().splitlines()
FIREWALL_LINES = (SAMPLES / "sample_firewall.log").read_text().splitlines()
GARBAGE = [b"{not json", b"\xff\xfe\x00binary", b"[1, 2, 3]"]
RULES = compile_rulesets([DEFAULT_RULES])
CORRELATIONS = compile_correlations([DEFAULT_RULES], RULES["endpoint"])
# Tansu's memory store has no idempotent producers; it answers a group join after about
# half the session timeout, and evicts a killed member after it.
FAST_GROUP = {
    "NEAKTA_KAFKA__DLQ_IDEMPOTENCE": "false",
    "NEAKTA_KAFKA__SESSION_TIMEOUT_MS": "2000",
    "NEAKTA_KAFKA__HEARTBEAT_INTERVAL_MS": "200",
}


def expected_alerts(
    family: str, topic: str, lines: list[str], placed: list[tuple[int, int]]
) -> dict[str, list[tuple[int, int]]]:
    """Alert id -> (partition, offset) of each record that raises it, computed without Kafka.

    Event ids name content, so a line sent twice raises one alert id from two positions.
    """
    origins = [f"{topic}/{p}/{o}" for p, o in placed]
    records = pl.DataFrame(
        {
            "family": [family] * len(lines),
            "source": [topic] * len(lines),
            "origin": origins,
            "line": lines,
            "header_organization": [None] * len(lines),
            "source_organization": [family_of_topic(topic)[1]] * len(lines),
        },
        schema_overrides={"header_organization": pl.String, "source_organization": pl.String},
    )
    events = parse_records(records, year=2026).events[family]
    assert events.height == len(lines)
    ruleset = RULES[family]
    # Base rules of correlations that raise no alert of their own are left out.
    matches = CORRELATIONS.visible(ruleset.evaluate(events))
    alerts = simple_alerts(events, matches, ruleset).alerts
    where: dict[str, list[tuple[int, int]]] = {}
    for event, position in zip(events["event.id"].to_list(), placed, strict=True):
        where.setdefault(event, []).append(position)
    return {alert: where[event] for alert, event in alerts.select("_id", "event.id").iter_rows()}


def alert_ids_in(path: Path) -> set[str]:
    if not path.exists():
        return set()
    found = set()
    for line in path.read_bytes().splitlines():
        try:
            found.add(orjson.loads(line)["_id"])
        except orjson.JSONDecodeError:
            continue
    return found


def cli_args(broker: Broker, topics: list[str], group: str, alerts: Path, *extra: str) -> list[str]:
    return [
        "run",
        "--bootstrap-servers",
        broker.bootstrap,
        "--group-id",
        group,
        "--topics",
        *topics,
        "--rules",
        str(DEFAULT_RULES),
        "--alerts",
        str(alerts),
        "--db",
        str(alerts.with_suffix(".db")),
        "--no-status",
        *extra,
    ]


def test_run_in_process_detects_dead_letters_and_commits(
    broker: Broker,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ministry = unique("m")
    endpoint, firewall = f"logs.endpoint.{ministry}", f"logs.firewall.{ministry}"
    group = unique("g")
    run(create_topics(broker.bootstrap, [endpoint, firewall], partitions=2))
    lines = ENDPOINT_LINES[:400]
    values = [line.encode() for line in lines] + GARBAGE + [b"{" + b" " * 5000 + b"}"]
    placed = run(produce(broker.bootstrap, endpoint, values, partitions=2))
    fw_placed = run(
        produce(
            broker.bootstrap,
            firewall,
            [line.encode() for line in FIREWALL_LINES],
            partitions=2,
            headers=[("organization.id", b"mef")],
        )
    )
    expected = expected_alerts("endpoint", endpoint, lines, placed[: len(lines)])
    expected_fw = expected_alerts("firewall", firewall, FIREWALL_LINES, fw_placed)
    assert expected and expected_fw
    for name, value in FAST_GROUP.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("NEAKTA_KAFKA__MAX_RECORDS", "100")
    alerts = tmp_path / "alerts.ndjson"
    code = main(
        cli_args(
            broker,
            [endpoint, firewall],
            group,
            alerts,
            "--idle-exit",
            "1.5",
            "--max-record-bytes",
            "4096",
        )
    )
    assert code == 0
    everything = [orjson.loads(line) for line in alerts.read_bytes().splitlines()]
    # Correlation and silent-source alerts depend on how the two topics' batches
    # interleave (one watermark over both); the single-event alerts do not.
    documents = [d for d in everything if not {"correlation", "silence"} & set(d.get("neakta", {}))]
    assert {d["_id"] for d in documents} == set(expected) | set(expected_fw)
    organizations = {d["_id"]: d["organization"]["id"] for d in documents}
    assert {organizations[i] for i in expected} == {ministry}
    # The firewall records claim "mef" in their header, but their topic is the ministry's:
    # the topic wins, and every one of them is counted and reported.
    assert {organizations[i] for i in expected_fw} == {ministry}
    errors = capsys.readouterr().err
    claims = f"identity conflicts (kept the topic's ministry): {ministry} {len(FIREWALL_LINES)}"
    assert claims in errors.splitlines()
    assert f"on ministry {ministry}'s topic claimed ministry mef by header" in errors

    dead = run(read_all(broker.bootstrap, endpoint + ".dlq", expected=4))
    letters = sorted(
        (dict(r.headers)["position"].decode(), dict(r.headers)["reason"].decode(), r.value)
        for r in dead
    )
    bad = [
        (f"{endpoint}/{p}/{o}", v)
        for (p, o), v in zip(placed[len(lines) :], values[len(lines) :], strict=True)
    ]
    assert [(pos, value) for pos, _, value in letters] == sorted(bad)
    reasons = {pos: reason for pos, reason, _ in letters}
    assert reasons[bad[1][0]] == "not UTF-8 text"
    assert reasons[bad[3][0]] == "record larger than 4096 bytes (5002 bytes)"

    ends = {0: 0, 1: 0}
    for partition, offset in placed:
        ends[partition] = max(ends[partition], offset + 1)
    assert run(committed(broker.bootstrap, group, endpoint, 2)) == ends


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "neakta.cli", *args],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )


def test_sigkill_mid_stream_then_restart_processes_everything_at_least_once(
    broker: Broker, tmp_path: Path
) -> None:
    topic = f"logs.endpoint.{unique('m')}"
    group = unique("g")
    run(create_topics(broker.bootstrap, [topic], partitions=2))
    lines = ENDPOINT_LINES * 2
    placed = run(produce(broker.bootstrap, topic, [line.encode() for line in lines], partitions=2))
    expected = expected_alerts("endpoint", topic, lines, placed)
    alerts = tmp_path / "alerts.ndjson"
    env = {**FAST_GROUP, "NEAKTA_KAFKA__MAX_RECORDS": "500"}
    args = cli_args(broker, [topic], group, alerts)
    log = tmp_path / "stderr.log"
    first = _start(args, env, log)
    deadline = time.monotonic() + 15
    while not alert_ids_in(alerts) and time.monotonic() < deadline:
        time.sleep(0.005)
    first.send_signal(signal.SIGKILL)
    first.wait(5)
    written = alert_ids_in(alerts)
    offsets = run(committed(broker.bootstrap, group, topic, 2))
    assert written, "the first run wrote no alert before it was killed"
    assert sum(offsets.values()) < len(lines), "killed too late to be mid-stream"
    # No committed offset ran ahead of a written result.
    below = {i for i, places in expected.items() if any(o < offsets[p] for p, o in places)}
    assert below <= written

    second = _start([*args, "--idle-exit", "1"], env, log)
    assert second.wait(30) == 0, log.read_text()
    assert set(expected) <= alert_ids_in(alerts)
    ends = {0: 0, 1: 0}
    for partition, offset in placed:
        ends[partition] = max(ends[partition], offset + 1)
    assert run(committed(broker.bootstrap, group, topic, 2)) == ends


def test_sigterm_stops_after_committing_what_was_written(broker: Broker, tmp_path: Path) -> None:
    topic = f"logs.endpoint.{unique('m')}"
    group = unique("g")
    run(create_topics(broker.bootstrap, [topic], partitions=1))
    lines = ENDPOINT_LINES[:300]
    placed = run(produce(broker.bootstrap, topic, [line.encode() for line in lines], partitions=1))
    expected = expected_alerts("endpoint", topic, lines, placed)
    alerts = tmp_path / "alerts.ndjson"
    log = tmp_path / "stderr.log"
    process = _start(
        [*cli_args(broker, [topic], group, alerts, "--log-format", "json"), "--status"],
        FAST_GROUP,
        log,
    )
    deadline = time.monotonic() + 15
    while alert_ids_in(alerts) != set(expected) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    assert process.wait(15) == 0, log.read_text()
    err = log.read_text()
    assert "neakta: 300 records" in err
    # The status line (asked for, stderr being a file) shows the partition's lag.
    assert f"lag {topic}/0=0" in err
    assert run(committed(broker.bootstrap, group, topic, 1)) == {0: len(lines)}
