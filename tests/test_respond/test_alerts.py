"""Matches become ECS alert documents with stable ids."""

from __future__ import annotations

import hashlib
import textwrap
from datetime import UTC, datetime

import polars as pl
import pytest

from detect import CompiledRuleSet, parse_rules
from respond.alerts import build_alerts, rule_metadata
from respond.documents import iter_documents

RULE = textwrap.dedent(
    r"""
    title: Mimikatz By Name
    id: 0b9c1ab6-6d8e-4c4b-9d3a-2f7a1f0e1a01
    status: test
    description: The Mimikatz binary runs.
    author: SOC team
    references: [https://attack.mitre.org/software/S0002/]
    tags: [attack.credential-access, attack.t1003.001]
    logsource: {category: process_creation, product: windows}
    detection:
      selection:
        Image|endswith: '\mimikatz.exe'
      condition: selection
    level: critical
    """
)
RULE_ID = "0b9c1ab6-6d8e-4c4b-9d3a-2f7a1f0e1a01"
T = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
INGESTED = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def blake(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


@pytest.fixture(scope="module")
def ruleset() -> CompiledRuleSet:
    compiled = CompiledRuleSet.compile(parse_rules(RULE).rules, pipeline="ecs")
    assert not compiled.rejected
    return compiled


def endpoint_events(**extra: list[object]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "@timestamp": [T, T],
            "event.id": ["ev-1", "ev-2"],
            "event.kind": ["event", "event"],
            "event.code": ["1", "1"],
            "winlog.channel": ["Microsoft-Windows-Sysmon/Operational"] * 2,
            "process.executable": [r"C:\Tools\mimikatz.exe", r"C:\Windows\notepad.exe"],
            "host.name": ["mef-ws-01", "mef-ws-02"],
            "organization.id": ["mef", "mef"],
            "message": ["Process Create", "Process Create"],
            **extra,
        }
    )


def test_alert_document_for_a_match(ruleset: CompiledRuleSet) -> None:
    events = endpoint_events()
    alerts = build_alerts(events, ruleset.evaluate(events), ruleset.rules, ingested=INGESTED)
    expected_id = blake(f"{RULE_ID}\x00ev-1")
    assert list(iter_documents(alerts)) == [
        (
            expected_id,
            {
                "@timestamp": T,
                "event": {
                    "kind": "alert",
                    "id": expected_id,
                    "severity": 99,
                    "risk_score": 99.0,
                    "ingested": INGESTED,
                    "code": "1",
                },
                "message": "Mimikatz By Name on mef-ws-01",
                "rule": {
                    "id": RULE_ID,
                    "uuid": RULE_ID,
                    "name": "Mimikatz By Name",
                    "description": "The Mimikatz binary runs.",
                    "author": ["SOC team"],
                    "reference": ["https://attack.mitre.org/software/S0002/"],
                    "ruleset": "sigma",
                    "category": "process_creation",
                },
                "neakta": {
                    "rule": {"level": "critical", "status": "test"},
                    "original": {
                        "event": {"id": "ev-1", "kind": "event"},
                        "message": "Process Create",
                    },
                },
                "tags": ["attack.credential-access", "attack.t1003.001"],
                "winlog": {"channel": "Microsoft-Windows-Sysmon/Operational"},
                "process": {"executable": r"C:\Tools\mimikatz.exe"},
                "host": {"name": "mef-ws-01"},
                "organization": {"id": "mef"},
            },
        )
    ]


def test_ids_are_stable_across_runs_and_batches(ruleset: CompiledRuleSet) -> None:
    events = endpoint_events()
    first = build_alerts(events, ruleset.evaluate(events), ruleset.rules, ingested=INGESTED)
    later = datetime(2027, 1, 1, tzinfo=UTC)
    shifted = pl.concat([events.slice(1), events.slice(0, 1)])
    again = build_alerts(shifted, ruleset.evaluate(shifted), ruleset.rules, ingested=later)
    assert first["_id"].to_list() == again["_id"].to_list()


def meta(level: str = "high") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "rule_index": [0],
            "rule.id": ["r1"],
            "rule.name": ["Port Scan"],
            "neakta.rule.level": [level],
        },
        schema_overrides={"rule_index": pl.UInt32},
    )


def matches(rows: list[int]) -> pl.DataFrame:
    return pl.DataFrame(
        {"row": rows, "rule_index": [0] * len(rows)},
        schema={"row": pl.UInt32, "rule_index": pl.UInt32},
    )


def test_event_without_id_uses_its_original_text_then_its_row() -> None:
    events = pl.DataFrame(
        {
            "event.original": ["srcip=10.0.0.9 action=deny", None],
            "source.ip": ["10.0.0.9", "10.0.0.7"],
        }
    )
    alerts = build_alerts(events, matches([0, 1]), meta(), ingested=INGESTED)
    row_text = '{"source.ip":"10.0.0.7"}'
    assert alerts["_id"].to_list() == [
        blake("r1\x00" + blake("srcip=10.0.0.9 action=deny")),
        blake("r1\x00" + blake(row_text)),
    ]
    assert alerts["message"].to_list() == ["Port Scan on 10.0.0.9", "Port Scan on 10.0.0.7"]


def test_firewall_policy_rule_moves_under_original_and_extra_columns_travel() -> None:
    events = pl.DataFrame(
        {
            "event.id": ["f1"],
            "rule.id": ["policy-7"],
            "rule.name": ["allow-dmz"],
            "threat.tactic.id": [["TA0007"]],
            "source.geo.country_iso_code": ["KH"],
        }
    )
    alerts = build_alerts(events, matches([0]), meta(), ingested=INGESTED)
    row = alerts.row(0, named=True)
    assert (row["rule.id"], row["rule.name"]) == ("r1", "Port Scan")
    assert (row["neakta.original.rule.id"], row["neakta.original.rule.name"]) == (
        "policy-7",
        "allow-dmz",
    )
    assert row["threat.tactic.id"] == ["TA0007"]
    assert row["source.geo.country_iso_code"] == "KH"
    assert row["message"] == "Port Scan on unknown"


@pytest.mark.parametrize(
    ("level", "criticality", "severity", "risk"),
    [
        ("informational", None, 1, 1.0),
        ("low", "high", 21, 31.0),
        ("medium", "low", 47, 37.0),
        ("high", "medium", 73, 73.0),
        ("critical", "critical", 99, 100.0),
        ("high", "unheard-of", 73, 73.0),
    ],
)
def test_severity_and_risk_score(
    level: str, criticality: str | None, severity: int, risk: float
) -> None:
    events = pl.DataFrame(
        {"event.id": ["e"], "neakta.asset.criticality": [criticality]},
        schema={"event.id": pl.String, "neakta.asset.criticality": pl.String},
    )
    alerts = build_alerts(events, matches([0]), meta(level), ingested=INGESTED)
    assert alerts.select("event.severity", "event.risk_score").row(0) == (severity, risk)


def test_one_event_matching_twice_gives_alerts_in_match_order() -> None:
    events = pl.DataFrame({"event.id": ["a", "b", "c"]})
    alerts = build_alerts(events, matches([2, 0, 2]), meta(), ingested=INGESTED)
    assert alerts["neakta.original.event.id"].to_list() == ["c", "a", "c"]


def test_no_matches_give_an_empty_frame_with_the_alert_columns() -> None:
    events = pl.DataFrame({"event.id": ["a"]})
    alerts = build_alerts(events, matches([]), rule_metadata([]), ingested=INGESTED)
    assert alerts.height == 0
    assert {"_id", "event.kind", "rule.id", "message"} <= set(alerts.columns)
