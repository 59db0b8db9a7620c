"""``neakta replay`` / ``neakta run`` in file mode: alerts, dead letters, summary, status."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

import orjson
import polars as pl
import pytest

from neakta.cli import main
from neakta.settings import DEFAULT_RULES
from neakta.status import RunStats, StatusLine
from respond.ndjson import NdjsonAlertWriter, read_alert_ids
from respond.sinks import SinkBatch
from tests.rules_text import WHOAMI_FROM_WEB_SERVER

RULE = WHOAMI_FROM_WEB_SERVER
ATTACK = (
    '{"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "web1", '
    '"UtcTime": "2024-01-02 03:04:05.678", "Image": "C:\\\\Windows\\\\System32\\\\whoami.exe", '
    '"ParentImage": "C:\\\\Windows\\\\System32\\\\inetsrv\\\\w3wp.exe"}'
)


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    path = tmp_path / "rules" / "whoami.yml"
    path.parent.mkdir()
    path.write_text(RULE)
    return path.parent


def replay(
    tmp_path: Path, rules: Path, *files: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, list[dict[str, object]], str]:
    alerts = tmp_path / "alerts.ndjson"
    code = main(
        [
            "replay",
            *map(str, files),
            "--rules",
            str(rules),
            "--alerts",
            str(alerts),
            "--dead-letters",
            str(tmp_path / "dead.ndjson"),
            "--db",
            str(tmp_path / "neakta.db"),
            "--no-status",
        ]
    )
    documents = (
        [orjson.loads(line) for line in alerts.read_bytes().splitlines()] if alerts.exists() else []
    )
    return code, documents, capsys.readouterr().err


def test_replay_writes_alerts_and_dead_letters_and_a_summary(
    tmp_path: Path, rules: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "web1-sysmon.ndjson"
    events.write_text(f"{ATTACK}\nnot json\n{ATTACK.replace('whoami', 'notepad')}\n")
    code, documents, err = replay(tmp_path, rules, events, capsys=capsys)
    assert code == 0
    assert [(d["rule"]["name"], d["host"]["name"], d["event"]["severity"]) for d in documents] == [  # type: ignore[index]
        ("Whoami From A Web Server", "web1", 73)
    ]
    dead = [orjson.loads(line) for line in (tmp_path / "dead.ndjson").read_bytes().splitlines()]
    assert dead == [
        {
            "source": str(events),
            "origin": f"{events}:2",
            "reason": "invalid JSON",
            "raw": "not json",
        }
    ]
    assert "neakta: 3 records in 1 batches" in err
    assert "dead letters: 1 (invalid JSON 1)" in err


def test_a_second_replay_finds_its_alerts_already_written(
    tmp_path: Path, rules: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "sysmon.ndjson"
    events.write_text(ATTACK + "\n")
    _, first, _ = replay(tmp_path, rules, events, capsys=capsys)
    code, second, err = replay(tmp_path, rules, events, capsys=capsys)
    assert code == 0
    assert second == first
    assert "alerts: 1 (0 written, 1 already held)" in err


def test_replay_keeps_incidents_in_the_store_and_a_replay_adds_none(
    tmp_path: Path, rules: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "sysmon.ndjson"
    events.write_text(ATTACK + "\n")
    replay(tmp_path, rules, events, capsys=capsys)
    replay(tmp_path, rules, events, capsys=capsys)
    assert main(["incidents", "list", "--db", str(tmp_path / "neakta.db"), "--json"]) == 0
    incidents = orjson.loads(capsys.readouterr().out)
    assert [(i["title"], i["alert_count"], i["state"]) for i in incidents] == [
        ("Whoami From A Web Server on web1", 1, "open")
    ]


def test_run_without_kafka_or_inputs_says_what_is_missing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NEAKTA_KAFKA__BOOTSTRAP_SERVERS", raising=False)
    assert main(["run", "--no-status"]) == 2
    assert "nothing to read" in capsys.readouterr().err


def test_status_line_is_written_at_most_once_per_interval() -> None:
    now = [0.0]
    stream = io.StringIO()
    status = StatusLine(stream, enabled=True, interval=1.0, clock=lambda: now[0])
    stats = RunStats(records=10, started=0.0, dead=Counter({"empty line": 1}))
    for moment in (0.5, 0.9, 1.6, 2.0, 2.7):
        now[0] = moment
        status.update(stats, {})
    assert stream.getvalue().splitlines() == [
        "records 10 (20/s)  events 0  matches 0  dead 1 (empty line 1)",
        "records 10 (6/s)  events 0  matches 0  dead 1 (empty line 1)",
        "records 10 (4/s)  events 0  matches 0  dead 1 (empty line 1)",
    ]


def test_status_line_stays_quiet_when_stderr_is_not_a_terminal() -> None:
    stream = io.StringIO()
    StatusLine(stream).update(RunStats(), {})
    assert stream.getvalue() == ""


async def test_alert_file_skips_a_line_cut_short_by_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "alerts.ndjson"
    path.write_text('{"_id": "a1", "rule": {"id": "r"}}\n{"_id": "a2", "ru')
    assert read_alert_ids(path) == {"a1"}
    writer = NdjsonAlertWriter(path)
    delivery = await writer.write(
        SinkBatch(alerts=pl.DataFrame({"_id": ["a1", "a2"], "x": [1, 2]}))
    )
    await writer.close()
    assert (delivery.written, delivery.duplicates) == (1, 1)
    assert path.read_text().splitlines()[-1] == '{"_id":"a2","x":2}'


def test_events_too_late_for_the_correlation_windows_are_counted_in_the_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sample = (Path(__file__).parents[2] / "samples" / "data" / "sample_firewall.log").read_text()
    line = next(x for x in sample.splitlines() if x.startswith("<189>date=2026-11-20"))
    # The same connection 19 days earlier: far behind the 7-day lateness of a replay.
    stamp = line.split("eventtime=")[1].split(" ")[0]
    earlier = line.replace("date=2026-11-20", "date=2026-11-01").replace(
        f"eventtime={stamp}", f"eventtime={int(stamp) - 19 * 86_400 * 10**9}"
    )
    firewall = tmp_path / "firewall.log"
    firewall.write_text(f"{line}\n{earlier}\n")
    code, _, err = replay(tmp_path, DEFAULT_RULES, firewall, capsys=capsys)
    assert code == 0
    assert "not counted by correlation rules: late" in err
