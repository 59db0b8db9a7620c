"""The store's WAL is copied back into its file by a thread of its own."""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

import pytest

from respond.incidents import IncidentTracker
from respond.sinks import SinkBatch
from respond.store import SqliteStore
from respond.wal import WalCheckpointer
from tests.test_respond.factories import alerts_frame


def in_file(path: Path, marker: bytes, *, within: float = 10.0) -> bool:
    """Whether ``marker`` shows up in the database file itself (not its WAL) in time."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if marker in path.read_bytes():
            return True
        time.sleep(0.05)
    return False


async def test_a_written_batch_reaches_the_database_file_while_the_store_is_open(
    tmp_path: Path,
) -> None:
    path = tmp_path / "neakta.db"
    store = SqliteStore(path)
    try:
        alerts = alerts_frame([{"_id": "alert-copied-back-from-the-wal"}])
        tracker = IncidentTracker()
        await store.write(SinkBatch(alerts=alerts, incidents=tracker.update(alerts)))
        # A few pages: far below SQLite's own threshold, yet checkpointed at once.
        assert in_file(path, b"alert-copied-back-from-the-wal")
        assert store.count_alerts() == 1
    finally:
        store.close_now()
    assert not path.with_name("neakta.db-wal").exists()


def test_a_checkpoint_that_fails_is_reported_once_and_raises_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    checkpointer = WalCheckpointer(tmp_path)  # a folder: no database opens there
    with caplog.at_level(logging.WARNING, logger="neakta.store"):
        checkpointer.committed()
        checkpointer.committed()
        checkpointer.close()
    warnings = [r.getMessage() for r in caplog.records if "WAL checkpoint failed" in r.message]
    assert len(warnings) == 1
    assert checkpointer.checkpoints == 0


def test_each_commit_is_checkpointed_and_none_after_closing(tmp_path: Path) -> None:
    path = tmp_path / "n.db"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("CREATE TABLE t (x TEXT)")
    checkpointer = WalCheckpointer(path)
    for row in range(3):
        writer.execute("INSERT INTO t VALUES (?)", (f"row-{row}-in-the-file",))
        checkpointer.committed()
        assert in_file(path, f"row-{row}-in-the-file".encode())
    checkpointer.close()
    done = checkpointer.checkpoints
    writer.execute("INSERT INTO t VALUES ('after-close')")
    checkpointer.committed()
    assert checkpointer.checkpoints == done
    assert b"after-close" not in path.read_bytes()
    writer.close()
