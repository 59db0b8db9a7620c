"""Build where alerts and incidents go from settings: store, tracker, export, notifier.

The embedded SQLite store (with the incident tracker it saves), the NDJSON bulk export,
the webhook notifier, the Elasticsearch sink and the ``--alerts`` file. The alert stage
that feeds them is built by :func:`neakta.wiring.build_stages`.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from neakta.settings import ElasticSettings, RespondSettings, Settings
from respond.incidents import IncidentTracker
from respond.ndjson import NdjsonAlertWriter, NdjsonSink
from respond.notify import WebhookNotifier
from respond.sinks import AlertSink
from respond.store import SqliteStore

if TYPE_CHECKING:
    from respond.elastic import ElasticSink

__all__ = [
    "alert_sinks",
    "elastic_sink_from_settings",
    "ndjson_sink_from_settings",
    "notifier_from_settings",
    "open_store",
    "store_from_settings",
    "tracker_from_settings",
]


def tracker_from_settings(respond: RespondSettings) -> IncidentTracker:
    """The incident tracker the settings describe."""
    return IncidentTracker(
        window=timedelta(seconds=respond.incident_window_s),
        group_by=respond.incident_group_by,
        escalate_count=respond.incident_escalate_count,
    )


def open_store(path: Path, tracker: IncidentTracker | None = None) -> SqliteStore:
    """The embedded store at ``path``; with a tracker, it saves it with every batch."""
    return SqliteStore(path, tracker=tracker)


def store_from_settings(
    respond: RespondSettings, tracker: IncidentTracker | None = None
) -> SqliteStore:
    """The embedded store the settings name (see :func:`open_store`)."""
    return open_store(respond.store_path, tracker)


def ndjson_sink_from_settings(respond: RespondSettings) -> NdjsonSink | None:
    """The NDJSON export, or ``None`` when no path is set."""
    if respond.ndjson_path is None:
        return None
    return NdjsonSink(respond.ndjson_path, alert_index=respond.ndjson_alert_index)


def notifier_from_settings(respond: RespondSettings) -> WebhookNotifier | None:
    """The webhook notifier, or ``None`` when no URL is set."""
    if respond.notify_url is None:
        return None
    return WebhookNotifier(
        url=respond.notify_url.get_secret_value(),
        kind=respond.notify_kind,
        chat_id=respond.notify_chat_id,
        min_severity=respond.notify_min_severity,
        rate_per_minute=respond.notify_rate_per_minute,
        burst=respond.notify_burst,
    )


def elastic_sink_from_settings(elastic: ElasticSettings) -> ElasticSink | None:
    """The Elasticsearch sink the settings describe, or ``None`` when no hosts are set."""
    if not elastic.hosts:
        return None
    # The Elasticsearch client is imported only where it is used: commands that never
    # write to Elasticsearch start faster without it.
    from respond.elastic import build_elastic_sink

    return build_elastic_sink(
        hosts=elastic.hosts,
        **elastic.credentials(),
        namespace=elastic.namespace,
        incidents_alias=elastic.incidents_alias,
    )


def alert_sinks(settings: Settings, alerts: str | Path, out: TextIO) -> list[AlertSink]:
    """The NDJSON alert file (``-``: ``out``) and Elasticsearch when hosts are set."""
    sinks: list[AlertSink] = [NdjsonAlertWriter(alerts, stdout=out)]
    elastic = elastic_sink_from_settings(settings.elastic)
    if elastic is not None:
        sinks.append(elastic)
    return sinks
