"""Reading a report's data from the embedded store (:mod:`respond.store`).

The store's file is opened read-only, so a running pipeline keeps writing. SQLite itself
picks the fields out of the JSON documents (``json_extract``), so no document is parsed
in Python; arrays come out as JSON text that Polars decodes. The frames are the same as
:mod:`respond.report.frames` builds from documents. The silent log sources come from the
silence clock in ``source_state`` and the counters in ``source_stats``
(:mod:`respond.report.silent`); a store without these tables (written before sources were
tracked) gives ``None``, and the report says silent sources are not tracked.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import orjson
import polars as pl

from respond.report.build import ReportData
from respond.report.frames import ADDRESS_COLUMNS, ALERT_SCHEMA, INCIDENT_SCHEMA
from respond.report.silent import SilentSource, silent_from_clock
from respond.report.sources import ReportSourceError
from respond.source_watch import CLOCK_KEY

__all__ = ["read_sqlite"]

_LIST: Final = pl.List(pl.String())


def _text(path: str) -> str:
    return f"CAST(json_extract(document, '$.{path}') AS TEXT)"


def _names(path: str) -> str:
    """A JSON array of the values at ``path`` (a single value becomes a one-item array)."""
    kind = f"coalesce(json_type(document, '$.{path}'), 'null')"
    return (
        f"CASE {kind} WHEN 'array' THEN json_extract(document, '$.{path}') "
        f"WHEN 'null' THEN '[]' ELSE json_array(json_extract(document, '$.{path}')) END"
    )


_ALERT_SELECT: Final = (
    "id",
    "timestamp",
    "organization_id",
    "CAST(json_extract(document, '$.event.severity') AS INTEGER)",
    _text("neakta.rule.level"),
    _text("rule.id"),
    _text("rule.name"),
    _text("message"),
    _text("neakta.incident.id"),
    *(_text(column) for column in ADDRESS_COLUMNS),
    _names("threat.tactic.id"),
    _names("threat.technique.id"),
    _names("threat.technique.subtechnique.id"),
    _text("event.original"),
)
_INCIDENT_SELECT: Final = (
    "id",
    "state",
    "severity",
    "organization_id",
    "title",
    _text("incident.entity"),
    "first_seen",
    "last_seen",
    "alert_count",
    _names("incident.alert_ids"),
)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def _where(column: str, ministry: str | None, since: datetime | None) -> tuple[str, list[str]]:
    clauses, values = ["1 = 1"], []
    if ministry is not None:
        clauses.append("organization_id = ?")
        values.append(ministry)
    if since is not None:
        clauses.append(f"{column} >= ?")
        values.append(_iso(since))
    return " AND ".join(clauses), values


def _frame(rows: list[tuple[Any, ...]], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Rows of text, numbers and JSON arrays to ``schema`` (times are the store's ISO text)."""
    text_schema = {
        name: pl.String() if isinstance(dtype, pl.List | pl.Datetime) else dtype
        for name, dtype in schema.items()
    }
    frame = pl.DataFrame(rows, schema=text_schema, orient="row")
    return frame.with_columns(
        pl.col(name).str.json_decode(_LIST)
        if isinstance(dtype, pl.List)
        else pl.col(name).str.to_datetime(time_unit="us", time_zone="UTC", strict=False)
        for name, dtype in schema.items()
        if isinstance(dtype, pl.List | pl.Datetime)
    )


def read_sqlite(path: Path, *, ministry: str | None, since: datetime | None) -> ReportData:
    """The report's data from the embedded store at ``path``.

    Raises
    ------
    ReportSourceError
        There is no store at ``path``, or it cannot be read.
    """
    if not path.is_file():
        raise ReportSourceError(f"no incident store at {path}")
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as error:
        raise ReportSourceError(f"cannot open the store {path}: {error}") from error
    try:
        where, values = _where("last_seen", ministry, since)
        incidents = db.execute(
            f"SELECT {', '.join(_INCIDENT_SELECT)} FROM incidents WHERE {where}", values
        ).fetchall()
        where, values = _where("timestamp", ministry, since)
        alerts = db.execute(
            f"SELECT {', '.join(_ALERT_SELECT)} FROM alerts WHERE {where} ORDER BY timestamp, id",
            values,
        ).fetchall()
        silent = _silent_sources(db, ministry)
    except sqlite3.Error as error:
        raise ReportSourceError(f"cannot read the store {path}: {error}") from error
    finally:
        db.close()
    return ReportData(
        incidents=_frame(incidents, INCIDENT_SCHEMA),
        alerts=_frame(alerts, ALERT_SCHEMA),
        silent_sources=silent,
        source=f"SQLite {path}",
    )


def _silent_sources(db: sqlite3.Connection, ministry: str | None) -> list[SilentSource] | None:
    tables = {
        name
        for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name IN ('source_state', 'source_stats')"
        )
    }
    if "source_state" not in tables:
        return None
    saved = db.execute("SELECT value FROM source_state WHERE key = ?", (CLOCK_KEY,)).fetchone()
    clock = None if saved is None else orjson.loads(saved[0])
    last_events = {}
    if "source_stats" in tables:
        where, values = ("", []) if ministry is None else ("WHERE organization_id = ?", [ministry])
        for org, kind, name, last in db.execute(
            f"SELECT organization_id, kind, name, last_event FROM source_stats {where}", values
        ):
            if last:
                last_events[(org, kind, name)] = datetime.fromisoformat(last)
    return silent_from_clock(clock, last_events, ministry=ministry)
