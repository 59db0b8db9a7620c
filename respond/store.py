"""The embedded store: alerts, incidents and the incident tracker's state in one SQLite file.

No server: stdlib :mod:`sqlite3` in WAL mode, so the CLI can read while the pipeline
writes; committed pages are copied back into the file by a thread of their own
(:mod:`respond.wal`), not by the commit a batch waits for. Each table keeps the JSON
document plus the columns the queries filter and sort on::

    alerts            id (PK), timestamp, rule_id, organization_id, severity, document
    incidents         id (PK), state, severity, organization_id, title, first_seen,
                      last_seen, alert_count, document, state_changed_at/_by, state_note
    incident_history  incident_id, at, state, who, note    (every state change)
    tracker           incident_id (PK), state              (the tracker's incidents)

:meth:`SqliteStore.write` is one transaction per batch: alerts are inserted by ``_id``
(an id already held counts as a duplicate), incidents are upserted (an analyst's state is
kept, and a closed incident is never changed again), and when the store was given the
tracker, what the batch changed in it (:meth:`respond.incidents.IncidentTracker.changes`:
the incidents touched, those dropped) is saved in the same transaction, so a restart
resumes exactly the incidents of the batches written. All rows go in with ``executemany``.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Final, Literal

import orjson
import polars as pl

from respond.documents import documents
from respond.encoded import encoded_rows
from respond.errors import RespondError, SinkUnavailableError
from respond.incidents import IncidentTracker, TrackerChanges
from respond.sinks import DEAD_DOCUMENT_SCHEMA, Delivery, SinkBatch
from respond.wal import WRITER_CHECKPOINT_PAGES, WalCheckpointer

__all__ = ["IncidentNotFoundError", "IncidentStateError", "SqliteStore"]

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY, timestamp TEXT, rule_id TEXT, organization_id TEXT,
    severity INTEGER, document TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS alerts_time ON alerts (timestamp);
CREATE TABLE IF NOT EXISTS incidents (
    id TEXT PRIMARY KEY, state TEXT NOT NULL, severity INTEGER NOT NULL,
    organization_id TEXT, title TEXT, first_seen TEXT, last_seen TEXT,
    alert_count INTEGER NOT NULL, document TEXT NOT NULL,
    state_changed_at TEXT, state_changed_by TEXT, state_note TEXT);
CREATE INDEX IF NOT EXISTS incidents_rank ON incidents (severity DESC, last_seen DESC);
CREATE INDEX IF NOT EXISTS incidents_state ON incidents (state, organization_id);
CREATE TABLE IF NOT EXISTS incident_history (
    incident_id TEXT NOT NULL, at TEXT NOT NULL, state TEXT NOT NULL, who TEXT, note TEXT);
CREATE INDEX IF NOT EXISTS incident_history_id ON incident_history (incident_id);
CREATE TABLE IF NOT EXISTS tracker (incident_id TEXT PRIMARY KEY, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS incident_seen (
    alert_id TEXT NOT NULL, incident_id TEXT NOT NULL, PRIMARY KEY (alert_id, incident_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS incident_seen_incident ON incident_seen (incident_id);
"""
_UPDATE_INCIDENT: Final = """
UPDATE incidents SET severity = ?, organization_id = ?, title = ?, first_seen = ?,
    last_seen = ?, alert_count = ?, document = ?
WHERE id = ? AND state != 'closed'
"""
PAGE_SIZE: Final = 16_384
"""Page size of a new store's file (SQLite's default is 4,096)."""
CACHE_KIB: Final = 65_536
"""The store connection's page cache in KiB (SQLite's default is 2,000 KiB)."""
_IDS_PER_QUERY: Final = 500
"""Ids asked for in one ``IN (...)`` (SQLite builds before 3.32 take 999 parameters)."""
_LIST_COLUMNS: Final = (
    "id, state, severity, organization_id, title, first_seen, last_seen, alert_count, "
    "state_changed_at, state_changed_by, state_note"
)


class IncidentNotFoundError(RespondError):
    """No incident has this id."""


class IncidentStateError(RespondError):
    """The state change is not allowed (a closed incident stays closed)."""


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(value: Any) -> str | None:
    if not isinstance(value, datetime):
        return None if value is None else str(value)
    moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return moment.isoformat(timespec="microseconds")


def _iso_texts(values: pl.Series) -> list[str | None]:
    """:func:`_iso` of every value, formatted by Polars where the series holds datetimes.

    >>> from datetime import timedelta, timezone
    >>> moment = datetime(2026, 1, 1, 8, 30, tzinfo=timezone(timedelta(hours=7)))
    >>> _iso_texts(pl.Series([moment, None]))
    ['2026-01-01T01:30:00.000000+00:00', None]
    """
    dtype = values.dtype
    if not isinstance(dtype, pl.Datetime):
        return [_iso(value) for value in values.to_list()]
    utc = (
        values.dt.replace_time_zone("UTC")
        if dtype.time_zone is None
        else values.dt.convert_time_zone("UTC")
    )
    return utc.dt.strftime("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_list()


def _json(document: dict[str, Any]) -> str:
    return orjson.dumps(document, option=orjson.OPT_NAIVE_UTC).decode()


_ALERT_FIELDS: Final = ("@timestamp", "rule.id", "organization.id", "event.severity")
_ALERT_TIMES: Final = frozenset({"@timestamp"})
_INCIDENT_TIMES: Final = frozenset({"incident.first_seen", "incident.last_seen"})
_INCIDENT_FIELDS: Final = (
    "incident.severity",
    "organization.id",
    "incident.title",
    "incident.first_seen",
    "incident.last_seen",
    "incident.alert_count",
)


def _fast_rows(
    frame: pl.DataFrame, fields: tuple[str, ...], times: frozenset[str] = frozenset()
) -> tuple[list[str], list[list[Any]]] | None:
    """The documents' JSON (:func:`respond.encoded.encoded_rows`) and these fields' values.

    A field's value is what its document holds there: the column's value, None where the
    column is null or absent; for the fields in ``times``, its :func:`_iso` text. None (the
    caller nests row by row) where the documents cannot be built that way, or a field is
    not a plain value in them: a column under it (``rule.id.x``), or one where its parent
    would be (``rule``).
    """
    names = set(frame.columns)
    for field in fields:
        parts = field.split(".")
        parents = {".".join(parts[:end]) for end in range(1, len(parts))}
        if names & parents or any(name.startswith(field + ".") for name in names):
            return None
    texts = encoded_rows(frame, naive_utc=True)
    if texts is None:
        return None
    absent = [None] * frame.height
    values = [
        absent
        if f not in names
        else _iso_texts(frame.get_column(f))
        if f in times
        else frame.get_column(f).to_list()
        for f in fields
    ]
    return texts.to_list(), values


class SqliteStore:
    """An :class:`respond.sinks.AlertSink` over one SQLite file, and the CLI's queries.

    Parameters
    ----------
    path
        The database file; its folder is created.
    tracker
        The pipeline's incident tracker: saved with every batch (see :meth:`resume`).
    clock
        The time stamped on state changes.

    Examples
    --------
    >>> import tempfile
    >>> store = SqliteStore(Path(tempfile.mkdtemp()) / "neakta.db")
    >>> store.list_incidents()
    []
    >>> store.close_now()
    """

    STATES: ClassVar[tuple[str, ...]] = ("open", "acknowledged", "closed")

    def __init__(
        self,
        path: Path,
        *,
        tracker: IncidentTracker | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.tracker = tracker
        self._clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        # Alert documents are about 6 KB: on 4 KiB pages each spills onto overflow pages,
        # which cost a third of the time of writing them. A new store only: an existing
        # WAL file keeps the page size it was created with.
        self._db.execute(f"PRAGMA page_size={PAGE_SIZE}")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        # A batch's alerts are tens of MB and land all over the id and time indexes: with
        # SQLite's 2 MB cache each write reads back the index pages the last one evicted.
        self._db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        # Committed pages are copied back into the file by another thread (respond.wal).
        self._db.execute(f"PRAGMA wal_autocheckpoint={WRITER_CHECKPOINT_PAGES}")
        self._checkpointer = WalCheckpointer(path)
        self._db.executescript(_SCHEMA)
        if tracker is not None:
            # The alert ids the tracker's incidents forgot are kept here (incident_seen).
            tracker.known = self.seen_alerts

    async def write(self, batch: SinkBatch) -> Delivery:
        """Write a batch in one transaction; raise ``SinkUnavailableError`` on a DB error."""
        # The tracker's changes, taken when the batch was detected, else as they are now.
        taken = changes = None
        if self.tracker is not None:
            taken = batch.tracker
            changes = self.tracker.changes() if taken is None else taken
        try:
            # Rows are built off the event loop too (mostly in Polars' engine).
            written, total, dead = await asyncio.to_thread(self._write_batch, batch, changes)
        except sqlite3.Error as error:
            raise SinkUnavailableError(f"sqlite store {self.path}: {error}") from error
        if self.tracker is not None:
            if taken is None:
                self.tracker.saved()
            else:
                self.tracker.written(taken)
        dead_frame = pl.DataFrame(dead, schema=DEAD_DOCUMENT_SCHEMA, orient="row")
        return Delivery(written=written, duplicates=total - written, dead=dead_frame)

    def _write_batch(
        self, batch: SinkBatch, changes: TrackerChanges | None
    ) -> tuple[int, int, list[tuple[str, str, str, str]]]:
        """Build the rows and write them; alerts written, alerts offered, dead documents."""
        alerts, dead = self._alert_rows(batch.alerts)
        incidents = self._incident_rows(batch.incidents)
        return self._write(alerts, incidents, changes), len(alerts), dead

    async def close(self) -> None:
        """Close the connection."""
        self.close_now()

    def close_now(self) -> None:
        """Close the connection (for synchronous callers such as the CLI)."""
        self._checkpointer.close()
        with self._lock:
            self._db.close()

    def resume(self, tracker: IncidentTracker) -> int:
        """Load the saved tracker state into ``tracker``; return how many incidents."""
        with self._lock:
            rows = self._db.execute("SELECT state FROM tracker").fetchall()
        states = [orjson.loads(row["state"]) for row in rows]
        # Oldest first, as the tracker lists them (rows are upserted in any order).
        states.sort(key=lambda s: (datetime.fromisoformat(s["first_seen"]), s["id"]))
        tracker.restore(states)
        return len(rows)

    async def sync_tracker(self, tracker: IncidentTracker) -> None:
        """Give the tracker the states analysts set since (a closed incident takes no alert)."""
        ids = [incident.id for incident in tracker.incidents]
        tracker.set_state(await asyncio.to_thread(self.incident_states, ids))

    def seen_alerts(self, alert_ids: Sequence[str]) -> set[tuple[str, str]]:
        """(incident id, alert id) of these alerts as counted by incidents held in memory.

        The tracker's incidents keep the ids of their recent alerts; the older ones are
        kept here while the incident is held (see :class:`respond.incidents.IncidentTracker`).
        """
        query = "SELECT incident_id, alert_id FROM incident_seen WHERE alert_id IN ({})"
        return {(str(row[0]), str(row[1])) for row in self._by_ids(query, alert_ids)}

    def incident_states(self, ids: Sequence[str]) -> dict[str, str]:
        """The stored state of each of these incidents that the store holds."""
        return dict(self._by_ids("SELECT id, state FROM incidents WHERE id IN ({})", ids))

    def list_incidents(
        self,
        *,
        state: str | None = None,
        organization: str | None = None,
        min_severity: int = 0,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Incidents, most severe first, then most recent last alert first."""
        clauses: list[str] = ["severity >= ?"]
        values: list[str | int] = [min_severity]
        if state is not None:
            clauses.append("state = ?")
            values.append(state)
        if organization is not None:
            clauses.append("organization_id = ?")
            values.append(organization)
        query = (
            f"SELECT {_LIST_COLUMNS} FROM incidents WHERE {' AND '.join(clauses)} "
            "ORDER BY severity DESC, last_seen DESC, id LIMIT ?"
        )
        with self._lock:
            rows = self._db.execute(query, [*values, limit]).fetchall()
        return [dict(row) for row in rows]

    def get_incident(self, incident_id: str) -> dict[str, Any]:
        """One incident: its document, state, history and the alerts it lists."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_LIST_COLUMNS}, document FROM incidents WHERE id = ?",
                (incident_id,),
            ).fetchone()
            if row is None:
                raise IncidentNotFoundError(f"no incident {incident_id!r}")
            result = dict(row)
            document = orjson.loads(result.pop("document"))
            ids = document.get("incident", {}).get("alert_ids", [])
            history = self._db.execute(
                "SELECT at, state, who, note FROM incident_history WHERE incident_id = ? "
                "ORDER BY at, rowid",
                (incident_id,),
            ).fetchall()
        by_id = self.alert_documents(ids)
        document.setdefault("incident", {})["state"] = result["state"]
        result["document"] = document
        result["alerts"] = [{"_id": i, **by_id[i]} for i in ids if i in by_id]
        result["history"] = [dict(h) for h in history]
        return result

    def alert_documents(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The documents of the alerts with these ids that the store holds, by id."""
        rows = self._by_ids("SELECT id, document FROM alerts WHERE id IN ({})", ids)
        return {identifier: orjson.loads(document) for identifier, document in rows}

    def _by_ids(self, query: str, ids: Sequence[str]) -> list[tuple[Any, ...]]:
        """The rows of ``query`` (``{}`` marks where the ids go) for ``ids``, 500 at a time."""
        rows: list[tuple[Any, ...]] = []
        with self._lock:
            for start in range(0, len(ids), 500):
                chunk = list(ids[start : start + 500])
                marks = ",".join("?" * len(chunk))
                rows.extend(tuple(row) for row in self._db.execute(query.format(marks), chunk))
        return rows

    def set_state(
        self,
        incident_id: str,
        state: Literal["acknowledged", "closed"],
        *,
        who: str,
        note: str | None = None,
    ) -> dict[str, Any]:
        """Acknowledge or close an incident, stamping who, when and why."""
        at = _iso(self._clock())
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    "SELECT state FROM incidents WHERE id = ?", (incident_id,)
                ).fetchone()
                if row is None:
                    raise IncidentNotFoundError(f"no incident {incident_id!r}")
                if row["state"] == "closed":
                    raise IncidentStateError(f"incident {incident_id} is closed")
                self._db.execute(
                    "UPDATE incidents SET state = ?, state_changed_at = ?, "
                    "state_changed_by = ?, state_note = ? WHERE id = ?",
                    (state, at, who, note, incident_id),
                )
                self._db.execute(
                    "INSERT INTO incident_history VALUES (?, ?, ?, ?, ?)",
                    (incident_id, at, state, who, note),
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return self.get_incident(incident_id)

    def count_alerts(self) -> int:
        """How many alerts the store holds."""
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM alerts").fetchone()[0])

    def _alert_rows(
        self, alerts: pl.DataFrame
    ) -> tuple[list[tuple[Any, ...]], list[tuple[str, str, str, str]]]:
        rows: list[tuple[Any, ...]] = []
        dead: list[tuple[str, str, str, str]] = []
        if alerts.height == 0:
            return rows, dead
        fast = _fast_rows(alerts, _ALERT_FIELDS, _ALERT_TIMES)
        if fast is not None:
            texts, (stamps, rules, orgs, severities) = fast
            ids = alerts.get_column("_id").to_list()
            return list(zip(ids, stamps, rules, orgs, severities, texts, strict=True)), dead
        for identifier, document in documents(alerts):
            try:
                text = _json(document)
            except orjson.JSONEncodeError as error:
                dead.append((identifier, "alerts", f"not JSON: {error}", repr(document)[:2000]))
                continue
            rule = document.get("rule", {})
            org = document.get("organization", {})
            event = document.get("event", {})
            stamp = document.get("@timestamp")
            rows.append(
                (
                    identifier,
                    _iso(stamp),
                    rule.get("id"),
                    org.get("id"),
                    event.get("severity"),
                    text,
                )
            )
        return rows, dead

    def _incident_rows(self, incidents: pl.DataFrame) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = []
        if incidents.height == 0 or "incident.severity" not in incidents.columns:
            return rows
        fast = _fast_rows(incidents, _INCIDENT_FIELDS, _INCIDENT_TIMES)
        if fast is not None:
            texts, (severities, orgs, titles, firsts, lasts, counts) = fast
            return list(
                zip(
                    incidents.get_column("_id").to_list(),
                    [0 if value is None else value for value in severities],
                    orgs,
                    titles,
                    firsts,
                    lasts,
                    [0 if value is None else value for value in counts],
                    texts,
                    strict=True,
                )
            )
        for identifier, document in documents(incidents):
            incident = document.get("incident", {})
            rows.append(
                (
                    identifier,
                    incident.get("severity", 0),
                    document.get("organization", {}).get("id"),
                    incident.get("title"),
                    _iso(incident.get("first_seen")),
                    _iso(incident.get("last_seen")),
                    incident.get("alert_count", 0),
                    _json(document),
                )
            )
        return rows

    def _write(
        self,
        alerts: list[tuple[Any, ...]],
        incidents: list[tuple[Any, ...]],
        changes: TrackerChanges | None,
    ) -> int:
        at = _iso(self._clock())
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                written = self._db.executemany(
                    "INSERT OR IGNORE INTO alerts VALUES (?, ?, ?, ?, ?, ?)", alerts
                ).rowcount
                self._write_incidents(incidents, at)
                if changes is not None:
                    self._save_tracker(changes)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            self._checkpointer.committed()
        return max(written, 0)

    def _write_incidents(self, incidents: list[tuple[Any, ...]], at: str | None) -> None:
        """Open the incidents not stored yet (with their history row), update the others.

        A batch may carry one incident twice (opened, then changed): the first row opens
        it and the later ones update it, in their order, as one statement a row would.
        """
        stored = self._stored_incidents([row[0] for row in incidents])
        opened: list[tuple[Any, ...]] = []
        updated: list[tuple[Any, ...]] = []
        for identifier, severity, org, title, first, last, count, text in incidents:
            if identifier in stored:
                updated.append((severity, org, title, first, last, count, text, identifier))
            else:
                stored.add(identifier)
                opened.append((identifier, severity, org, title, first, last, count, text, at))
        self._db.executemany(
            "INSERT INTO incidents VALUES (?, 'open', ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
            opened,
        )
        self._db.executemany(
            "INSERT INTO incident_history VALUES (?, ?, 'open', NULL, NULL)",
            ((row[0], at) for row in opened),
        )
        self._db.executemany(_UPDATE_INCIDENT, updated)

    def _stored_incidents(self, identifiers: list[str]) -> set[str]:
        """Which of ``identifiers`` the store holds already."""
        stored: set[str] = set()
        unique = list(dict.fromkeys(identifiers))
        for start in range(0, len(unique), _IDS_PER_QUERY):
            chunk = unique[start : start + _IDS_PER_QUERY]
            marks = ", ".join("?" * len(chunk))
            query = f"SELECT id FROM incidents WHERE id IN ({marks})"
            stored.update(row[0] for row in self._db.execute(query, chunk))
        return stored

    def _save_tracker(self, changes: TrackerChanges) -> None:
        """Save the tracker's changes; keep what its incidents forgot while they are held."""
        self._db.executemany(
            "INSERT OR IGNORE INTO incident_seen VALUES (?, ?)",
            ((alert, incident) for incident, alert in changes.forgotten),
        )
        if changes.whole:
            self._db.execute("DELETE FROM tracker")
        else:
            dropped = [(i,) for i in changes.dropped]
            self._db.executemany("DELETE FROM tracker WHERE incident_id = ?", dropped)
            self._db.executemany("DELETE FROM incident_seen WHERE incident_id = ?", dropped)
        self._db.executemany(
            "INSERT OR REPLACE INTO tracker VALUES (?, ?)",
            ((identifier, state.decode()) for identifier, state in changes.states),
        )
        if changes.whole:
            # Incidents no longer held: no alert will be looked up for them.
            self._db.execute(
                "DELETE FROM incident_seen WHERE incident_id NOT IN "
                "(SELECT incident_id FROM tracker)"
            )
