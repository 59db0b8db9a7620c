"""Alert and incident documents (as the store or Elasticsearch hold them) to flat frames.

Both sources keep nested ECS documents; the report works on two frames with fixed
schemas, :data:`ALERT_SCHEMA` and :data:`INCIDENT_SCHEMA`, built here once. Values the
documents lack are null; timestamps are parsed from ISO 8601 text to UTC.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

import polars as pl

__all__ = [
    "ADDRESS_COLUMNS",
    "ALERT_SCHEMA",
    "INCIDENT_SCHEMA",
    "alerts_frame",
    "incidents_frame",
    "parse_time",
]

_TIME: Final = pl.Datetime("us", "UTC")
_NAMES: Final = pl.List(pl.String())
_SEPARATOR: Final = "\x1f"

ADDRESS_COLUMNS: Final = (
    "host.name",
    "host.ip",
    "source.ip",
    "source.domain",
    "destination.ip",
    "destination.domain",
)
"""The alert columns the asset inventory is looked up by."""

ALERT_SCHEMA: Final[dict[str, pl.DataType]] = {
    "id": pl.String(),
    "timestamp": _TIME,
    "ministry": pl.String(),
    "severity": pl.Int64(),
    "level": pl.String(),
    "rule_id": pl.String(),
    "rule_name": pl.String(),
    "message": pl.String(),
    "incident_id": pl.String(),
    **dict.fromkeys(ADDRESS_COLUMNS, pl.String()),
    "tactics": _NAMES,
    "techniques": _NAMES,
    "subtechniques": _NAMES,
    "original": pl.String(),
}
"""One row per alert: ``techniques`` are parent ids (``T1059``), ``subtechniques`` the
sub-technique ids (``T1059.001``), ``tactics`` the tactic ids (``TA0002``)."""

INCIDENT_SCHEMA: Final[dict[str, pl.DataType]] = {
    "id": pl.String(),
    "state": pl.String(),
    "severity": pl.Int64(),
    "ministry": pl.String(),
    "title": pl.String(),
    "entity": pl.String(),
    "first_seen": _TIME,
    "last_seen": _TIME,
    "alert_count": pl.Int64(),
    "alert_ids": _NAMES,
}
"""One row per incident."""


def parse_time(value: object) -> datetime | None:
    """An ISO 8601 text (or a datetime) as an aware UTC datetime; ``None`` if unreadable.

    Examples
    --------
    >>> parse_time("2026-11-20T08:01:52.174Z")
    datetime.datetime(2026, 11, 20, 8, 1, 52, 174000, tzinfo=datetime.timezone.utc)
    >>> parse_time("yesterday") is None
    True
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _get(document: Mapping[str, Any], path: str, parts: tuple[str, ...]) -> Any:
    """A value by dotted path (split in ``parts``), nested or under a flat dotted key."""
    if path in document:
        return document[path]
    value: Any = document
    for part in parts:
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, Mapping):
        return None
    if isinstance(value, list):
        return _text(value[0]) if value else None
    return str(value)


def _names(value: Any) -> str:
    """The values of a list (or one value) joined by U+001F (which they lose)."""
    if value is None:
        return ""
    items = value if isinstance(value, list) else [value]
    return _SEPARATOR.join(str(item).replace(_SEPARATOR, " ") for item in items if item is not None)


def _int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _state(value: Any) -> str:
    return _text(value) or "open"


def _count(value: Any) -> int:
    return _int(value) or 0


_Field = tuple[str, Callable[[Any], Any]]
_ALERT_FIELDS: Final[tuple[_Field, ...]] = (
    ("_id", _text),
    ("@timestamp", parse_time),
    ("organization.id", _text),
    ("event.severity", _int),
    ("neakta.rule.level", _text),
    ("rule.id", _text),
    ("rule.name", _text),
    ("message", _text),
    ("neakta.incident.id", _text),
    *((column, _text) for column in ADDRESS_COLUMNS),
    ("threat.tactic.id", _names),
    ("threat.technique.id", _names),
    ("threat.technique.subtechnique.id", _names),
    ("event.original", _text),
)
_INCIDENT_FIELDS: Final[tuple[_Field, ...]] = (
    ("incident.id", _text),
    ("incident.state", _state),
    ("incident.severity", _count),
    ("organization.id", _text),
    ("incident.title", _text),
    ("incident.entity", _text),
    ("incident.first_seen", parse_time),
    ("incident.last_seen", parse_time),
    ("incident.alert_count", _count),
    ("incident.alert_ids", _names),
)


def _frame(
    documents: Iterable[Mapping[str, Any]],
    fields: tuple[_Field, ...],
    schema: dict[str, pl.DataType],
) -> pl.DataFrame:
    """Build a frame column by column.

    List columns travel as text joined by U+001F and are split by Polars (building them
    from Python lists converts every list separately, ~20x slower).
    """
    paths = [(path, tuple(path.split(".")), convert) for path, convert in fields]
    columns: list[list[Any]] = [[] for _ in fields]
    for document in documents:
        for column, (path, parts, convert) in zip(columns, paths, strict=True):
            column.append(convert(_get(document, path, parts)))
    lists = [name for name, dtype in schema.items() if dtype == _NAMES]
    text_schema = {name: pl.String() if name in lists else dtype for name, dtype in schema.items()}
    frame = pl.DataFrame(dict(zip(schema, columns, strict=True)), schema=text_schema)
    return frame.with_columns(
        pl.when(pl.col(name) == "")
        .then(pl.lit([], _NAMES))
        .otherwise(pl.col(name).str.split(_SEPARATOR))
        .alias(name)
        for name in lists
    )


def alerts_frame(documents: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    """Alert documents (each with its ``_id``) as an :data:`ALERT_SCHEMA` frame.

    Examples
    --------
    >>> frame = alerts_frame([{
    ...     "_id": "a1", "@timestamp": "2026-11-20T08:00:00+00:00",
    ...     "organization": {"id": "mef"}, "event": {"severity": 73, "original": "<x>"},
    ...     "rule": {"id": "r1", "name": "Rule"},
    ...     "threat": {"technique": {"id": ["T1059"], "subtechnique": {"id": ["T1059.001"]}}},
    ... }])
    >>> frame.select("id", "ministry", "severity", "techniques", "original").row(0)
    ('a1', 'mef', 73, ['T1059'], '<x>')
    """
    return _frame(documents, _ALERT_FIELDS, ALERT_SCHEMA)


def incidents_frame(documents: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    """Incident documents (``incident.*``, ``organization.id``) as a frame.

    The frame has the columns of :data:`INCIDENT_SCHEMA`.

    Examples
    --------
    >>> frame = incidents_frame([{
    ...     "incident": {"id": "inc-1", "state": "open", "severity": 73, "alert_count": 2,
    ...                  "alert_ids": ["a1", "a2"], "title": "T",
    ...                  "last_seen": "2026-11-20T08:00:00+00:00"},
    ...     "organization": {"id": "mef"},
    ... }])
    >>> frame.select("id", "state", "severity", "ministry", "alert_ids").row(0)
    ('inc-1', 'open', 73, 'mef', ['a1', 'a2'])
    """
    return _frame(documents, _INCIDENT_FIELDS, INCIDENT_SCHEMA)
