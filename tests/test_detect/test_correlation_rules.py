"""The shipped correlation rules (rules/correlation/) on parsed ECS frames."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from detect import CompiledRuleSet, load_rules
from detect.correlation import CorrelationSet, Correlator
from ingest.parsers import parse_endpoint, parse_firewall, parse_web
from neakta.cli import main

RULES = Path(__file__).resolve().parents[2] / "rules" / "correlation"


@pytest.fixture(scope="module")
def compiled() -> tuple[CompiledRuleSet, CorrelationSet]:
    loaded = load_rules([RULES])
    assert not loaded.problems
    base = CompiledRuleSet.compile(loaded.rules, pipeline="ecs")
    correlations = CorrelationSet.compile(
        [*loaded.rules, *loaded.correlations], base, pipeline="ecs"
    )
    assert not base.rejected and not correlations.rejected
    return base, correlations


def fortigate(second: int, src: str, dst: str, port: int, action: str) -> str:
    minute, sec = divmod(second, 60)
    return (
        f'date=2026-03-01 time=08:{minute:02d}:{sec:02d} logid="0000000013" type="traffic" '
        f'subtype="forward" srcip={src} srcport=50000 dstip={dst} dstport={port} proto=6 '
        f'action="{action}" policyid=1 devname="FG-MEF-01"'
    )


def correlate(
    compiled: tuple[CompiledRuleSet, CorrelationSet], correlator: Correlator, events: pl.DataFrame
) -> list[tuple[str, list[str]]]:
    base, _ = compiled
    result = correlator.process(events, base.evaluate(events))
    return result.alerts.select("rule_title", "group_values").rows()


def test_firewall_brute_force_scans_and_denies_then_allow(
    compiled: tuple[CompiledRuleSet, CorrelationSet],
) -> None:
    lines = [fortigate(i * 5, "203.0.113.50", "10.1.1.10", 22, "deny") for i in range(22)]
    lines += [fortigate(115 + i, "198.51.100.7", "10.1.1.20", 1000 + i, "deny") for i in range(30)]
    lines += [fortigate(150 + i, "198.51.100.8", f"10.1.2.{i}", 445, "deny") for i in range(25)]
    lines += [fortigate(200, "203.0.113.50", "10.1.1.10", 443, "accept")]
    lines += [fortigate(900, "192.0.2.99", "10.9.9.9", 80, "accept")]  # moves time on
    parsed = parse_firewall(pl.Series(lines), year=2026)
    assert parsed.dead.height == 0
    correlator = compiled[1].correlator(lateness_s=10)
    assert correlate(compiled, correlator, parsed.events) == [
        ("SSH Or RDP Brute Force From One Source", ["203.0.113.50"]),
        ("Port Scan From One Source", ["198.51.100.7"]),
        ("Host Scan From One Source", ["198.51.100.8"]),
        ("Firewall Denies Followed By An Allowed Connection", ["203.0.113.50"]),
    ]


def test_below_thresholds_nothing_fires(compiled: tuple[CompiledRuleSet, CorrelationSet]) -> None:
    lines = [fortigate(i * 5, "203.0.113.50", "10.1.1.10", 3389, "deny") for i in range(19)]
    lines += [fortigate(900, "192.0.2.99", "10.9.9.9", 80, "accept")]
    parsed = parse_firewall(pl.Series(lines), year=2026)
    assert correlate(compiled, compiled[1].correlator(), parsed.events) == []


def test_web_login_brute_force(compiled: tuple[CompiledRuleSet, CorrelationSet]) -> None:
    lines = [
        f'192.0.2.1 - - [01/Mar/2026:08:00:{i:02d} +0000] "POST /portal/login HTTP/1.1" 401 12'
        for i in range(12)
    ]
    lines.append('192.0.2.2 - - [01/Mar/2026:08:30:00 +0000] "GET / HTTP/1.1" 200 512')
    parsed = parse_web(pl.Series(lines), year=2026)
    assert correlate(compiled, compiled[1].correlator(), parsed.events) == [
        ("Web Login Brute Force From One Client", ["192.0.2.1"])
    ]


def test_web_exploit_then_shell_across_families_and_batches(
    compiled: tuple[CompiledRuleSet, CorrelationSet],
) -> None:
    exploit = (
        "<190>Mar  1 08:00:00 web01 nginx: 203.0.113.9 - - [01/Mar/2026:08:00:00 +0000] "
        '"GET /upload/img.aspx?cmd=whoami HTTP/1.1" 200 153 "-" "curl/8.0"'
    )
    shell = json.dumps(
        {
            "EventID": 1,
            "Channel": "Microsoft-Windows-Sysmon/Operational",
            "Computer": "web01",
            "EventData": {
                "UtcTime": "2026-03-01 08:02:30.000",
                "Image": "C:\\Windows\\System32\\cmd.exe",
                "CommandLine": "cmd.exe /c whoami",
                "ParentImage": "C:\\Windows\\System32\\inetsrv\\w3wp.exe",
            },
        }
    )
    later = (
        "<190>Mar  1 08:30:00 web02 nginx: 198.51.100.1 - - [01/Mar/2026:08:30:00 +0000] "
        '"GET / HTTP/1.1" 200 10 "-" "curl/8.0"'
    )
    correlator = compiled[1].correlator()
    web = parse_web(pl.Series([exploit]), year=2026).events
    endpoint = parse_endpoint(pl.Series([shell])).events
    tick = parse_web(pl.Series([later]), year=2026).events
    assert correlate(compiled, correlator, web) == []
    assert correlate(compiled, correlator, endpoint) == []
    assert correlate(compiled, correlator, tick) == [
        ("Web Exploit Followed By A Shell Started By The Web Server", ["web01"])
    ]


def test_rules_check_counts_correlation_rules(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check", str(RULES), "--pipeline", "ecs"]) == 0
    out = capsys.readouterr().out
    assert "14 of 14 rules compiled" in out
    assert "correlation rules: 7 compiled, 0 rejected" in out


def test_rules_check_reports_a_correlation_it_cannot_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "c.yml").write_text(
        "title: Orphan\ncorrelation: {type: event_count, rules: missing_rule,"
        " group-by: user, timespan: 1m, condition: {gte: 2}}\n"
    )
    assert main(["rules", "check", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"{tmp_path / 'c.yml'}:1: correlation: unknown rule reference: missing_rule" in out
    assert "0 of 1 rules compiled" in out
