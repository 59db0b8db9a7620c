"""Incident notifications as the JSON bodies webhooks expect.

Three kinds, one text: ``json`` (a generic webhook: the text plus the incident's fields),
``telegram`` (the Bot API's ``sendMessage``: ``chat_id`` and ``text``) and ``slack``
(Slack incoming webhooks and the many tools that accept the same ``{"text": ...}``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final, Literal

__all__ = ["KINDS", "NotifyKind", "render", "render_summary", "text_of"]

NotifyKind = Literal["json", "telegram", "slack"]
KINDS: Final[tuple[NotifyKind, ...]] = ("json", "telegram", "slack")


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%SZ") if isinstance(value, datetime) else str(value)


def text_of(incident: Mapping[str, Any]) -> str:
    """One incident's message text (from a row of ``INCIDENT_SCHEMA``).

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> t = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    >>> print(text_of({"incident.id": "inc-1", "incident.title": "Mimikatz on pc1",
    ...     "incident.severity_label": "high", "incident.change": "opened",
    ...     "incident.alert_count": 2, "organization.id": "mef",
    ...     "incident.first_seen": t, "incident.last_seen": t}))
    [HIGH] Mimikatz on pc1 (mef): opened, 2 alert(s), 2026-01-01 10:00:00Z to ...; incident inc-1
    """
    ministry = incident.get("organization.id")
    where = f" ({ministry})" if ministry else ""
    return (
        f"[{str(incident.get('incident.severity_label', '')).upper()}] "
        f"{incident.get('incident.title')}{where}: {incident.get('incident.change')}, "
        f"{incident.get('incident.alert_count')} alert(s), "
        f"{_when(incident.get('incident.first_seen'))} to "
        f"{_when(incident.get('incident.last_seen'))}; incident {incident.get('incident.id')}"
    )


def _body(
    kind: NotifyKind, text: str, chat_id: str | None, extra: dict[str, Any]
) -> dict[str, Any]:
    if kind == "telegram":
        return {"chat_id": chat_id, "text": text, "disable_web_page_preview": True}
    if kind == "slack":
        return {"text": text}
    return {"text": text, **extra}


def render(
    kind: NotifyKind, incident: Mapping[str, Any], *, chat_id: str | None = None
) -> dict[str, Any]:
    """The request body announcing one incident.

    Examples
    --------
    >>> render("slack", {"incident.id": "inc-1", "incident.title": "T",
    ...     "incident.severity_label": "critical", "incident.change": "escalated",
    ...     "incident.alert_count": 12, "incident.first_seen": "a", "incident.last_seen": "b"})
    {'text': '[CRITICAL] T: escalated, 12 alert(s), a to b; incident inc-1'}
    """
    fields = {
        key: _when(value) if isinstance(value, datetime) else value
        for key, value in incident.items()
    }
    return _body(kind, text_of(incident), chat_id, {"incident": fields})


def render_summary(
    kind: NotifyKind, held: Sequence[Mapping[str, Any]], *, chat_id: str | None = None
) -> dict[str, Any]:
    """The request body summarising notifications the rate limit held back.

    Examples
    --------
    >>> render_summary("slack", [{"incident.id": "inc-1", "incident.title": "T",
    ...     "incident.severity_label": "high"}])
    {'text': '1 incident notification(s) held back by the rate limit:\\n[HIGH] T; incident inc-1'}
    """
    lines = [
        f"[{str(i.get('incident.severity_label', '')).upper()}] {i.get('incident.title')}; "
        f"incident {i.get('incident.id')}"
        for i in held[:20]
    ]
    if len(held) > 20:
        lines.append(f"... and {len(held) - 20} more")
    text = f"{len(held)} incident notification(s) held back by the rate limit:\n" + "\n".join(lines)
    ids = [i.get("incident.id") for i in held]
    return _body(kind, text, chat_id, {"held_back": ids})
