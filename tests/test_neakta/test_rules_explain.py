"""``neakta rules explain``: every selection and condition node of a rule on one event."""

from __future__ import annotations

import textwrap
from pathlib import Path

import orjson
import pytest

from neakta.cli import main

RULE = textwrap.dedent(
    r"""
    title: Discovery From A Web Server
    logsource: {category: process_creation, product: windows}
    detection:
      selection_parent:
        ParentImage|endswith: '\w3wp.exe'
      selection_img:
        Image|endswith: ['\whoami.exe', '\net.exe']
      selection_cmd:
        CommandLine|contains: whoami
      filter:
        User: SYSTEM
      condition: selection_parent and 1 of selection_* and not filter
    level: high
    """
)
EVENTS = [
    {"EventID": 1, "ParentImage": r"C:\w3wp.exe", "Image": r"C:\whoami.exe"},
    {"EventID": 1, "Image": r"C:\cmd.exe", "CommandLine": "cmd /c dir", "User": "SYSTEM"},
]


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    rule = tmp_path / "rule.yml"
    rule.write_text(RULE)
    events = tmp_path / "events.ndjson"
    events.write_bytes(b"\n".join(orjson.dumps(e) for e in EVENTS) + b"\n{broken\n")
    return rule, events


def _explain(files: tuple[Path, Path], line: int, *extra: str) -> None:
    rule, events = files
    argv = ["rules", "explain", str(rule), "--events", str(events), "--line", str(line)]
    assert main([*argv, *extra]) == 0


def test_a_match_names_the_selections_that_fired(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _explain(files, 0, "--pipeline", "raw")
    assert capsys.readouterr().out.splitlines() == [
        f"rule: Discovery From A Web Server ({files[0]}:2)",
        "pipeline: raw",
        "fields mapped: none",
        "fast pattern: one of ParentImage ~ '\\w3wp.exe'",
        "selections:",
        "  selection_parent: true",
        "    ParentImage suffix '\\w3wp.exe': true",
        "  selection_img: true",
        "    or: true",
        "      Image suffix '\\whoami.exe': true",
        "      Image suffix '\\net.exe': false",
        "  selection_cmd: null",
        "    CommandLine contains 'whoami': null (missing: CommandLine)",
        "  filter: null",
        "    User eq 'SYSTEM': null (missing: User)",
        "  logsource routing: true",
        "    and: true",
        "      EventID = 1: true",
        "      or: true",
        "        Channel eq 'Microsoft-Windows-Sysmon/Operational': null (missing: Channel)",
        "        Channel is null: true",
        "condition: logsource routing and (selection_parent and 1 of selection_* and not filter)",
        "  and: true",
        "    logsource routing: true",
        "    and: true",
        "      selection_parent: true",
        "      1 of selection_*: true",
        "        selection_parent: true",
        "        selection_img: true",
        "        selection_cmd: null",
        "      not: true",
        "        filter: null",
        "result: match (fired: selection_parent, selection_img)",
    ]


def test_a_miss_shows_which_node_failed_and_the_mapped_fields(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ecs = tmp_path / "ecs.ndjson"
    event = {"event.code": "1", "process.executable": r"C:\whoami.exe", "user.name": "SYSTEM"}
    ecs.write_bytes(orjson.dumps(event) + b"\n")
    _explain((files[0], ecs), 0, "--pipeline", "ecs")
    out = capsys.readouterr().out.splitlines()
    assert out[2:9] == [
        "fields mapped:",
        "  Channel -> winlog.channel",
        "  CommandLine -> process.command_line",
        "  EventID -> event.code",
        "  Image -> process.executable",
        "  ParentImage -> process.parent.executable",
        "  User -> user.domain, user.name",
    ]
    assert "  filter: true" in out
    assert "      user.name eq 'SYSTEM': true" in out
    assert "  selection_parent: null" in out
    assert out[-1] == "result: no match"


def test_an_unknown_line_is_a_clear_error(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    rule, events = files
    argv = ["rules", "explain", str(rule), "--events", str(events)]
    assert main([*argv, "--line", "2"]) == 2
    assert f"{events}: line 2 is no event: invalid JSON" in capsys.readouterr().err
    assert main([*argv, "--line", "9"]) == 2
    assert f"{events}: no event at line 9 (lines count from 0)" in capsys.readouterr().err
