"""Respond: alert documents, incidents, sinks and notifications for the SOC."""

from respond.alerts import SEVERITY, alert_id, build_alerts, rule_metadata
from respond.errors import (
    RespondError,
    SinkCredentialsError,
    SinkRejectedError,
    SinkUnavailableError,
)
from respond.incidents import INCIDENT_SCHEMA, Incident, IncidentTracker, severity_label
from respond.ndjson import NdjsonSink
from respond.notify import WebhookNotifier, WebhookTransport
from respond.sinks import AlertSink, Delivery, SinkBatch
from respond.store import IncidentNotFoundError, IncidentStateError, SqliteStore

__all__ = [
    "INCIDENT_SCHEMA",
    "SEVERITY",
    "AlertSink",
    "Delivery",
    "Incident",
    "IncidentNotFoundError",
    "IncidentStateError",
    "IncidentTracker",
    "NdjsonSink",
    "RespondError",
    "SinkBatch",
    "SinkCredentialsError",
    "SinkRejectedError",
    "SinkUnavailableError",
    "SqliteStore",
    "WebhookNotifier",
    "WebhookTransport",
    "alert_id",
    "build_alerts",
    "rule_metadata",
    "severity_label",
]
