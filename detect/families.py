"""Which log family (and so which parser columns) a rule's log source reads.

Under the ``ecs`` pipeline a rule sees the events of one family, whose columns are the
parsers' output schema in :mod:`ingest.schema` plus the two identity stamps every event
gets. Under ``raw`` and ``none`` events carry whatever names the file gives them, so no
schema applies.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl
from sigma.rule import SigmaLogSource

from ingest.schema import ENDPOINT_SCHEMA, FIREWALL_SCHEMA, WEB_SCHEMA

__all__ = ["FAMILY_SCHEMAS", "IDENTITY_COLUMNS", "family_of", "family_schema"]

IDENTITY_COLUMNS: dict[str, pl.DataType] = {
    "event.id": pl.String(),
    "organization.id": pl.String(),
}
"""Columns :func:`ingest.identity` stamps on every parsed event."""

FAMILY_SCHEMAS: dict[str, Mapping[str, pl.DataType]] = {
    "endpoint": ENDPOINT_SCHEMA | IDENTITY_COLUMNS,
    "web": WEB_SCHEMA | IDENTITY_COLUMNS,
    "firewall": FIREWALL_SCHEMA | IDENTITY_COLUMNS,
}
"""Family -> the columns its events have when rules run on them."""


def family_of(logsource: SigmaLogSource) -> str | None:
    """The family whose events a log source's rules see under ``ecs`` (routing as there).

    >>> family_of(SigmaLogSource(category="webserver"))
    'web'
    >>> family_of(SigmaLogSource(category="process_creation", product="windows"))
    'endpoint'
    >>> family_of(SigmaLogSource(category="dns", product="zeek")) is None
    True
    """
    if logsource.category in ("webserver", "proxy"):
        return "web"
    if logsource.category == "firewall":
        return "firewall"
    if logsource.product == "windows":
        return "endpoint"
    if logsource.product == "linux" and logsource.category == "process_creation":
        return "endpoint"
    return None


def family_schema(logsource: SigmaLogSource, pipeline: str) -> Mapping[str, pl.DataType] | None:
    """The columns a rule of ``logsource`` can read under ``pipeline`` (None: unknown)."""
    if pipeline != "ecs":
        return None
    family = family_of(logsource)
    return FAMILY_SCHEMAS[family] if family is not None else None
