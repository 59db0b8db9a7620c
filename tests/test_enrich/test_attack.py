"""ATT&CK columns from Sigma tags."""

from pathlib import Path

import polars as pl
import pytest

from enrich.attack import ATTACK_COLUMNS, attack_columns, load_attack, tag_attack
from enrich.errors import SourceFileError

CATALOG = load_attack()


def test_tactics_techniques_subtechniques_groups_and_software() -> None:
    tags = pl.Series(
        [
            [
                "attack.credential_access",
                "attack.t1003.001",
                "attack.t1003.006",
                "attack.s0002",
                "attack.g0032",
                "cve.2021-44228",
            ],
            ["attack.defense-evasion", "attack.stealth", "attack.T1685", "attack.made-up"],
            ["detection.threat-hunting"],
            [],
            None,
        ]
    )
    frame = attack_columns(tags, CATALOG)
    assert frame.columns == list(ATTACK_COLUMNS)
    assert frame.row(0, named=True) == {
        "threat.framework": "MITRE ATT&CK",
        "threat.tactic.id": ["TA0006"],
        "threat.tactic.name": ["Credential Access"],
        "threat.technique.id": ["T1003"],
        "threat.technique.name": ["OS Credential Dumping"],
        "threat.technique.subtechnique.id": ["T1003.001", "T1003.006"],
        "threat.technique.subtechnique.name": ["LSASS Memory", "DCSync"],
        "threat.group.id": ["G0032"],
        "threat.group.name": ["Lazarus Group"],
        "threat.software.id": ["S0002"],
        "threat.software.name": ["Mimikatz"],
    }
    assert frame.row(1, named=True) == {
        "threat.framework": "MITRE ATT&CK",
        "threat.tactic.id": ["TA0005", None],
        "threat.tactic.name": ["Defense Evasion", "Stealth"],
        "threat.technique.id": ["T1685"],
        "threat.technique.name": [None],
        "threat.technique.subtechnique.id": None,
        "threat.technique.subtechnique.name": None,
        "threat.group.id": None,
        "threat.group.name": None,
        "threat.software.id": None,
        "threat.software.name": None,
    }
    for row in (2, 3, 4):
        assert set(frame.row(row)) == {None}


def test_alerts_are_tagged_once_per_distinct_tag_list() -> None:
    alerts = pl.DataFrame(
        {
            "rule.id": ["a", "b", "a", "c"],
            "rule.tags": [
                ["attack.execution", "attack.t1059.001"],
                ["attack.impact"],
                ["attack.execution", "attack.t1059.001"],
                None,
            ],
        }
    )
    tagged = tag_attack(alerts, CATALOG)
    assert tagged.select(
        "rule.id", "threat.tactic.name", "threat.technique.subtechnique.name"
    ).rows() == [
        ("a", ["Execution"], ["PowerShell"]),
        ("b", ["Impact"], None),
        ("a", ["Execution"], ["PowerShell"]),
        ("c", None, None),
    ]


def test_every_tag_in_our_rules_has_a_name() -> None:
    rules = Path(__file__).resolve().parents[2] / "rules"
    tags: set[str] = set()
    for path in rules.rglob("*.yml"):
        for line in path.read_text(encoding="utf-8").splitlines():
            text = line.strip().removeprefix("- ").strip()
            if text.startswith("attack.") and "mitre.org" not in text:
                tags.add(text)
    frame = attack_columns(pl.Series([sorted(tags)]), CATALOG)
    names = [
        name
        for column in ATTACK_COLUMNS[1:]
        if column.endswith(".name")
        for name in frame.get_column(column).drop_nulls().explode().to_list()
    ]
    assert tags
    assert None not in names


def test_an_unreadable_table_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourceFileError, match="cannot read the ATT&CK table"):
        load_attack(tmp_path / "absent.csv")
