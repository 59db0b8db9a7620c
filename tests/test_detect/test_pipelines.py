"""The ecs pipeline maps Sigma fields onto the columns ingest's parsers really write."""

from __future__ import annotations

import json

import polars as pl
import pytest

from detect import CompiledRuleSet, parse_rules
from detect.pipelines import (
    ECS_FIREWALL_FIELDS,
    ECS_LINUX_FIELDS,
    ECS_WEB_FIELDS,
    ECS_WINDOWS_FIELDS,
)
from ingest.parsers import parse_endpoint, parse_firewall, parse_web
from ingest.schema import ENDPOINT_SCHEMA, FIREWALL_SCHEMA, WEB_SCHEMA

SYSMON = "Microsoft-Windows-Sysmon/Operational"


def _targets(mapping: dict[str | None, str | list[str]]) -> set[str]:
    return {
        t for target in mapping.values() for t in ([target] if isinstance(target, str) else target)
    }


def _rule(logsource: str, detection: str, title: str = "t") -> str:
    return f"title: {title}\nlogsource:\n{logsource}\ndetection:\n{detection}\n"


def _rows(rule_text: str, events: pl.DataFrame) -> list[int]:
    ruleset = CompiledRuleSet.compile(parse_rules(rule_text).rules, pipeline="ecs")
    assert ruleset.rejected == ()
    return ruleset.evaluate(events)["row"].to_list()


def _sysmon(event_id: int, **data: object) -> str:
    return json.dumps({"EventID": event_id, "Channel": SYSMON, "Computer": "ws01", **data})


@pytest.mark.parametrize(
    ("mapping", "schema"),
    [
        (ECS_WINDOWS_FIELDS, ENDPOINT_SCHEMA),
        (ECS_WEB_FIELDS, WEB_SCHEMA),
        (ECS_FIREWALL_FIELDS, FIREWALL_SCHEMA),
    ],
    ids=["windows", "webserver", "firewall"],
)
def test_every_mapped_column_is_one_the_parsers_write(
    mapping: dict[str | None, str | list[str]], schema: dict[str, pl.DataType]
) -> None:
    assert _targets(mapping) - set(schema) == set()


def test_every_kept_event_data_field_is_reachable_by_its_sysmon_name() -> None:
    kept = {c for c in ENDPOINT_SCHEMA if c.startswith("winlog.event_data.")}

    assert {ECS_WINDOWS_FIELDS[c.removeprefix("winlog.event_data.")] for c in kept} == kept


def test_hash_rule_matches_a_parsed_sysmon_event() -> None:
    events = parse_endpoint(
        pl.Series(
            [
                _sysmon(1, Image="C:\\x\\a.exe", Hashes="MD5=AB12,SHA256=CD34EF,IMPHASH=00"),
                _sysmon(1, Image="C:\\x\\b.exe", Hashes="MD5=FFFF,SHA256=0000"),
            ]
        )
    ).events
    rule = _rule(
        "    category: process_creation\n    product: windows",
        "    selection:\n        Hashes|contains: 'SHA256=CD34EF'\n    condition: selection",
    )

    assert _rows(rule, events) == [0]


def test_registry_details_rule_matches_a_parsed_registry_event() -> None:
    run = r"HKU\S-1-5-21-1\Software\Microsoft\Windows\CurrentVersion\Run\upd"
    events = parse_endpoint(
        pl.Series(
            [
                _sysmon(13, TargetObject=run, Details="C:\\Users\\Public\\upd.exe"),
                _sysmon(13, TargetObject=run, Details="C:\\Program Files\\upd.exe"),
            ]
        )
    ).events
    rule = _rule(
        "    category: registry_set\n    product: windows",
        "    selection:\n        TargetObject|contains: '\\CurrentVersion\\Run\\'\n"
        "        Details|contains: '\\Users\\Public\\'\n    condition: selection",
    )

    assert _rows(rule, events) == [0]


def test_user_filter_on_the_domain_part_works_on_split_ecs_users() -> None:
    events = parse_endpoint(
        pl.Series(
            [
                _sysmon(1, Image="C:\\w\\schtasks.exe", User="NT AUTHORITY\\SYSTEM"),
                _sysmon(1, Image="C:\\w\\schtasks.exe", User="MEF\\sokha.chan"),
            ]
        )
    ).events
    rule = _rule(
        "    category: process_creation\n    product: windows",
        "    selection:\n        Image|endswith: '\\schtasks.exe'\n"
        "    filter:\n        User|contains: 'AUTHORI'\n    condition: selection and not filter",
    )

    assert _rows(rule, events) == [1]


def test_firewall_rule_reads_ports_addresses_and_the_normalised_verdict() -> None:
    fortigate = (
        "date=2026-11-20 time=15:00:00 srcip={src} srcport=5000 dstip=10.20.100.30 "
        'dstport=3389 proto=6 action="{action}" policyid=1'
    )
    events = parse_firewall(
        pl.Series(
            [
                fortigate.format(src="192.0.2.66", action="close"),
                fortigate.format(src="192.0.2.66", action="deny"),
                fortigate.format(src="10.20.11.9", action="close"),
                "<134>1 2026-11-20T15:00:00+07:00 pf filterlog 1 - - 5,,,1000,igb0,match,pass,in,4,"
                "0x0,,64,1,0,DF,6,tcp,60,192.0.2.66,10.30.0.5,5000,3389,0,S,1,,64240,,mss",
            ]
        ),
        year=2026,
    ).events
    rule = _rule(
        "    category: firewall",
        "    selection:\n        dst_port: 3389\n        outcome: success\n"
        "    filter:\n        src_ip|cidr: '10.0.0.0/8'\n    condition: selection and not filter",
    )

    assert _rows(rule, events) == [0, 3]


def test_webserver_rule_reads_nginx_and_iis_lines_alike() -> None:
    events = parse_web(
        pl.Series(
            [
                '1.2.3.4 - - [20/Nov/2026:15:00:00 +0700] "GET /a?id=1%27--%20 HTTP/1.1" 200 5 "-" '
                '"sqlmap/1.8"',
                '1.2.3.4 - - [20/Nov/2026:15:00:00 +0700] "GET /a?id=1 HTTP/1.1" 200 5 "-" "curl"',
                "#Fields: date time c-ip cs-method cs-uri-stem cs-uri-query sc-status "
                "cs(User-Agent)",
                "2026-11-20 08:00:00 1.2.3.4 GET /a id=1%27-- 500 sqlmap/1.8",
            ]
        ),
        year=2026,
    ).events
    rule = _rule(
        "    category: webserver",
        "    selection:\n        cs-uri-query|contains: '%27--'\n        cs-method: GET\n"
        "        cs-uri-stem: '/a'\n        cs-user-agent|startswith: 'sqlmap'\n"
        "    condition: selection",
    )

    assert _rows(rule, events) == [0, 2]


def test_webserver_rule_does_not_see_firewall_or_endpoint_events() -> None:
    firewall = parse_firewall(
        pl.Series(["date=2026-11-20 time=15:00:00 srcip=1.2.3.4 dstip=10.0.0.1 dstport=80"]),
        year=2026,
    ).events
    rule = _rule(
        "    category: webserver",
        "    selection:\n        c-ip: '1.2.3.4'\n    condition: selection",
    )

    assert _rows(rule, firewall) == []


UNROUTED_RULES = """
title: Zeek RDP From The Internet
id: 9b1c7a52-3e0d-4f6b-8a2e-5d4c3b2a1f00
logsource: {product: zeek, service: rdp}
detection:
  selection: {id.resp_p: 3389}
  filter: {id.orig_h|cidr: 10.0.0.0/8}
  condition: selection and not filter
level: high
---
title: Framework User Agent In Proxy Logs
id: 1e2d3c4b-5a69-4788-9a0b-c1d2e3f4a5b6
logsource: {category: proxy}
detection:
  selection: {c-useragent: 'Mozilla/4.0 (compatible; Metasploit RSPEC)'}
  condition: selection
level: high
"""


def test_the_ecs_pipeline_rejects_rules_for_log_sources_no_parser_produces() -> None:
    ruleset = CompiledRuleSet.from_yaml(*UNROUTED_RULES.split("---"), pipeline="ecs")
    assert ruleset.rules == ()
    assert [(p.title, p.reason) for p in ruleset.rejected] == [
        ("Zeek RDP From The Internet", "logsource not routed"),
        ("Framework User Agent In Proxy Logs", "logsource not routed"),
    ]
    # Under the raw pipeline, events carry the rule's own names: nothing to route.
    assert len(CompiledRuleSet.from_yaml(*UNROUTED_RULES.split("---"), pipeline="raw").rules) == 2


AUDITD_EXEC = (
    "node=web1 type=SYSCALL msg=audit(1610903553.730:591): syscall=59 success=yes ppid=1 "
    'pid=1235 uid=0 comm="curl" exe="/usr/bin/curl"\x1dUID="root"',
    'node=web1 type=EXECVE msg=audit(1610903553.730:591): argc=3 a0="curl" a1="-o" a2="/tmp/x"',
    'node=web1 type=CWD msg=audit(1610903553.730:591): cwd="/root"',
    "node=web1 type=SYSCALL msg=audit(1610903554.000:592): syscall=59 success=yes ppid=1 "
    'pid=1236 uid=1000 comm="curl" exe="/usr/bin/curl"',
    'node=web1 type=EXECVE msg=audit(1610903554.000:592): argc=2 a0="curl" a1="example.org"',
)
LINUX_CURL_TO_TMP = _rule(
    "    category: process_creation\n    product: linux",
    "    selection:\n        Image|endswith: '/curl'\n        CommandLine|contains: ' /tmp/'\n"
    "        User: root\n        CurrentDirectory: /root\n    condition: selection",
)


def test_every_linux_mapped_column_is_one_the_parsers_write() -> None:
    assert _targets(ECS_LINUX_FIELDS) - set(ENDPOINT_SCHEMA) == set()


def test_linux_process_creation_rule_matches_a_parsed_auditd_event() -> None:
    events = parse_endpoint(pl.Series(AUDITD_EXEC)).events

    assert _rows(LINUX_CURL_TO_TMP, events) == [0]


def test_linux_and_windows_process_creation_rules_see_only_their_own_events() -> None:
    events = parse_endpoint(
        pl.Series(
            [
                _sysmon(1, Image="C:\\x\\curl", CommandLine="curl -o /tmp/x", User="root"),
                *AUDITD_EXEC,
            ]
        )
    ).events
    windows = _rule(
        "    category: process_creation\n    product: windows",
        "    selection:\n        Image|endswith: 'curl'\n    condition: selection",
    )
    linux = _rule(
        "    category: process_creation\n    product: linux",
        "    selection:\n        Image|endswith: 'curl'\n    condition: selection",
    )

    assert events.get_column("event.module").to_list() == ["sysmon", "auditd", "auditd"]
    assert _rows(windows, events) == [0]
    assert _rows(linux, events) == [1, 2]


def test_the_ecs_pipeline_still_rejects_other_linux_log_sources() -> None:
    rule = _rule(
        "    product: linux\n    service: auth",
        "    selection:\n        - 'Failed password'\n    condition: selection",
    )
    ruleset = CompiledRuleSet.from_yaml(rule, pipeline="ecs")

    assert ruleset.rules == ()
    assert [p.reason for p in ruleset.rejected] == ["logsource not routed"]


def test_the_names_the_command_line_offers_are_the_shipped_pipelines() -> None:
    from detect.pipeline_names import DEFAULT_PIPELINE, PIPELINE_NAMES
    from detect.pipelines import PIPELINES

    assert tuple(sorted(PIPELINES)) == PIPELINE_NAMES
    assert DEFAULT_PIPELINE in PIPELINES
