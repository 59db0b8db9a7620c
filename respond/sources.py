"""Per-source counters and the registered ministries, kept in the embedded store's SQLite file.

The running pipeline adds each checkpoint's :func:`respond.silence.source_activity` rows
(:meth:`SourceStats.record`), and saves the silent-source state with them; ``neakta
ministries list`` reads them (:meth:`SourceStats.ministries`) from another process. Tables,
next to the alerts and incidents of :mod:`respond.store` (WAL mode, so readers do not
block the pipeline)::

    ministries     id (PK), name, added
    source_stats   organization_id, kind, name (PK together), events, last_event,
                   rate, updated
    source_state   key (PK), value              (JSON: the silent-source clock)

``rate`` is an exponentially decaying events-per-second rate with a time constant of
:data:`RATE_WINDOW_S` (wall-clock seconds): each record adds ``events / window`` after
decaying the old value by ``exp(-elapsed / window)``; a reader decays it to "now", so a
source that stopped sending drifts towards 0/s.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import orjson
import polars as pl

from respond.errors import RespondError

__all__ = ["RATE_WINDOW_S", "MinistryRow", "SourceStats", "decayed_rate"]

RATE_WINDOW_S: Final = 60.0
"""Time constant, in seconds, of the events-per-second rates."""

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS ministries (id TEXT PRIMARY KEY, name TEXT, added TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS source_stats (
    organization_id TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,
    events INTEGER NOT NULL, last_event TEXT, rate REAL NOT NULL, updated TEXT NOT NULL,
    PRIMARY KEY (organization_id, kind, name));
CREATE TABLE IF NOT EXISTS source_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_UPSERT: Final = """
INSERT INTO source_stats (organization_id, kind, name, events, last_event, rate, updated)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (organization_id, kind, name) DO UPDATE SET
    events = events + excluded.events,
    last_event = max(coalesce(last_event, ''), excluded.last_event),
    rate = excluded.rate,
    updated = excluded.updated
"""


def decayed_rate(rate: float, elapsed_s: float, window_s: float = RATE_WINDOW_S) -> float:
    """A decaying rate ``elapsed_s`` seconds later.

    >>> round(decayed_rate(10.0, 60.0), 2)
    3.68
    >>> decayed_rate(10.0, -5.0)
    10.0
    """
    return rate * math.exp(-max(elapsed_s, 0.0) / window_s)


@dataclass(frozen=True, slots=True)
class MinistryRow:
    """One source of one ministry, as ``neakta ministries list`` shows it."""

    ministry: str
    name: str | None
    kind: str | None
    source: str | None
    events: int
    last_event: datetime | None
    rate: float


class SourceStats:
    """The counters and registered ministries in a SQLite file (created if missing).

    Raises
    ------
    respond.errors.RespondError
        The file cannot be opened or is not an SQLite database.
    """

    def __init__(self, path: str | Path) -> None:
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.DatabaseError) as error:
            raise RespondError(f"cannot open the store {path}: {error}") from None

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def add_ministry(self, ministry: str, name: str | None, *, now: datetime) -> None:
        """Register a ministry (a second call renames it)."""
        self._db.execute(
            "INSERT INTO ministries (id, name, added) VALUES (?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET name = coalesce(excluded.name, name)",
            (ministry, name, now.isoformat()),
        )

    def record(self, activity: pl.DataFrame, *, now: datetime) -> None:
        """Add one checkpoint's :data:`respond.silence.ACTIVITY_SCHEMA` rows, in one transaction."""
        if activity.height == 0:
            return
        keys = [(org, kind, name) for org, kind, name in activity.select(
            "organization.id", "kind", "name").iter_rows()]  # fmt: skip
        previous = self._rates(keys)
        rows = []
        for org, kind, name, _first, last, events in activity.iter_rows():
            rate, updated = previous.get((org, kind, name), (0.0, now))
            elapsed = (now - updated).total_seconds()
            fresh = decayed_rate(rate, elapsed) + events / RATE_WINDOW_S
            rows.append((org, kind, name, events, last.isoformat(), fresh, now.isoformat()))
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(_UPSERT, rows)

    def _rates(self, keys: list[tuple[str, str, str]]) -> dict[tuple[str, str, str], Any]:
        found = {}
        for key in keys:
            row = self._db.execute(
                "SELECT rate, updated FROM source_stats "
                "WHERE organization_id = ? AND kind = ? AND name = ?",
                key,
            ).fetchone()
            if row is not None:
                found[key] = (row[0], datetime.fromisoformat(row[1]))
        return found

    def save_state(self, key: str, value: Any) -> None:
        """Keep a JSON-ready value (the silent-source clock) under ``key``."""
        self._db.execute(
            "INSERT INTO source_state (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, orjson.dumps(value).decode()),
        )

    def load_state(self, key: str) -> Any:
        """The value saved under ``key``, or None."""
        row = self._db.execute("SELECT value FROM source_state WHERE key = ?", (key,)).fetchone()
        return None if row is None else orjson.loads(row[0])

    def ministries(self, *, now: datetime, kind: str = "family") -> list[MinistryRow]:
        """Every registered or seen ministry's sources of ``kind``, rates decayed to ``now``.

        A registered ministry that never sent has one row with no source.
        """
        rows = self._db.execute(
            """
            SELECT m.id, m.name, s.kind, s.name, s.events, s.last_event, s.rate, s.updated
            FROM ministries m LEFT JOIN source_stats s
                ON s.organization_id = m.id AND s.kind = ?
            UNION ALL
            SELECT s.organization_id, NULL, s.kind, s.name, s.events, s.last_event, s.rate,
                s.updated
            FROM source_stats s
            WHERE s.kind = ? AND s.organization_id NOT IN (SELECT id FROM ministries)
            ORDER BY 1, 4
            """,
            (kind, kind),
        ).fetchall()
        return [
            MinistryRow(
                ministry=org,
                name=name,
                kind=source_kind,
                source=source,
                events=events or 0,
                last_event=None if last is None else datetime.fromisoformat(last),
                rate=0.0
                if rate is None
                else decayed_rate(rate, (now - datetime.fromisoformat(updated)).total_seconds()),
            )
            for org, name, source_kind, source, events, last, rate, updated in rows
        ]
