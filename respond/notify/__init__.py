"""Notifications: incidents pushed to webhooks (generic JSON, Telegram, Slack)."""

from respond.notify.templates import KINDS, NotifyKind, render, render_summary, text_of
from respond.notify.webhook import (
    AiohttpTransport,
    NotifyStats,
    TokenBucket,
    WebhookNotifier,
    WebhookTransport,
)

__all__ = [
    "KINDS",
    "AiohttpTransport",
    "NotifyKind",
    "NotifyStats",
    "TokenBucket",
    "WebhookNotifier",
    "WebhookTransport",
    "render",
    "render_summary",
    "text_of",
]
