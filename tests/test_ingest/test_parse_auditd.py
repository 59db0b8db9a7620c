"""Linux auditd: the records of one execve become one ECS process-start event."""

import json
from datetime import UTC, datetime

import polars as pl

from ingest.parsers import parse_auditd, parse_endpoint
from ingest.schema import ENDPOINT_SCHEMA

SYSCALL = (
    "type=SYSCALL msg=audit(1610903553.730:591): arch=c000003e syscall=59 success=yes exit=0 "
    "a0=55d1 a1=55d2 a2=55d3 a3=0 items=2 ppid=1234 pid=1235 auid=1000 uid=0 gid=0 euid=0 "
    'tty=pts0 ses=3 comm="curl" exe="/usr/bin/curl" key="exec"'
)
EXECVE = 'type=EXECVE msg=audit(1610903553.730:591): argc=3 a0="curl" a1="-o" a2="/tmp/x"'
CWD = 'type=CWD msg=audit(1610903553.730:591): cwd="/home/alice"'
COLUMNS = [
    "@timestamp",
    "host.name",
    "event.code",
    "event.category",
    "event.type",
    "event.module",
    "event.dataset",
    "event.outcome",
    "process.executable",
    "process.name",
    "process.command_line",
    "process.pid",
    "process.parent.pid",
    "process.working_directory",
    "user.id",
    "user.name",
]


def _parse(*lines: str) -> tuple[list[dict[str, object]], list[tuple[int, str]]]:
    result = parse_auditd(pl.Series(lines, dtype=pl.String))
    assert result.events.schema == pl.Schema(ENDPOINT_SCHEMA)
    return result.events.select(COLUMNS).to_dicts(), result.dead.select("position", "reason").rows()


def test_three_records_of_one_execve_make_one_event() -> None:
    events, dead = _parse(SYSCALL, EXECVE, CWD)

    assert dead == []
    assert events == [
        {
            "@timestamp": datetime(2021, 1, 17, 17, 12, 33, 730000, tzinfo=UTC),
            "host.name": None,
            "event.code": "59",
            "event.category": "process",
            "event.type": "start",
            "event.module": "auditd",
            "event.dataset": "auditd.exec",
            "event.outcome": "success",
            "process.executable": "/usr/bin/curl",
            "process.name": "curl",
            "process.command_line": "curl -o /tmp/x",
            "process.pid": 1235,
            "process.parent.pid": 1234,
            "process.working_directory": "/home/alice",
            "user.id": "0",
            "user.name": None,
        }
    ]


def test_event_original_holds_the_records_joined_in_input_order() -> None:
    result = parse_auditd(pl.Series([CWD, SYSCALL, EXECVE]))

    assert result.events.get_column("event.original").to_list() == [f"{CWD}\n{SYSCALL}\n{EXECVE}"]


def test_hex_arguments_node_prefix_and_enriched_user_name() -> None:
    syscall = (
        "node=web1 type=SYSCALL msg=audit(1700000000.5:12): syscall=59 success=no ppid=1 "
        'pid=2 uid=1000 comm="sh" exe=2F62696E2F6D7920736820\x1dUID="alice" AUID="alice"'
    )
    # "/tmp/a b" and an argument split into two hex chunks: "hello world".
    execve = (
        'node=web1 type=EXECVE msg=audit(1700000000.5:12): argc=3 a0="sh" a1=2F746D702F612062 '
        "a2_len=22 a2[0]=68656C6C6F20 a2[1]=776F726C64"
    )
    events, dead = _parse(execve, syscall)

    assert dead == []
    assert [
        (e["host.name"], e["process.executable"], e["process.name"], e["user.name"]) for e in events
    ] == [("web1", "/bin/my sh ", "my sh ", "alice")]
    assert [e["process.command_line"] for e in events] == ["sh /tmp/a b hello world"]
    assert [(e["@timestamp"], e["event.outcome"]) for e in events] == [
        (datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=UTC), "failure")
    ]


def test_hex_that_is_not_utf8_stays_hex() -> None:
    execve = 'type=EXECVE msg=audit(1.0:1): argc=2 a0="cat" a1=FFFE'
    syscall = 'type=SYSCALL msg=audit(1.0:1): syscall=59 pid=5 exe="/bin/cat"'

    events, _ = _parse(syscall, execve)

    assert [e["process.command_line"] for e in events] == ["cat FFFE"]


def test_syslog_prefixed_records_are_parsed() -> None:
    prefix = "Jan 17 17:12:33 web1 audispd: "
    events, dead = _parse(prefix + SYSCALL, prefix + EXECVE)

    assert dead == []
    assert [e["process.command_line"] for e in events] == ["curl -o /tmp/x"]


def test_broken_unused_and_incomplete_records_are_dead_letters_with_positions() -> None:
    lonely = 'type=EXECVE msg=audit(1610903554.000:600): argc=1 a0="ls"'
    login = "type=USER_LOGIN msg=audit(1610903553.731:592): pid=1 uid=0"
    events, dead = _parse(SYSCALL, "type=SYSCALL msg=audit(oops", login, EXECVE, lonely, "")

    assert [e["process.command_line"] for e in events] == ["curl -o /tmp/x"]
    assert dead == [
        (1, "not an auditd record"),
        (2, "auditd record type USER_LOGIN not used"),
        (4, "auditd event without both SYSCALL and EXECVE records in the batch"),
        (5, "empty line"),
    ]


def test_records_of_different_hosts_with_the_same_id_are_different_events() -> None:
    events, dead = _parse(
        f"node=a {SYSCALL}", f"node=b {SYSCALL}", f"node=b {EXECVE}", f"node=a {EXECVE}"
    )

    assert dead == []
    assert [e["host.name"] for e in events] == ["a", "b"]


def test_endpoint_batch_mixing_json_and_auditd_keeps_input_positions() -> None:
    sysmon = json.dumps(
        {
            "EventID": 1,
            "Channel": "Microsoft-Windows-Sysmon/Operational",
            "Image": "C:\\Windows\\System32\\cmd.exe",
        }
    )
    lines = [SYSCALL, "{broken", sysmon, "type=AVC msg=audit(1.0:9): denied", EXECVE, "junk"]

    result = parse_endpoint(pl.Series(lines))

    assert result.events.select("event.dataset", "process.name").rows() == [
        ("auditd.exec", "curl"),
        ("endpoint.sysmon", "cmd.exe"),
    ]
    assert result.dead.select("position", "reason").rows() == [
        (1, "invalid JSON"),
        (3, "auditd record type AVC not used"),
        (5, "invalid JSON"),
    ]


def test_a_record_holding_a_line_break_is_a_dead_letter() -> None:
    events, dead = _parse(SYSCALL, EXECVE.replace(" a1=", "\na1="))

    assert events == []
    assert dead == [
        (0, "auditd event without both SYSCALL and EXECVE records in the batch"),
        (1, "auditd record with a line break"),
    ]
