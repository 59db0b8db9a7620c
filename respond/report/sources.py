"""Reading a report's data: from the embedded SQLite store or from Elasticsearch.

Both give a :class:`respond.report.build.ReportData`: the incidents whose last alert is
at or after ``since`` and the alerts stamped at or after it (all of them when ``since``
is ``None``), for one ``organization.id`` or for all.

* SQLite: the store's file (:mod:`respond.store`), opened read-only, so a running
  pipeline keeps writing. A ``silent_sources`` table, if the store holds one, is read
  as it is; without it the report says silent sources are not tracked.
* Elasticsearch: one search per index with a ``bool`` filter (``range`` on the time,
  ``term`` on ``organization.id``), sorted by time, at most ``size`` hits each (the
  cluster's ``index.max_result_window`` is 10,000 by default); when a search matches
  more, the data is marked truncated and the report says so.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import orjson
from elasticsearch import ApiError as ElasticApiError
from elasticsearch import AsyncElasticsearch, TransportError

from respond.errors import RespondError
from respond.report.build import ReportData
from respond.report.frames import alerts_frame, incidents_frame

__all__ = ["ReportSourceError", "read_elastic", "read_sqlite"]

SILENT_TABLE: Final = "silent_sources"
_MAX_HITS: Final = 10_000


class ReportSourceError(RespondError):
    """The report's data cannot be read (no store, cluster unreachable, bad answer)."""


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
    db.row_factory = sqlite3.Row
    try:
        incident_filter, incident_values = _where("last_seen", ministry, since)
        incidents = []
        for row in db.execute(
            f"SELECT state, document FROM incidents WHERE {incident_filter}", incident_values
        ):
            document = orjson.loads(row["document"])
            document.setdefault("incident", {})["state"] = row["state"]
            incidents.append(document)
        alert_filter, alert_values = _where("timestamp", ministry, since)
        alerts = [
            {"_id": row["id"], **orjson.loads(row["document"])}
            for row in db.execute(
                f"SELECT id, document FROM alerts WHERE {alert_filter} ORDER BY timestamp, id",
                alert_values,
            )
        ]
        silent = _silent_sources(db)
    except (sqlite3.Error, orjson.JSONDecodeError) as error:
        raise ReportSourceError(f"cannot read the store {path}: {error}") from error
    finally:
        db.close()
    return ReportData(
        incidents=incidents_frame(incidents),
        alerts=alerts_frame(alerts),
        silent_sources=silent,
        source=f"SQLite {path}",
    )


def _silent_sources(db: sqlite3.Connection) -> list[dict[str, Any]] | None:
    held = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (SILENT_TABLE,)
    ).fetchone()
    if held is None:
        return None
    return [dict(row) for row in db.execute(f"SELECT * FROM {SILENT_TABLE}")]


def _query(field: str, ministry: str | None, since: datetime | None) -> dict[str, Any]:
    filters: list[dict[str, Any]] = []
    if since is not None:
        filters.append({"range": {field: {"gte": _iso(since)}}})
    if ministry is not None:
        filters.append({"term": {"organization.id": ministry}})
    return {"bool": {"filter": filters}}


async def _search(
    client: AsyncElasticsearch, index: str, field: str, query: dict[str, Any], size: int
) -> tuple[list[dict[str, Any]], bool]:
    answer = await client.search(
        index=index,
        query=query,
        size=size,
        sort=[{field: {"order": "asc"}}],
        track_total_hits=True,
        ignore_unavailable=True,
    )
    hits = answer["hits"]
    documents = [{"_id": hit["_id"], **hit["_source"]} for hit in hits["hits"]]
    total = hits["total"]
    return documents, total["value"] > len(documents) or total.get("relation") == "gte"


async def read_elastic(
    client: AsyncElasticsearch,
    *,
    alerts_index: str,
    incidents_index: str,
    ministry: str | None,
    since: datetime | None,
    size: int = _MAX_HITS,
) -> ReportData:
    """The report's data from Elasticsearch: alerts from ``alerts_index`` (the data
    stream), incidents from ``incidents_index`` (the alias).

    Raises
    ------
    ReportSourceError
        The cluster cannot be reached or answers with an error.
    """
    try:
        alerts, alerts_cut = await _search(
            client, alerts_index, "@timestamp", _query("@timestamp", ministry, since), size
        )
        incidents, incidents_cut = await _search(
            client,
            incidents_index,
            "incident.last_seen",
            _query("incident.last_seen", ministry, since),
            size,
        )
    except (ElasticApiError, TransportError) as error:
        raise ReportSourceError(f"Elasticsearch: {error}") from error
    return ReportData(
        incidents=incidents_frame(incidents),
        alerts=alerts_frame(alerts),
        silent_sources=None,
        source=f"Elasticsearch {alerts_index}, {incidents_index}",
        truncated=alerts_cut or incidents_cut,
    )
