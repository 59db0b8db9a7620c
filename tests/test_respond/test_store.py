"""The embedded SQLite store: idempotent writes, incident queries, states, restarts."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from respond.encoded import encode_rows
from respond.incidents import NO_CHANGES, IncidentTracker
from respond.sinks import SinkBatch
from respond.store import (
    IncidentNotFoundError,
    IncidentStateError,
    SqliteStore,
    _iso,
    _iso_texts,
)
from tests.test_respond.factories import alerts_frame

NOON = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = NOON

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "state" / "neakta.db"


@pytest.fixture
def store(db: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(db, clock=Clock())
    yield opened
    opened.close_now()


def batch_of(tracker: IncidentTracker, alerts: pl.DataFrame) -> SinkBatch:
    return SinkBatch(alerts=alerts, incidents=tracker.update(alerts))


async def test_replayed_batch_writes_no_duplicates(store: SqliteStore) -> None:
    tracker = IncidentTracker()
    alerts = alerts_frame([{"_id": "a1"}, {"_id": "a2", "minute": 1}])
    first = await store.write(batch_of(tracker, alerts))
    again = await store.write(SinkBatch(alerts=alerts, incidents=tracker.update(alerts)))
    assert (first.written, first.duplicates) == (2, 0)
    assert (again.written, again.duplicates) == (0, 2)
    assert store.count_alerts() == 2
    assert [i["alert_count"] for i in store.list_incidents()] == [2]


async def test_an_incident_twice_in_a_batch_is_opened_once_and_keeps_the_later_row(
    store: SqliteStore,
) -> None:
    tracker = IncidentTracker()
    opened = tracker.update(alerts_frame([{"_id": "a1"}]))
    grown = tracker.update(alerts_frame([{"_id": "a2", "minute": 1}]))
    other = IncidentTracker().update(alerts_frame([{"_id": "b1", "host.name": "pc9"}]))

    await store.write(SinkBatch(incidents=pl.concat([opened, other, grown])))

    listed = {i["id"]: i["alert_count"] for i in store.list_incidents()}
    assert listed == {opened["incident.id"][0]: 2, other["incident.id"][0]: 1}
    shown = store.get_incident(opened["incident.id"][0])
    assert [entry["state"] for entry in shown["history"]] == ["open"]
    assert [a["_id"] for a in shown["alerts"]] == []  # no alert rows in this batch


async def test_list_sorts_by_severity_then_last_seen_and_filters(store: SqliteStore) -> None:
    tracker = IncidentTracker()
    alerts = alerts_frame(
        [
            {"_id": "a1", "minute": 0, "host.name": "pc-old", "event.severity": 99},
            {"_id": "a2", "minute": 9, "host.name": "pc-new", "event.severity": 99},
            {"_id": "a3", "minute": 5, "host.name": "pc-low", "event.severity": 21},
            {"_id": "a4", "minute": 7, "organization.id": "moh", "event.severity": 47},
        ]
    )
    await store.write(batch_of(tracker, alerts))
    titles = [i["title"] for i in store.list_incidents()]
    assert titles == [
        "Mimikatz on pc-new",
        "Mimikatz on pc-old",
        "Mimikatz on mef-ws-01",
        "Mimikatz on pc-low",
    ]
    assert [i["title"] for i in store.list_incidents(organization="moh")] == [
        "Mimikatz on mef-ws-01"
    ]
    assert len(store.list_incidents(min_severity=73)) == 2
    assert store.list_incidents(state="closed") == []


async def test_show_gives_the_alerts_and_the_history(store: SqliteStore) -> None:
    tracker = IncidentTracker()
    await store.write(batch_of(tracker, alerts_frame([{"_id": "a1"}, {"_id": "a2"}])))
    (listed,) = store.list_incidents()
    shown = store.get_incident(listed["id"])
    assert [a["_id"] for a in shown["alerts"]] == ["a1", "a2"]
    assert shown["alerts"][0]["host"] == {"name": "mef-ws-01"}
    assert shown["document"]["incident"]["rules"] == ["r-mimikatz"]
    assert shown["history"] == [
        {"at": "2026-03-01T12:00:00.000000+00:00", "state": "open", "who": None, "note": None}
    ]
    with pytest.raises(IncidentNotFoundError):
        store.get_incident("inc-nothing")


async def test_ack_and_close_are_stamped_and_closed_is_final(db: Path) -> None:
    clock = Clock()
    store = SqliteStore(db, clock=clock)
    tracker = IncidentTracker()
    await store.write(batch_of(tracker, alerts_frame([{"_id": "a1"}])))
    (incident,) = store.list_incidents()
    clock.now = NOON.replace(hour=13)
    acked = store.set_state(incident["id"], "acknowledged", who="dara", note="looking")
    clock.now = NOON.replace(hour=14)
    closed = store.set_state(incident["id"], "closed", who="sokha", note="cleaned")
    assert acked["state"] == "acknowledged"
    assert (closed["state"], closed["state_changed_by"], closed["state_note"]) == (
        "closed",
        "sokha",
        "cleaned",
    )
    assert closed["state_changed_at"] == "2026-03-01T14:00:00.000000+00:00"
    assert [(h["state"], h["who"]) for h in closed["history"]] == [
        ("open", None),
        ("acknowledged", "dara"),
        ("closed", "sokha"),
    ]
    with pytest.raises(IncidentStateError):
        store.set_state(incident["id"], "acknowledged", who="dara")
    store.close_now()


async def test_pipeline_learns_of_a_close_and_opens_a_new_incident(db: Path) -> None:
    tracker = IncidentTracker()
    store = SqliteStore(db, tracker=tracker)
    await store.write(batch_of(tracker, alerts_frame([{"_id": "a1"}])))
    (first,) = store.list_incidents()
    store.set_state(first["id"], "closed", who="dara")
    await store.sync_tracker(tracker)
    await store.write(batch_of(tracker, alerts_frame([{"_id": "a2", "minute": 2}])))
    incidents = {i["id"]: (i["state"], i["alert_count"]) for i in store.list_incidents()}
    assert incidents.pop(first["id"]) == ("closed", 1)
    assert list(incidents.values()) == [("open", 1)]
    store.close_now()


async def test_closed_incident_is_not_changed_by_a_late_update(store: SqliteStore) -> None:
    tracker = IncidentTracker()
    await store.write(batch_of(tracker, alerts_frame([{"_id": "a1"}])))
    (incident,) = store.list_incidents()
    store.set_state(incident["id"], "closed", who="dara")
    await store.write(batch_of(tracker, alerts_frame([{"_id": "a2", "minute": 1}])))
    assert store.get_incident(incident["id"])["alert_count"] == 1


async def test_restart_resumes_open_incidents(db: Path) -> None:
    tracker = IncidentTracker()
    store = SqliteStore(db, tracker=tracker)
    await store.write(batch_of(tracker, alerts_frame([{"_id": "a1"}])))
    await store.close()

    restarted = IncidentTracker()
    store = SqliteStore(db, tracker=restarted)
    assert store.resume(restarted) == 1
    replay = alerts_frame([{"_id": "a1"}, {"_id": "a2", "minute": 4}])
    delivery = await store.write(batch_of(restarted, replay))
    assert (delivery.written, delivery.duplicates) == (1, 1)
    assert [(i["alert_count"], i["state"]) for i in store.list_incidents()] == [(2, "open")]
    store.close_now()


def entity(state: bytes) -> str:
    """The entity of an incident's saved state."""
    return str(orjson.loads(state)["key"][2])


async def test_each_batch_saves_only_the_incidents_it_changed(db: Path) -> None:
    tracker = IncidentTracker(window=timedelta(minutes=10), retention=timedelta(minutes=10))
    store = SqliteStore(db, tracker=tracker)
    first = alerts_frame([{"_id": "a1"}, {"_id": "b1", "host.name": "mef-ws-02", "minute": 1}])
    await store.write(batch_of(tracker, first))
    assert tracker.changes().states == []  # saved: nothing left to write

    second = batch_of(tracker, alerts_frame([{"_id": "a2", "minute": 8}]))
    changes = tracker.changes()
    assert ([entity(s) for _, s in changes.states], changes.dropped) == (["mef-ws-01"], [])
    await store.write(second)

    ws03 = alerts_frame([{"_id": "c1", "minute": 26, "host.name": "mef-ws-03"}])
    third = batch_of(tracker, ws03)
    # ws-02's incident (last alert at minute 1) is past window + retention: dropped.
    changes = tracker.changes()
    assert [entity(s) for _, s in changes.states] == ["mef-ws-03"]
    assert len(changes.dropped) == 1
    await store.write(third)
    await store.close()

    resumed = IncidentTracker()
    again = SqliteStore(db, tracker=resumed)
    assert again.resume(resumed) == 2
    assert resumed.snapshot() == tracker.snapshot()
    assert [(s["key"][2], s["alert_count"]) for s in resumed.snapshot()] == [
        ("mef-ws-01", 2),
        ("mef-ws-03", 1),
    ]
    again.close_now()


async def test_acknowledged_state_survives_later_updates(store: SqliteStore) -> None:
    tracker = IncidentTracker()
    await store.write(batch_of(tracker, alerts_frame([{"_id": "a1"}])))
    (incident,) = store.list_incidents()
    store.set_state(incident["id"], "acknowledged", who="dara")
    await store.write(batch_of(tracker, alerts_frame([{"_id": "a2", "minute": 1}])))
    shown = store.get_incident(incident["id"])
    assert (shown["state"], shown["alert_count"]) == ("acknowledged", 2)


async def test_alert_that_is_not_json_goes_to_dead(store: SqliteStore) -> None:
    alerts = pl.DataFrame(
        {"_id": ["a1", "a2"], "big": [1, 2**70]}, schema={"_id": pl.String, "big": pl.Int128}
    )
    delivery = await store.write(SinkBatch(alerts=alerts))
    assert delivery.written == 1
    assert delivery.dead.select("_id", "index").rows() == [("a2", "alerts")]
    assert delivery.dead["reason"][0].startswith("not JSON")


def test_the_file_uses_write_ahead_logging(store: SqliteStore, db: Path) -> None:
    reader = sqlite3.connect(db)
    mode = reader.execute("PRAGMA journal_mode").fetchone()[0]
    reader.close()
    assert mode == "wal"


def test_a_new_file_has_pages_that_hold_an_alert_document(store: SqliteStore, db: Path) -> None:
    reader = sqlite3.connect(db)
    page_size = reader.execute("PRAGMA page_size").fetchone()[0]
    reader.close()
    assert page_size == 16_384


async def test_a_file_made_with_smaller_pages_is_kept_as_it_is_and_still_written(
    db: Path,
) -> None:
    db.parent.mkdir(parents=True)
    older = sqlite3.connect(db)
    older.execute("PRAGMA page_size=4096")
    older.execute("PRAGMA journal_mode=WAL")
    older.execute("CREATE TABLE kept (x)")
    older.close()
    store = SqliteStore(db, clock=Clock())
    try:
        alerts = alerts_frame([{"_id": "a1"}])
        delivery = await store.write(batch_of(IncidentTracker(), alerts))
        assert delivery.written == 1
        assert store.count_alerts() == 1
    finally:
        store.close_now()
    reader = sqlite3.connect(db)
    assert reader.execute("PRAGMA page_size").fetchone()[0] == 4096
    reader.close()


def rows_of(db: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as connection:
        tables = ("alerts", "incidents", "incident_history")
        return [
            (table, *row)
            for table in tables
            for row in connection.execute(f"SELECT * FROM {table} ORDER BY rowid")
        ]


async def test_rows_are_the_same_whether_documents_are_built_in_polars_or_row_by_row(
    tmp_path: Path,
) -> None:
    alerts = alerts_frame(
        [{"_id": "a1"}, {"_id": "a2", "minute": 1, "organization.id": None, "tags": ["x"]}]
    )
    # A Date column (null here, so in no document) sends the frame down the row-by-row path.
    slow = alerts.with_columns(pl.lit(None, dtype=pl.Date).alias("d"))
    written = []
    for name, frame in (("polars", alerts), ("rows", slow)):
        tracker = IncidentTracker()
        store = SqliteStore(tmp_path / f"{name}.db", clock=Clock())
        await store.write(batch_of(tracker, frame))
        store.close_now()
        written.append(rows_of(tmp_path / f"{name}.db"))

    assert encode_rows(alerts, naive_utc=True) is not None
    assert encode_rows(slow, naive_utc=True) is None
    assert written[0] == written[1]
    tables = [row[0] for row in written[0]]
    assert tables == ["alerts"] * 2 + ["incidents"] * 2 + ["incident_history"] * 2


@settings(max_examples=150, deadline=None)
@given(
    moments=st.lists(
        st.none() | st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30)), max_size=8
    ),
    unit=st.sampled_from(["ns", "us", "ms"]),
    zone=st.sampled_from([None, "UTC", "Asia/Phnom_Penh", "America/St_Johns"]),
)
def test_time_texts_built_by_polars_are_those_of_each_value(
    moments: list[datetime | None], unit: str, zone: str | None
) -> None:
    # Within what the unit holds (nanoseconds reach 1677-2262 only); in a time zone, where
    # Python's and Polars' zone databases agree (they differ on local mean time before
    # 1920, where the instant Polars keeps is the one to store).
    low, high = (1678, 2261) if unit == "ns" else (1, 9999)
    if zone is not None:
        low, high = 1971, 2037
    moments = [m if m is None or low <= m.year <= high else None for m in moments]
    series = pl.Series(moments, dtype=pl.Datetime(unit))  # type: ignore[arg-type]
    if zone is not None:
        series = series.dt.replace_time_zone("UTC").dt.convert_time_zone(zone)
    assert _iso_texts(series) == [_iso(value) for value in series.to_list()]
    text = pl.Series(["2026-01-01", None])
    assert _iso_texts(text) == ["2026-01-01", None]


async def test_ids_a_long_incident_forgot_are_kept_and_a_replay_counts_none_twice(
    db: Path,
) -> None:
    def tracker() -> IncidentTracker:
        return IncidentTracker(window=timedelta(minutes=10), retention=timedelta(minutes=10))

    # One incident over 5 hours: it keeps the ids of its last 20 minutes of alerts; the
    # store keeps the others while it is held.
    alerts = [{"_id": f"a{n:03}", "minute": 5 * n} for n in range(60)]
    ids = [f"a{n:03}" for n in range(60)]
    first = tracker()
    store = SqliteStore(db, tracker=first)
    for start in range(0, 60, 10):
        await store.write(batch_of(first, alerts_frame(alerts[start : start + 10])))
    [incident] = first.incidents
    assert sorted(incident.seen) == ids[55:]
    assert store.seen_alerts(ids) == {(incident.id, alert_id) for alert_id in ids[:55]}
    await store.close()

    replaying = tracker()
    store = SqliteStore(db, tracker=replaying)
    assert store.resume(replaying) == 1
    for start in range(0, 60, 10):
        await store.write(batch_of(replaying, alerts_frame(alerts[start : start + 10])))
    assert [i["alert_count"] for i in store.list_incidents()] == [60]
    await store.write(batch_of(replaying, alerts_frame([{"_id": "b1", "minute": 296}])))
    assert [i["alert_count"] for i in store.list_incidents()] == [61]

    # Once the incident is no longer held, what it forgot is not kept any more.
    later = alerts_frame([{"_id": "c1", "minute": 1000, "host.name": "mef-ws-09"}])
    await store.write(batch_of(replaying, later))
    assert store.seen_alerts(ids) == set()
    store.close_now()


async def test_a_batch_with_no_tracker_changes_leaves_the_trackers_own_unsaved(db: Path) -> None:
    tracker = IncidentTracker()
    store = SqliteStore(db, tracker=tracker)
    try:
        alerts = alerts_frame([{"_id": "a1"}])
        incidents = tracker.update(alerts)
        # Incidents grouped elsewhere (the incident feed) carry none of this tracker's changes.
        await store.write(SinkBatch(incidents=incidents, tracker=NO_CHANGES))
        assert [i for i, _ in tracker.changes().states] == incidents["_id"].to_list()
        assert store._db.execute("SELECT count(*) FROM tracker").fetchone()[0] == 0
        await store.write(SinkBatch(alerts=alerts, incidents=incidents))
        assert tracker.changes().states == []
        assert store._db.execute("SELECT count(*) FROM tracker").fetchone()[0] == 1
    finally:
        store.close_now()
