"""The ids of the alerts an NDJSON file holds, kept on disk beside it.

An alert writer must not append an alert its file already holds: a replay of logs seen
before, a batch delivered again after a restart, an alert another process of the group
wrote. The ids are kept in a SQLite file beside the alert file (``alerts.ndjson`` ->
``alerts.ndjson.ids``) with how far into the file they go, so the writer's memory stays
flat however many alerts the file holds, and a writer starting on a large file reads only
the lines appended since the index was last brought up to date, not the whole file.

The index is a cache of the file, never the other way round: deleted, behind the file, or
made for another file (replaced, truncated, rewritten), it is caught up or rebuilt from the
file itself. It knows its file by device and inode, and by a digest of the file's first
bytes and of the last bytes it covers.

The bulk export (:class:`respond.ndjson.NdjsonSink`) keeps the same index of its alert
ids, and beside them a digest of each incident's last document, so that it writes an
incident again only when it changed.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping
from hashlib import blake2b
from pathlib import Path
from typing import Final

import orjson

__all__ = ["AlertIdIndex", "LineReader", "alert_ids_path", "line_ids"]

LineReader = Callable[[int, int, int], Iterable[bytes]]
"""Reads the lines of the file open at a descriptor between two byte offsets."""

# Ids looked up per query (SQLite allows 32,766 parameters; fewer keep each query small).
_LOOKUP: Final = 500
# The bytes of the file the index's digest covers: its first and its last ones.
_HEAD: Final = 4096
_TAIL: Final = 256


def alert_ids_path(alerts: Path) -> Path:
    """Where the index of the alert file ``alerts`` lives: beside it, ``.ids`` added.

    >>> alert_ids_path(Path("out/alerts.ndjson")).as_posix()
    'out/alerts.ndjson.ids'
    """
    return alerts.with_name(alerts.name + ".ids")


def line_ids(lines: Iterable[bytes]) -> Iterator[str]:
    """The ``_id`` of each complete alert line; a line that is not one is skipped.

    Each line is parsed whole: a line cut short by a crash is no JSON (its alert is written
    again), however it ends.

    >>> list(line_ids([b'{"_id":"a1","x":1}', b'{"x": 2, "_id": "b2"}', b'{"_id":"c","o":{}', b""]))
    ['a1', 'b2']
    """
    for line in lines:
        if not line:
            continue
        try:
            document = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(document, dict) and isinstance(document.get("_id"), str):
            yield document["_id"]


def _digest(descriptor: int, offset: int) -> str:
    """A digest of the first bytes of the file and of the last ones before ``offset``."""
    head = os.pread(descriptor, min(_HEAD, offset), 0)
    start = max(0, offset - _TAIL)
    tail = os.pread(descriptor, offset - start, start)
    return blake2b(head + b"\x00" + tail, digest_size=16).hexdigest()


class AlertIdIndex:
    """The alert ids of one NDJSON file (and its incidents' digests), in a SQLite file beside it.

    Every call is made while the caller holds the alert file's lock, so several processes
    sharing the file (and the index) take turns.

    Parameters
    ----------
    path
        The index file (:func:`alert_ids_path` of the alert file).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.execute("CREATE TABLE IF NOT EXISTS ids (id TEXT PRIMARY KEY) WITHOUT ROWID")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS incidents (id TEXT PRIMARY KEY, digest BLOB NOT NULL)"
            " WITHOUT ROWID"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS covered"
            " (one INTEGER PRIMARY KEY CHECK (one = 1), device INTEGER, inode INTEGER,"
            " offset INTEGER, digest TEXT)"
        )

    def resume(self, descriptor: int) -> int | None:
        """Where the part of the file open at ``descriptor`` not covered yet begins.

        None where the index covers the whole file; 0 where it was made for another file
        or the file no longer holds what it covered (read it all again, and :meth:`add`
        with ``anew``).
        """
        info = os.fstat(descriptor)
        row = self._db.execute("SELECT device, inode, offset, digest FROM covered").fetchone()
        if row is None:
            return 0
        device, inode, covered, digest = row
        if (
            (device, inode) != (info.st_dev, info.st_ino)
            or covered > info.st_size
            or digest != _digest(descriptor, covered)
        ):
            return 0
        return None if covered == info.st_size else covered

    def catch_up(self, descriptor: int, lines: LineReader) -> int:
        """Take in the ids of the lines of the file open at ``descriptor`` not covered yet.

        ``lines(descriptor, start, end)`` reads them.

        The index starts again from the file's first byte where it was made for another
        file or the file no longer holds what it covered. Returns how many bytes of the
        file were read (0 when the index was up to date).
        """
        start = self.resume(descriptor)
        if start is None:
            return 0
        size = os.fstat(descriptor).st_size
        self.add(line_ids(lines(descriptor, start, size)), descriptor, anew=start == 0)
        return size - start

    def known(self, ids: list[str]) -> set[str]:
        """Those of ``ids`` the index holds."""
        found: set[str] = set()
        for start in range(0, len(ids), _LOOKUP):
            part = ids[start : start + _LOOKUP]
            marks = ",".join("?" * len(part))
            rows = self._db.execute(f"SELECT id FROM ids WHERE id IN ({marks})", part)
            found.update(row[0] for row in rows)
        return found

    def digests(self, ids: list[str]) -> dict[str, bytes]:
        """The digest of the last document of those of incident ``ids`` the index holds."""
        found: dict[str, bytes] = {}
        for start in range(0, len(ids), _LOOKUP):
            part = ids[start : start + _LOOKUP]
            marks = ",".join("?" * len(part))
            rows = self._db.execute(f"SELECT id, digest FROM incidents WHERE id IN ({marks})", part)
            found.update(rows)
        return found

    def add(
        self,
        ids: Iterable[str],
        descriptor: int,
        *,
        digests: Mapping[str, bytes] | None = None,
        anew: bool = False,
    ) -> None:
        """Record ``ids`` and incident ``digests``, just appended or read.

        The index then covers the whole file open at ``descriptor``. ``anew``: they are
        all the file holds (it was read from its first byte); what the index held before
        is dropped.
        """
        self._db.execute("BEGIN IMMEDIATE")
        try:
            if anew:
                self._db.execute("DELETE FROM ids")
                self._db.execute("DELETE FROM incidents")
            self._db.executemany("INSERT OR IGNORE INTO ids VALUES (?)", ((i,) for i in ids))
            if digests:
                self._db.executemany(
                    "INSERT OR REPLACE INTO incidents VALUES (?, ?)", digests.items()
                )
            self._cover(descriptor, os.fstat(descriptor))
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def count(self) -> int:
        """How many alert ids the index holds."""
        return int(self._db.execute("SELECT count(*) FROM ids").fetchone()[0])

    def incident_count(self) -> int:
        """How many incidents the index holds a digest of."""
        return int(self._db.execute("SELECT count(*) FROM incidents").fetchone()[0])

    def close(self) -> None:
        """Close the index."""
        self._db.close()

    def _cover(self, descriptor: int, info: os.stat_result) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO covered VALUES (1, ?, ?, ?, ?)",
            (info.st_dev, info.st_ino, info.st_size, _digest(descriptor, info.st_size)),
        )
