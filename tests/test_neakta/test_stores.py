"""The commands that read the store read its workers' stores too (``neakta run --processes``).

A worker keeps the incidents it groups, another the alerts it raised; an incident handed
over with a partition is in two stores, an older version in one of them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from neakta.stores import store_paths
from respond.incidents import IncidentTracker
from respond.sinks import SinkBatch
from respond.sources import SourceStats
from respond.store import SqliteStore
from tests.test_neakta.test_ministries import activity, cli
from tests.test_respond.factories import alerts_frame


def test_a_stores_workers_are_found_beside_it_by_number(tmp_path: Path) -> None:
    names = ["neakta.db", "neakta.2.db", "neakta.10.db", "neakta.1.db", "neakta.1.db-wal"]
    names += ["neakta.01.db", "neakta.x.db", "other.1.db", "neakta.3.sqlite"]
    for name in names:
        (tmp_path / name).touch()
    found = [p.name for p in store_paths(tmp_path / "neakta.db")]
    assert found == ["neakta.db", "neakta.1.db", "neakta.2.db", "neakta.10.db"]
    (tmp_path / "neakta.db").unlink()
    assert [p.name for p in store_paths(tmp_path / "neakta.db")] == found[1:]
    assert store_paths(tmp_path / "none" / "neakta.db") == []


@pytest.fixture
async def workers(tmp_path: Path) -> Path:
    """Worker 1 raised a1 and grouped it; worker 2 raised a2 and grouped the incident on.

    Worker 1 also grouped moh's incident. ``neakta.db`` itself is absent.
    """
    tracker = IncidentTracker()
    first = alerts_frame(
        [
            {"_id": "a1", "minute": 0, "event.severity": 99, "message": "Mimikatz on mef-ws-01"},
            {"_id": "a3", "minute": 1, "host.name": "moh-srv-01", "organization.id": "moh"},
        ]
    )
    second = alerts_frame(
        [{"_id": "a2", "minute": 3, "event.severity": 99, "message": "Mimikatz again"}]
    )
    for number, alerts in ((1, first), (2, second)):
        store = SqliteStore(tmp_path / f"neakta.{number}.db")
        await store.write(SinkBatch(alerts=alerts, incidents=tracker.update(alerts)))
        await store.close()
    return tmp_path / "neakta.db"


def listed(db: Path) -> list[dict[str, object]]:
    code, out = cli("incidents", "list", "--db", str(db), "--json")
    assert code == 0
    found: list[dict[str, object]] = orjson.loads(out)
    return found


def test_list_shows_each_incident_once_in_its_latest_version(workers: Path) -> None:
    incidents = listed(workers)
    assert [(i["organization_id"], i["alert_count"]) for i in incidents] == [
        ("mef", 2),
        ("moh", 1),
    ]
    _, out = cli("incidents", "list", "--db", str(workers), "--limit", "1")
    assert out.splitlines()[-1] == "1 incident(s)"


def test_show_lists_the_alerts_every_worker_raised(workers: Path) -> None:
    mef = listed(workers)[0]["id"]
    code, out = cli("incidents", "show", str(mef), "--db", str(workers), "--json")
    assert code == 0
    shown = orjson.loads(out)
    assert shown["alert_count"] == 2
    assert [a["_id"] for a in shown["alerts"]] == ["a1", "a2"]


def test_ack_and_close_reach_every_store_that_holds_the_incident(workers: Path) -> None:
    mef = str(listed(workers)[0]["id"])
    code, out = cli("incidents", "ack", mef, "--db", str(workers), "--by", "dara")
    assert (code, out) == (0, f"{mef}: acknowledged by dara\n")
    for number in (1, 2):
        store = SqliteStore(workers.with_name(f"neakta.{number}.db"))
        assert store.get_incident(mef)["state"] == "acknowledged"
        store.close_now()
    assert cli("incidents", "close", mef, "--db", str(workers), "--by", "dara")[0] == 0
    assert cli("incidents", "ack", mef, "--db", str(workers), "--by", "dara")[0] == 1
    assert cli("incidents", "show", "inc-none", "--db", str(workers))[0] == 1


def test_ministries_list_adds_up_what_each_worker_counted(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    seen = datetime(2026, 11, 20, 8, 0, 5, tzinfo=UTC)
    registered = SourceStats(tmp_path / "neakta.db")
    registered.add_ministry("mef", "Ministry of Economy and Finance", now=now)
    registered.add_ministry("moh", "Ministry of Health", now=now)
    registered.close()
    for number, events, last in ((1, 600, seen), (2, 60, seen.replace(hour=9))):
        stats = SourceStats(tmp_path / f"neakta.{number}.db")
        stats.record(activity("mef", "firewall", events, last), now=now)
        stats.close()
    code, out = cli("ministries", "list", "--db", str(tmp_path / "neakta.db"))
    assert code == 0
    cells = [[c.strip() for c in line.split("  ") if c.strip()] for line in out.splitlines()]
    assert cells[1][:5] == ["mef", "Ministry of Economy and Finance", "firewall", "660",
                            "2026-11-20T09:00:05Z"]  # fmt: skip
    assert cells[2] == ["moh", "Ministry of Health", "-", "0", "never", "0.0"]
    assert len(cells) == 3
    # 660 events just now over the two workers: 11/s, less the little decay since.
    assert 10.0 < float(cells[1][5]) <= 11.0


def test_a_report_counts_each_incident_and_alert_once_over_the_workers(
    workers: Path, tmp_path: Path
) -> None:
    out = tmp_path / "report.html"
    code, printed = cli("report", "--db", str(workers), "--out", str(out), "--source", "sqlite")
    assert code == 0
    assert printed == f"report: {out} (2 incidents, 3 alerts)\n"
