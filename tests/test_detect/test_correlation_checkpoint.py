"""Checkpoints: offsets and correlation state saved together, and the restart protocol."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import polars as pl
import pytest

from detect.correlation import CheckpointError, SQLiteCheckpointStore
from tests.test_detect.test_correlation_helpers import BASE_RULES, compile_all, frame

MANY_FAILED = """
title: Many failed logins
correlation: {type: event_count, rules: failed, group-by: user, timespan: 60s,
              condition: {gte: 3}}
"""
WEB = ("logs.web", 0)
ENDPOINT = ("logs.endpoint", 0)


def test_restore_point_matches_kafka_committed_offsets(tmp_path: Path) -> None:
    store = SQLiteCheckpointStore(tmp_path / "checkpoints.db")
    store.save("neakta", "0", {WEB: 100, ENDPOINT: 40}, b"A")
    store.save("neakta", "0", {WEB: 200, ENDPOINT: 40}, b"B")

    def point(web: int | None, endpoint: int | None = 40) -> bytes | None:
        found = store.restore_point("neakta", "0", {WEB: web, ENDPOINT: endpoint})
        return None if found is None else found.state

    assert point(200) == b"B"  # normal restart
    assert point(100) == b"A"  # crashed after saving B, before committing 200
    assert point(150) == b"A"  # Kafka ahead of a lost checkpoint: seek back to 100
    assert point(50) is None
    assert point(None) is None
    assert point(200, None) is None
    assert store.restore_point("other-group", "0", {WEB: 200, ENDPOINT: 40}) is None
    store.close()


def test_checkpoints_survive_reopening_and_old_ones_are_pruned(tmp_path: Path) -> None:
    path = tmp_path / "checkpoints.db"
    store = SQLiteCheckpointStore(path, keep=2)
    for offset in (10, 20, 30):
        store.save("neakta", "3", {WEB: offset}, f"state-{offset}".encode())
    store.close()
    reopened = SQLiteCheckpointStore(path, keep=2)
    kept = reopened.checkpoints("neakta", "3")
    assert [(c.seq, c.offsets, c.state) for c in kept] == [
        (3, {WEB: 30}, b"state-30"),
        (2, {WEB: 20}, b"state-20"),
    ]
    reopened.close()


def test_a_new_file_has_large_pages_and_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    with closing(sqlite3.connect(old)) as db:
        db.execute("CREATE TABLE kept (x)")  # SQLite's default page size, 4,096
    store = SQLiteCheckpointStore(old)
    store.save("neakta", "0", {WEB: 10}, b"A" * 100_000)
    store.close()
    SQLiteCheckpointStore(tmp_path / "new.db").close()

    def page_size(path: Path) -> int:
        with closing(sqlite3.connect(path)) as db:
            return int(db.execute("PRAGMA page_size").fetchone()[0])

    assert (page_size(old), page_size(tmp_path / "new.db")) == (4_096, 16_384)
    found = SQLiteCheckpointStore(old).restore_point("neakta", "0", {WEB: 10})
    assert found is not None and found.state == b"A" * 100_000


def test_the_folder_is_created_and_a_store_that_cannot_open_raises(tmp_path: Path) -> None:
    SQLiteCheckpointStore(tmp_path / "state" / "checkpoints.db").close()
    assert (tmp_path / "state" / "checkpoints.db").is_file()
    with pytest.raises(CheckpointError) as caught:
        SQLiteCheckpointStore(tmp_path / "state")  # a folder, not a database file
    assert caught.value.retriable is True


def test_crash_between_checkpoint_and_commit_neither_loses_nor_doubles(tmp_path: Path) -> None:
    base, correlations = compile_all(BASE_RULES, MANY_FAILED)
    store = SQLiteCheckpointStore(tmp_path / "checkpoints.db")
    batches = [
        frame([{"@timestamp": 0, "event.id": "a", "user": "u", "outcome": "failure"}]),
        frame([{"@timestamp": 10, "event.id": "b", "user": "u", "outcome": "failure"}]),
        frame([{"@timestamp": 200, "event.id": "c", "user": "v", "outcome": "failure"}]),
    ]

    def step(correlator_state: bytes | None, batch: pl.DataFrame) -> tuple[bytes, int]:
        correlator = correlations.correlator()
        if correlator_state is not None:
            correlator.restore(correlator_state)
        alerts = correlator.process(batch, base.evaluate(batch)).alerts
        return correlator.snapshot(), alerts.height

    state, _ = step(None, batches[0])
    store.save("neakta", "0", {WEB: 1}, state)  # ...and Kafka commits 1
    state, _ = step(state, batches[1])
    store.save("neakta", "0", {WEB: 2}, state)  # crash: Kafka still says 1

    resumed = store.restore_point("neakta", "0", {WEB: 1})
    assert resumed is not None and resumed.offsets == {WEB: 1}
    state, _ = step(resumed.state, batches[1])  # batch 1 is read again
    _, fired = step(state, batches[2])
    assert fired == 0  # two failures only: counted once each

    newest = store.checkpoints("neakta", "0")[0].state
    doubled, _ = step(newest, batches[1])  # what restoring the newer state would do
    _, wrongly = step(doubled, batches[2])
    assert wrongly == 1
    store.close()
