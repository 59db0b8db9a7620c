"""``neakta incidents`` over a real SQLite file."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from neakta.cli import main
from respond.incidents import IncidentTracker
from respond.sinks import SinkBatch
from respond.store import SqliteStore
from tests.test_respond.factories import alerts_frame


@pytest.fixture
async def db(tmp_path: Path) -> Path:
    path = tmp_path / "neakta.db"
    tracker = IncidentTracker()
    store = SqliteStore(path, tracker=tracker)
    alerts = alerts_frame(
        [
            {"_id": "a1", "minute": 0, "event.severity": 99, "message": "Mimikatz on mef-ws-01"},
            {"_id": "a2", "minute": 3, "event.severity": 99, "message": "Mimikatz on mef-ws-01"},
            {"_id": "a3", "minute": 1, "host.name": "moh-srv-01", "organization.id": "moh"},
        ]
    )
    await store.write(SinkBatch(alerts=alerts, incidents=tracker.update(alerts)))
    await store.close()
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def ids(db: Path) -> list[str]:
    store = SqliteStore(db)
    found = [i["id"] for i in store.list_incidents()]
    store.close_now()
    return found


def test_list_prints_a_table_most_severe_first(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "incidents", "list", "--db", str(db))
    first, second = ids(db)
    assert code == 0
    assert out.splitlines() == [
        f"{'id':<{len(first)}}  severity  state  ministry  alerts  last seen (UTC)      title",
        f"{'-' * len(first)}  --------  -----  --------  ------  -------------------  "
        + "-" * len("Mimikatz on moh-srv-01"),
        f"{first}  critical  open   mef       2       2026-03-01 08:03:00  Mimikatz on mef-ws-01",
        f"{second}  high      open   moh       1       2026-03-01 08:01:00  Mimikatz on moh-srv-01",
        "2 incident(s)",
    ]


def test_list_filters_and_prints_json(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "incidents", "list", "--db", str(db), "--ministry", "moh", "--json")
    assert code == 0
    assert [(i["organization_id"], i["severity"]) for i in orjson.loads(out)] == [("moh", 73)]
    _, out, _ = run(capsys, "incidents", "list", "--db", str(db), "--min-severity", "critical")
    assert out.splitlines()[-1] == "1 incident(s)"


def test_show_prints_the_incident_and_its_alerts(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = ids(db)[0]
    code, out, _ = run(capsys, "incidents", "show", first, "--db", str(db))
    assert code == 0
    assert out.splitlines()[:10] == [
        f"incident  {first}",
        "title     Mimikatz on mef-ws-01",
        "severity  critical (99)",
        "state     open",
        "ministry  mef",
        "entity    mef-ws-01",
        "seen      2026-03-01T08:00:00.000000+00:00 .. 2026-03-01T08:03:00.000000+00:00",
        "alerts    2",
        "rules     r-mimikatz",
        "tactics   -",
    ]
    assert out.splitlines()[-2:] == [
        "a1     2026-03-01 08:00:00  99   Mimikatz on mef-ws-01",
        "a2     2026-03-01 08:03:00  99   Mimikatz on mef-ws-01",
    ]


def test_ack_then_close_then_closed_stays_closed(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = ids(db)[0]
    code, out, _ = run(capsys, "incidents", "ack", first, "--db", str(db), "--by", "dara")
    assert (code, out) == (0, f"{first}: acknowledged by dara\n")
    code, out, _ = run(
        capsys,
        "incidents",
        "close",
        first,
        "--db",
        str(db),
        "--by",
        "sokha",
        "--note",
        "fp",
        "--json",
    )
    shown = orjson.loads(out)
    assert (code, shown["state"], shown["state_changed_by"], shown["state_note"]) == (
        0,
        "closed",
        "sokha",
        "fp",
    )
    assert [h["state"] for h in shown["history"]] == ["open", "acknowledged", "closed"]
    code, _, err = run(capsys, "incidents", "ack", first, "--db", str(db))
    assert (code, err) == (1, f"neakta: incident {first} is closed\n")
    _, out, _ = run(capsys, "incidents", "list", "--db", str(db), "--state", "closed")
    assert out.splitlines()[-1] == "1 incident(s)"


def test_unknown_incident_and_missing_store(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "incidents", "show", "inc-none", "--db", str(db))
    assert (code, err) == (1, "neakta: no incident 'inc-none'\n")
    missing = tmp_path / "nowhere.db"
    code, _, err = run(capsys, "incidents", "list", "--db", str(missing))
    assert (code, err) == (2, f"neakta: no incident store at {missing}\n")
    assert not missing.exists()


def test_store_path_comes_from_the_environment(
    db: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEAKTA_RESPOND__STORE_PATH", str(db))
    code, out, _ = run(capsys, "incidents", "list")
    assert (code, out.splitlines()[-1]) == (0, "2 incident(s)")


def test_help_names_the_environment_variable(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["incidents", "list", "--help"])
    assert "NEAKTA_RESPOND__STORE_PATH" in capsys.readouterr().out
