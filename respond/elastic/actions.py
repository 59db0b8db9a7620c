"""Frames to bulk actions: ISO 8601 timestamps, nested ECS documents, one action per row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import orjson
import polars as pl

from respond.elastic.encode import encode_documents

__all__ = ["BulkAction", "bulk_actions", "format_timestamps"]

BulkOp = Literal["create", "index"]


@dataclass(frozen=True, slots=True)
class BulkAction:
    """One document for the ``_bulk`` API.

    Attributes
    ----------
    op
        ``create`` (append once: a second create of the same id answers 409) or ``index``
        (create or replace).
    index
        The data stream, alias or index the document goes to.
    id
        The deterministic document id.
    source
        The nested ECS document as JSON text.
    """

    op: BulkOp
    index: str
    id: str
    source: str

    def header(self) -> dict[str, dict[str, str]]:
        """The action line of the bulk body."""
        return {self.op: {"_index": self.index, "_id": self.id}}

    @property
    def document(self) -> dict[str, Any]:
        """The document as a dictionary."""
        document: dict[str, Any] = orjson.loads(self.source)
        return document


def format_timestamps(frame: pl.DataFrame) -> pl.DataFrame:
    """Turn date and datetime columns into ISO 8601 strings; times are written in UTC.

    Naive datetimes are taken to be UTC already. Other columns are left as they are.

    Examples
    --------
    >>> from datetime import datetime
    >>> frame = pl.DataFrame({"_id": ["a"], "@timestamp": [datetime(2024, 5, 1, 8, 30)]})
    >>> format_timestamps(frame).row(0)
    ('a', '2024-05-01T08:30:00.000000Z')
    """
    formatted: list[pl.Expr] = []
    for name, dtype in frame.schema.items():
        column = pl.col(name)
        if isinstance(dtype, pl.Datetime):
            if dtype.time_zone is not None:
                column = column.dt.convert_time_zone("UTC")
            formatted.append(column.dt.to_string("%Y-%m-%dT%H:%M:%S%.6fZ"))
        elif isinstance(dtype, pl.Date):
            formatted.append(column.dt.to_string("%Y-%m-%d"))
    return frame.with_columns(formatted) if formatted else frame


def bulk_actions(frame: pl.DataFrame, *, index: str, op: BulkOp) -> list[BulkAction]:
    """One bulk action per row, with the row's ``_id`` and its nested document.

    Parameters
    ----------
    frame
        A ``_id`` column and flat, dotted ECS columns.
    index
        Where every document goes.
    op
        ``create`` for append-only alerts, ``index`` for incidents (updated in place).

    Examples
    --------
    >>> frame = pl.DataFrame({"_id": ["a1"], "event.kind": ["alert"], "rule.id": ["r1"]})
    >>> bulk_actions(frame, index="logs-neakta.alerts-default", op="create")[0].header()
    {'create': {'_index': 'logs-neakta.alerts-default', '_id': 'a1'}}
    >>> bulk_actions(frame, index="x", op="create")[0].document
    {'event': {'kind': 'alert'}, 'rule': {'id': 'r1'}}
    """
    if frame.is_empty():
        return []
    sources = encode_documents(format_timestamps(frame))
    ids = frame["_id"].cast(pl.String)
    return [
        BulkAction(op=op, index=index, id=str(identifier), source=source)
        for identifier, source in zip(ids, sources, strict=True)
    ]
