"""Reading a report's data from Elasticsearch.

:mod:`respond.report.sqlite` reads the embedded store.

Both give a :class:`respond.report.build.ReportData`: the incidents whose last alert is
at or after ``since`` and the alerts stamped at or after it (all of them when ``since``
is ``None``), for one ``organization.id`` or for all.

Elasticsearch: one search per index with a ``bool`` filter (``range`` on the time,
``term`` on ``organization.id``), sorted by time, at most ``size`` hits each (the
cluster's ``index.max_result_window`` is 10,000 by default); when a search matches
more, the data is marked truncated and the report says so. The silent log sources come
from a third search, of the "Log source silent" / "resumed" alerts (by ``rule.id``, over
all time, as the current state needs every transition), folded by
:func:`respond.report.silent.silent_from_alerts`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from respond.errors import RespondError
from respond.report.build import ReportData
from respond.report.frames import alerts_frame, incidents_frame
from respond.report.silent import silent_from_alerts
from respond.silence import RESUMED_RULE_ID, SILENT_RULE_ID

if TYPE_CHECKING:
    from elasticsearch import AsyncElasticsearch

__all__ = ["ReportSourceError", "read_elastic"]

_MAX_HITS: Final = 10_000


class ReportSourceError(RespondError):
    """The report's data cannot be read (no store, cluster unreachable, bad answer)."""


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


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
    """The report's data from Elasticsearch.

    Alerts come from ``alerts_index`` (the data stream), incidents from
    ``incidents_index`` (the alias).

    Raises
    ------
    ReportSourceError
        The cluster cannot be reached or answers with an error.
    """
    from elasticsearch import ApiError, TransportError

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
        silence = _query("@timestamp", ministry, None)
        silence["bool"]["filter"].append({"terms": {"rule.id": [SILENT_RULE_ID, RESUMED_RULE_ID]}})
        transitions, silence_cut = await _search(client, alerts_index, "@timestamp", silence, size)
    except (ApiError, TransportError) as error:
        raise ReportSourceError(f"Elasticsearch: {error}") from error
    return ReportData(
        incidents=incidents_frame(incidents),
        alerts=alerts_frame(alerts),
        silent_sources=silent_from_alerts(transitions),
        source=f"Elasticsearch {alerts_index}, {incidents_index}",
        truncated=alerts_cut or incidents_cut or silence_cut,
    )
