"""Small builders shared by the respond tests: alerts frames from a few plain values."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from ingest.schema import TIMESTAMP

__all__ = ["T0", "alerts_frame", "at"]

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    """``T0`` plus some minutes."""
    return T0 + timedelta(minutes=minutes)


def alerts_frame(rows: Sequence[dict[str, Any]]) -> pl.DataFrame:
    """An alerts frame; each row gives ``_id``, ``minute`` and any overrides."""
    filled = []
    for row in rows:
        values = {
            "_id": row["_id"],
            "@timestamp": at(row.get("minute", 0)),
            "organization.id": "mef",
            "rule.id": "r-mimikatz",
            "rule.name": "Mimikatz",
            "host.name": "mef-ws-01",
            "source.ip": None,
            "event.severity": 73,
        }
        values.update({k: v for k, v in row.items() if k != "minute"})
        filled.append(values)
    schema: dict[str, pl.DataType] = {
        "_id": pl.String(),
        "@timestamp": TIMESTAMP,
        "organization.id": pl.String(),
        "rule.id": pl.String(),
        "rule.name": pl.String(),
        "host.name": pl.String(),
        "source.ip": pl.String(),
        "event.severity": pl.Int64(),
    }
    extra = {k for row in filled for k in row} - set(schema)
    for name in sorted(extra):
        sample = next(row[name] for row in filled if name in row)
        schema[name] = pl.List(pl.String()) if isinstance(sample, list) else pl.String()
    return pl.DataFrame(
        [{k: row.get(k) for k in schema} for row in filled], schema=schema, orient="row"
    )
