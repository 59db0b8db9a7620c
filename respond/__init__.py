"""Respond: alert documents, incidents, sinks and notifications for the SOC."""

from respond.errors import RespondError, SinkRejectedError, SinkUnavailableError
from respond.sinks import AlertSink, Delivery, SinkBatch

__all__ = [
    "AlertSink",
    "Delivery",
    "RespondError",
    "SinkBatch",
    "SinkRejectedError",
    "SinkUnavailableError",
]
