"""Condition forms, filters, logsource routing and per-rule rejection."""

from __future__ import annotations

import textwrap

import polars as pl

from detect import CompiledRuleSet


def rules(*texts: str, pipeline: str = "none") -> CompiledRuleSet:
    return CompiledRuleSet.from_yaml(*(textwrap.dedent(t) for t in texts), pipeline=pipeline)


FRAME = pl.DataFrame(
    {
        "Image": [r"C:\a\cmd.exe", r"C:\a\powershell.exe", r"C:\a\net.exe", r"C:\a\cmd.exe"],
        "CommandLine": ["cmd /c dir", "powershell -enc AA", "net user x /add", "cmd /c whoami"],
        "User": ["alice", "bob", "SYSTEM", "SYSTEM"],
    }
)

BASE = """
title: {title}
id: {uid}
logsource: {{category: process_creation, product: windows}}
detection:
  selection_cmd:
    Image|endswith: '\\cmd.exe'
  selection_ps:
    Image|endswith: '\\powershell.exe'
  filter_system:
    User: SYSTEM
  condition: {condition}
level: medium
"""


def rows_for(condition: str) -> list[int]:
    text = BASE.format(title="c", uid="6f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0", condition=condition)
    ruleset = rules(text)
    assert not ruleset.rejected, [str(p) for p in ruleset.rejected]
    return ruleset.evaluate(FRAME)["row"].to_list()


def test_condition_forms() -> None:
    assert rows_for("selection_cmd") == [0, 3]
    assert rows_for("selection_cmd and not filter_system") == [0]
    assert rows_for("1 of selection_*") == [0, 1, 3]
    assert rows_for("all of selection_*") == []
    assert rows_for("1 of them") == [0, 1, 2, 3]
    assert rows_for("all of them") == []
    assert rows_for("not 1 of selection_*") == [2]
    assert rows_for("(selection_cmd or selection_ps) and not filter_system") == [0, 1]
    assert rows_for("1 of selection_* and not 1 of filter_*") == [0, 1]


def test_sigma_filter_rules_exclude_matches_of_the_rules_they_name() -> None:
    base = BASE.format(
        title="cmd", uid="6f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0", condition="selection_cmd"
    )
    sigma_filter = """
    title: Ignore SYSTEM
    logsource: {category: process_creation, product: windows}
    filter:
      rules:
        - 6f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0
      selection:
        User: SYSTEM
      condition: not selection
    """
    ruleset = rules(base + "---\n" + textwrap.dedent(sigma_filter))
    assert not ruleset.rejected, [str(p) for p in ruleset.rejected]
    assert ruleset.evaluate(FRAME)["row"].to_list() == [0]


def test_matches_name_the_rule_and_level() -> None:
    text = BASE.format(
        title="Cmd", uid="6f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0", condition="selection_cmd"
    )
    matches = rules(text).evaluate(FRAME)
    assert matches.rows() == [
        (0, 0, "6f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0", "Cmd", "medium"),
        (3, 0, "6f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0", "Cmd", "medium"),
    ]


def test_a_broken_rule_is_rejected_alone() -> None:
    good = BASE.format(
        title="good", uid="6f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0", condition="selection_cmd"
    )
    broken = BASE.format(
        title="broken", uid="7f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0", condition="selection_nope"
    )
    ruleset = rules(good, broken)
    assert [r.title for r in ruleset.rules] == ["good"]
    [problem] = ruleset.rejected
    assert problem.title == "broken"
    assert "selection_nope" in problem.detail
    assert ruleset.evaluate(FRAME)["row"].to_list() == [0, 3]


def test_raw_pipeline_routes_rules_by_sysmon_event_id() -> None:
    process = """
    title: Whoami
    id: 1a2b3c4d-0000-4000-8000-000000000001
    logsource: {category: process_creation, product: windows}
    detection:
      sel:
        CommandLine|contains: whoami
      condition: sel
    """
    registry = """
    title: Run key
    id: 1a2b3c4d-0000-4000-8000-000000000002
    logsource: {category: registry_set, product: windows}
    detection:
      sel:
        TargetObject|contains: '\\CurrentVersion\\Run'
      condition: sel
    """
    events = pl.DataFrame(
        {
            "EventID": [1, 13, 1, 1],
            "Channel": [
                "Microsoft-Windows-Sysmon/Operational",
                "Microsoft-Windows-Sysmon/Operational",
                "Security",
                None,
            ],
            "CommandLine": ["whoami /all", "whoami", "whoami", "whoami"],
            "TargetObject": [
                r"HKLM\Software\Microsoft\Windows\CurrentVersion\Run\x",
                r"HKLM\Software\Microsoft\Windows\CurrentVersion\Run\x",
                None,
                None,
            ],
        }
    )
    matches = rules(process, registry, pipeline="raw").evaluate(events)
    assert matches.select("row", "rule_title").rows() == [
        (0, "Whoami"),
        (1, "Run key"),
        (3, "Whoami"),
    ]


def test_ecs_pipeline_maps_fields_and_routes_by_dataset() -> None:
    web = """
    title: Path traversal
    id: 1a2b3c4d-0000-4000-8000-000000000003
    logsource: {category: webserver}
    detection:
      sel:
        cs-uri-query|contains: '../'
      condition: sel
    """
    events = pl.DataFrame(
        {
            "event.dataset": ["web.access", "firewall.fortigate", "web.iis"],
            "url.query": ["file=../../etc/passwd", "file=../x", "q=1"],
        }
    )
    matches = rules(web, pipeline="ecs").evaluate(events)
    assert matches["row"].to_list() == [0]


def test_empty_batch_and_no_rules() -> None:
    text = BASE.format(
        title="c", uid="6f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0", condition="selection_cmd"
    )
    assert rules(text).evaluate(FRAME.clear()).height == 0
    assert rules().evaluate(FRAME).height == 0
