"""The log sources that are silent now, from what the pipeline's silence tracking kept.

:mod:`respond.source_watch` saves the silence clock (:class:`respond.silence.SourceClock`)
in the store's ``source_state`` table next to the per-source counters of
:mod:`respond.sources` (``source_stats``, which ``neakta ministries list`` shows). A source
is silent when the clock says so; its last event is the counters' ``last_event`` (the
clock's when the counters lack the source), and it has been silent for the time from
that event to the clock's watermark (the latest event time seen, so event time, as the
alerts are). :func:`silent_from_clock` reads that.

Elasticsearch holds no clock, only the "Log source silent" / "Log source resumed" alerts;
:func:`silent_from_alerts` takes each source's latest such alert and keeps those that went
silent. There, "silent for" runs to the time the report is written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from respond.report.frames import parse_time
from respond.silence import RESUMED_RULE_ID, SILENT_RULE_ID, SourceClock

__all__ = ["SilentSource", "silent_from_alerts", "silent_from_clock"]


@dataclass(frozen=True, slots=True)
class SilentSource:
    """One source that is silent now.

    Attributes
    ----------
    ministry
        Its ``organization.id``.
    kind
        ``family`` (a log family of the ministry) or ``host`` (a forwarding host).
    source
        The family or host name.
    last_event
        The event time of its last event.
    as_of
        The time "silent for" is measured to (the silence clock's watermark), or ``None``
        for the time the report is written.
    """

    ministry: str
    kind: str
    source: str
    last_event: datetime
    as_of: datetime | None


def silent_from_clock(
    clock: Mapping[str, Any] | None,
    last_events: Mapping[tuple[str, str, str], datetime],
    *,
    ministry: str | None,
) -> list[SilentSource]:
    """The silent sources of a saved clock (all ministries', or ``ministry``'s), sorted.

    Parameters
    ----------
    clock
        A :meth:`respond.silence.SourceClock.to_checkpoint` dict, or ``None`` (none saved).
    last_events
        ``source_stats.last_event`` per ``(organization.id, kind, name)``.
    ministry
        Only this ministry's sources; ``None``: every ministry's.
    """
    if clock is None:
        return []
    state = SourceClock.from_checkpoint(clock)
    return [
        SilentSource(
            org, kind, name, last_events.get((org, kind, name), seen.last_seen), state.watermark
        )
        for (org, kind, name), seen in sorted(state.sources.items())
        if seen.silent and (ministry is None or org == ministry)
    ]


def _field(document: Mapping[str, Any], path: str) -> Any:
    if path in document:
        return document[path]
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def silent_from_alerts(documents: Iterable[Mapping[str, Any]]) -> list[SilentSource]:
    """The sources whose latest silence alert says "silent", from the alert documents.

    ``documents`` are "Log source silent" / "resumed" alerts (others are skipped), nested
    or with flat dotted keys; a later alert of a source replaces an earlier one (ties go
    to the later document).
    """
    latest: dict[tuple[str, str, str], tuple[datetime, bool, datetime]] = {}
    for document in documents:
        rule = _field(document, "rule.id")
        at = parse_time(_field(document, "@timestamp"))
        last = parse_time(_field(document, "neakta.silence.last_seen"))
        key = (
            _field(document, "organization.id"),
            _field(document, "neakta.silence.kind"),
            _field(document, "neakta.silence.source"),
        )
        if rule not in (SILENT_RULE_ID, RESUMED_RULE_ID) or at is None or last is None:
            continue
        if not all(isinstance(part, str) for part in key):
            continue
        known = latest.get(key)
        if known is None or at >= known[0]:
            latest[key] = (at, rule == SILENT_RULE_ID, last)
    return [
        SilentSource(org, kind, name, last, None)
        for (org, kind, name), (_at, silent, last) in sorted(latest.items())
        if silent
    ]
