"""``neakta demo``: the bundled logs of all three families end as incidents in a fresh store."""

from pathlib import Path

import orjson
import pytest

from neakta.cli import main
from respond import SqliteStore


def titles(folder: Path) -> list[str]:
    store = SqliteStore(folder / "neakta.db")
    try:
        return [incident["title"] for incident in store.list_incidents(limit=10_000)]
    finally:
        store.close_now()


def test_the_demo_prints_the_summary_and_the_incident_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--dir", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    assert "events: 6,009 (endpoint 3,000, firewall 800, web 2,209)" in out
    assert "Log4Shell JNDI Lookup In A Web Request on 203.0.113.47" in out
    assert "Office Application Starting A Shell Or Script Host on moh-hr-" in out
    assert "dead letters: 0" in out
    assert "found by correlation rules (5):" in out
    assert "Mimikatz Execution By Name Or Module Syntax on mef-fin-srv-03" in out
    found = titles(tmp_path / "demo")
    for seeded in (
        "Mimikatz Execution By Name Or Module Syntax on mef-fin-srv-03.mef.gov.kh",
        "Path Traversal In A Web Request on 203.0.113.47",
        "File Download Via Certutil.EXE on mef-fin-ws-012.mef.gov.kh",
        "Port Scan From One Source on 198.51.100.77",
        "SSH Or RDP Brute Force From One Source on 192.0.2.66",
        "Web Login Brute Force From One Client on 192.0.2.140",
        "Firewall Denies Followed By An Allowed Connection on 192.0.2.66",
        "SQL Injection Without A Quote In A Web Request Query on 203.0.113.47",
    ):
        assert seeded in found
    exported = (tmp_path / "demo" / "alerts.ndjson").read_bytes().splitlines()
    actions = [orjson.loads(line) for line in exported[::2]]
    assert actions and all("create" in a or "index" in a for a in actions)


def test_running_the_demo_twice_starts_from_a_fresh_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--dir", str(tmp_path / "demo")]) == 0
    first = titles(tmp_path / "demo")
    assert main(["demo", "--dir", str(tmp_path / "demo")]) == 0
    assert sorted(titles(tmp_path / "demo")) == sorted(first)
