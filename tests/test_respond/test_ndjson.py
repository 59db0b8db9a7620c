"""The NDJSON export: Elasticsearch bulk pairs, no duplicates across replays and restarts."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import orjson
import polars as pl
import pytest

from respond import ndjson
from respond.errors import SinkUnavailableError
from respond.incidents import IncidentTracker
from respond.ndjson import NdjsonSink, read_alert_ids
from respond.sinks import SinkBatch
from tests.test_respond.factories import alerts_frame


def lines(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


async def test_alerts_become_create_pairs(tmp_path: Path) -> None:
    path = tmp_path / "out" / "alerts.ndjson"
    sink = NdjsonSink(path)
    alerts = pl.DataFrame({"_id": ["a1"], "event.kind": ["alert"], "host.name": ["pc1"]})
    delivery = await sink.write(SinkBatch(alerts=alerts))
    await sink.close()
    assert (delivery.written, delivery.duplicates) == (1, 0)
    assert lines(path) == [
        {"create": {"_index": "logs-neakta.alerts-default", "_id": "a1"}},
        {"event": {"kind": "alert"}, "host": {"name": "pc1"}},
    ]


async def test_replay_after_reopening_writes_nothing_twice(tmp_path: Path) -> None:
    path = tmp_path / "alerts.ndjson"
    tracker = IncidentTracker()
    alerts = alerts_frame([{"_id": "a1"}, {"_id": "a2", "minute": 1}])
    sink = NdjsonSink(path, alert_index="logs-neakta.alerts-mef")
    first = await sink.write(SinkBatch(alerts=alerts, incidents=tracker.update(alerts)))
    await sink.close()
    size = path.stat().st_size

    reopened = NdjsonSink(path, alert_index="logs-neakta.alerts-mef")
    again = await reopened.write(SinkBatch(alerts=alerts, incidents=tracker.update(alerts)))
    same_incident = IncidentTracker().update(alerts)
    unchanged = await reopened.write(SinkBatch(alerts=alerts, incidents=same_incident))
    await reopened.close()
    assert (first.written, again.written, again.duplicates, unchanged.duplicates) == (2, 0, 2, 2)
    assert path.stat().st_size == size
    actions = [line for line in lines(path)[0::2]]
    assert actions == [
        {"create": {"_index": "logs-neakta.alerts-mef", "_id": "a1"}},
        {"create": {"_index": "logs-neakta.alerts-mef", "_id": "a2"}},
        {"index": {"_index": "neakta-incidents", "_id": same_incident["_id"][0]}},
    ]


async def test_a_changed_incident_is_written_again(tmp_path: Path) -> None:
    path = tmp_path / "alerts.ndjson"
    tracker = IncidentTracker()
    sink = NdjsonSink(path)
    for batch in (alerts_frame([{"_id": "a1"}]), alerts_frame([{"_id": "a2", "minute": 1}])):
        await sink.write(SinkBatch(alerts=batch, incidents=tracker.update(batch)))
    await sink.close()
    counts = [
        doc["incident"]["alert_count"]  # type: ignore[index]
        for action, doc in zip(lines(path)[0::2], lines(path)[1::2], strict=True)
        if "index" in action
    ]
    assert counts == [1, 2]


async def test_a_pair_cut_short_by_a_crash_is_cut_off(tmp_path: Path) -> None:
    path = tmp_path / "alerts.ndjson"
    sink = NdjsonSink(path)
    await sink.write(SinkBatch(alerts=pl.DataFrame({"_id": ["a1"], "message": ["one"]})))
    await sink.close()
    with path.open("ab") as file:
        file.write(b'{"create":{"_index":"logs-neakta.alerts-default","_id":"a2"}}\n{"mess')

    reopened = NdjsonSink(path)
    delivery = await reopened.write(
        SinkBatch(alerts=pl.DataFrame({"_id": ["a1", "a2"], "message": ["one", "two"]}))
    )
    await reopened.close()
    assert (delivery.written, delivery.duplicates) == (1, 1)
    assert lines(path)[1::2] == [{"message": "one"}, {"message": "two"}]


async def test_duplicate_ids_within_one_batch_are_written_once(tmp_path: Path) -> None:
    sink = NdjsonSink(tmp_path / "alerts.ndjson")
    delivery = await sink.write(SinkBatch(alerts=pl.DataFrame({"_id": ["a1", "a1"]})))
    await sink.close()
    assert (delivery.written, delivery.duplicates) == (1, 1)


@pytest.mark.parametrize("piece", [3, 50, 1 << 20])
@pytest.mark.parametrize("tail", ["cut short", "no final newline"])
async def test_a_file_read_in_pieces_gives_what_reading_it_whole_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, piece: int, tail: str
) -> None:
    # The file is read a piece at a time, never whole: any size of piece finds the same
    # ids and incidents, and mends the same unfinished pair.
    monkeypatch.setattr(ndjson, "_READ_BYTES", piece)
    path = tmp_path / "alerts.ndjson"
    tracker = IncidentTracker()
    alerts = alerts_frame([{"_id": f"a{n}", "minute": n} for n in range(5)])
    sink = NdjsonSink(path)
    await sink.write(SinkBatch(alerts=alerts, incidents=tracker.update(alerts)))
    await sink.close()
    pair = b'{"create":{"_index":"logs-neakta.alerts-default","_id":"a9"}}\n{"message":"nine"}'
    with path.open("ab") as file:
        file.write(pair[:-12] if tail == "cut short" else pair)

    (path.parent / "alerts.ndjson.ids").unlink()  # read the whole file again
    reopened = NdjsonSink(path)
    ids = [f"a{n}" for n in range(10)]
    assert reopened._index.known(ids) == {f"a{n}" for n in range(5)} | (
        {"a9"} if tail == "no final newline" else set()
    )
    assert reopened._index.incident_count() == 1
    later = alerts_frame([{"_id": "a4", "minute": 4}, {"_id": "a5", "minute": 5}])
    delivery = await reopened.write(SinkBatch(alerts=later))
    await reopened.close()
    assert (delivery.written, delivery.duplicates) == (1, 1)
    nine = ["a9"] if tail == "no final newline" else []
    created = [action["create"] for action in lines(path)[0::2] if "create" in action]
    assert [c["_id"] for c in created] == [f"a{n}" for n in range(5)] + nine + ["a5"]  # type: ignore[index]


@pytest.mark.parametrize("piece", [3, 50, 1 << 20])
def test_alert_ids_are_read_in_pieces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, piece: int
) -> None:
    monkeypatch.setattr(ndjson, "_READ_BYTES", piece)
    path = tmp_path / "alerts.ndjson"
    path.write_bytes(b'{"_id":"a1","n":1}\n\n{"_id":"a2","n":2}\n{"_id":"a3","n"')
    assert read_alert_ids(path) == {"a1", "a2"}
    assert read_alert_ids(tmp_path / "absent.ndjson") == set()


def reading(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """The byte ranges the sink reads from its file, from now on."""
    ranges: list[tuple[int, int]] = []
    real = ndjson._file_lines

    def counted(descriptor: int, start: int, end: int) -> Iterator[bytes]:
        ranges.append((start, end))
        return real(descriptor, start, end)

    monkeypatch.setattr(ndjson, "_file_lines", counted)
    return ranges


async def test_a_sink_opened_again_reads_only_the_pairs_appended_since(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "alerts.ndjson"
    tracker = IncidentTracker()
    alerts = alerts_frame([{"_id": "a1"}, {"_id": "a2", "minute": 1}])
    sink = NdjsonSink(path)
    await sink.write(SinkBatch(alerts=alerts, incidents=tracker.update(alerts)))
    await sink.close()
    covered = path.stat().st_size
    # Another writer appends a pair while the sink is closed.
    pair = b'{"create":{"_index":"logs-neakta.alerts-default","_id":"a3"}}\n{"m":3}\n'
    with path.open("ab") as file:
        file.write(pair)
    ranges = reading(monkeypatch)

    reopened = NdjsonSink(path)
    again = await reopened.write(SinkBatch(alerts=alerts_frame([{"_id": "a3"}, {"_id": "a4"}])))
    unchanged = await reopened.write(SinkBatch(incidents=IncidentTracker().update(alerts)))
    await reopened.close()
    # Opening read the appended pair only; each batch found the index up to date.
    assert ranges == [(covered, covered + len(pair))]
    assert (again.written, again.duplicates, unchanged.written) == (1, 1, 0)
    actions = lines(path)[0::2]
    created = [action["create"]["_id"] for action in actions if "create" in action]  # type: ignore[index]
    assert created == ["a1", "a2", "a3", "a4"]


async def test_pairs_written_before_the_index_failed_are_not_written_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "alerts.ndjson"
    sink = NdjsonSink(path)
    batch = SinkBatch(alerts=pl.DataFrame({"_id": ["a1", "a2"], "message": ["one", "two"]}))

    def failing(*args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    with monkeypatch.context() as patch:
        patch.setattr(sink._index, "add", failing)
        with pytest.raises(SinkUnavailableError):
            await sink.write(batch)
    # Delivered again: the pairs already in the file are duplicates.
    again = await sink.write(batch)
    await sink.close()
    assert (again.written, again.duplicates) == (0, 2)
    assert lines(path)[1::2] == [{"message": "one"}, {"message": "two"}]


async def test_the_index_is_rebuilt_for_a_file_put_in_its_place(tmp_path: Path) -> None:
    path = tmp_path / "alerts.ndjson"
    sink = NdjsonSink(path)
    await sink.write(SinkBatch(alerts=pl.DataFrame({"_id": ["a1"], "message": ["one"]})))
    await sink.close()
    path.unlink()
    path.write_bytes(
        b'{"create":{"_index":"logs-neakta.alerts-default","_id":"b1"}}\n{"message":"b"}\n'
    )

    reopened = NdjsonSink(path)
    delivery = await reopened.write(
        SinkBatch(alerts=pl.DataFrame({"_id": ["a1", "b1"], "message": ["one", "b"]}))
    )
    await reopened.close()
    assert (delivery.written, delivery.duplicates) == (1, 1)
    created = [action["create"]["_id"] for action in lines(path)[0::2]]  # type: ignore[index]
    assert created == ["b1", "a1"]


async def test_an_index_that_cannot_be_read_makes_the_sink_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = NdjsonSink(tmp_path / "alerts.ndjson")

    def failing(ids: list[str]) -> set[str]:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(sink._index, "known", failing)
    with pytest.raises(SinkUnavailableError, match="database is locked"):
        await sink.write(SinkBatch(alerts=pl.DataFrame({"_id": ["a1"], "message": ["one"]})))
    await sink.close()
