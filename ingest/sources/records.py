"""What a source hands the pipeline: a batch of raw records, decoded once, and its dead letters.

A source reads bytes (Kafka record values, file lines) and turns a whole batch of them into
one frame with :func:`decode_records`: one cast from ``Binary`` to ``String`` for the
batch, not one ``bytes.decode`` per record. Records larger than the size limit, and
records that are not UTF-8, leave the batch as dead letters carrying their original bytes,
their position and the reason.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Final

import polars as pl

from ingest.deadletter import DEAD_RECORD_SCHEMA

__all__ = [
    "FAMILIES",
    "RECORD_SCHEMA",
    "SourceBatch",
    "decode_records",
    "empty_dead",
    "empty_records",
    "input_of",
]

FAMILIES: Final = ("firewall", "endpoint", "web")
"""The log families, one parser each."""

RECORD_SCHEMA: Final[dict[str, pl.DataType]] = {
    "family": pl.String(),
    "source": pl.String(),
    "origin": pl.String(),
    "line": pl.String(),
    "header_organization": pl.String(),
    "source_organization": pl.String(),
}
"""One raw record: its log family, where it came from, its text and any ministry it names.

``source`` is the topic or file; ``origin`` the exact position (``topic/partition/offset``
or ``path:line``, lines from 1). ``header_organization`` comes from a Kafka record header
``organization.id``; ``source_organization`` from the topic suffix ``logs.<family>.<id>``.
"""

_TOO_LARGE = "record larger than {limit} bytes ({size} bytes)"
_NOT_UTF8 = "not UTF-8 text"


def input_of(origin: pl.Expr) -> pl.Expr:
    """The input a record comes from, by its ``origin``: ``topic/partition`` or the file.

    Examples
    --------
    >>> origins = pl.Series(["logs.web/3/1207", "a/b.log:12"])
    >>> pl.select(input_of(pl.lit(origins))).to_series().to_list()
    ['logs.web/3', 'a/b.log']
    """
    return origin.str.replace(r"(?:/\d+|:\d+)$", "")


def empty_records() -> pl.DataFrame:
    """A frame with no records."""
    return pl.DataFrame(schema=RECORD_SCHEMA)


def empty_dead() -> pl.DataFrame:
    """A frame with no dead letters."""
    return pl.DataFrame(schema=DEAD_RECORD_SCHEMA)


@dataclass(frozen=True, slots=True)
class SourceBatch:
    """One bounded batch of records from a source.

    Attributes
    ----------
    records
        The decoded records (:data:`RECORD_SCHEMA`), in source order.
    dead
        Records rejected before parsing (:data:`ingest.deadletter.DEAD_RECORD_SCHEMA`).
    position
        What the source needs to commit this batch (Kafka: the next offset per
        partition); opaque to everyone else.
    ended
        Inputs (files) that ended with this batch: their event time no longer holds
        anything back.
    busy
        Inputs known to hold records not processed yet (Kafka: the batch's own partitions,
        and those with lag): they are not idle, however long they have been silent.
    """

    records: pl.DataFrame = field(default_factory=empty_records)
    dead: pl.DataFrame = field(default_factory=empty_dead)
    position: dict[Hashable, int] = field(default_factory=dict)
    ended: tuple[str, ...] = ()
    busy: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        """Records in the batch, dead letters included."""
        return self.records.height + self.dead.height


def _to_text(raw: pl.Series) -> pl.Series:
    """Binary to String; only a batch holding invalid UTF-8 pays for a per-record look."""
    try:
        return raw.cast(pl.String)
    except pl.exceptions.ComputeError:
        texts: list[str | None] = []
        for value in raw.to_list():
            try:
                texts.append(None if value is None else value.decode("utf-8"))
            except UnicodeDecodeError:
                texts.append(None)
        return pl.Series(raw.name, texts, dtype=pl.String)


def decode_records(frame: pl.DataFrame, *, max_bytes: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Decode a frame of raw records; split off the oversized and undecodable ones.

    Parameters
    ----------
    frame
        Columns of :data:`RECORD_SCHEMA` except ``line``, plus ``raw`` (``Binary``).
    max_bytes
        Records longer than this are dead letters.

    Returns
    -------
    tuple of polars.DataFrame
        The good records (:data:`RECORD_SCHEMA`) and the dead letters
        (:data:`ingest.deadletter.DEAD_RECORD_SCHEMA`).

    Examples
    --------
    >>> frame = pl.DataFrame({
    ...     "family": ["web"] * 3, "source": ["f"] * 3, "origin": ["f:1", "f:2", "f:3"],
    ...     "raw": [b"GET /", b"\\xff", b"0123456789"],
    ...     "header_organization": [None] * 3, "source_organization": [None] * 3,
    ... }, schema_overrides={"header_organization": pl.String, "source_organization": pl.String})
    >>> good, dead = decode_records(frame, max_bytes=8)
    >>> good["line"].to_list()
    ['GET /']
    >>> dead.select("origin", "reason").rows()
    [('f:2', 'not UTF-8 text'), ('f:3', 'record larger than 8 bytes (10 bytes)')]
    """
    size = pl.col("raw").bin.size()
    limit = _TOO_LARGE.format(limit=max_bytes, size="{}")
    frame = frame.with_row_index("_index").with_columns(
        pl.when(size > max_bytes).then(pl.format(limit, size)).alias("reason")
    )
    small = frame.get_column("reason").is_null()
    oversized = frame.filter(~small)
    if oversized.height:
        frame = frame.filter(small)
    text = _to_text(frame.get_column("raw"))
    bad = text.is_null() & frame.get_column("raw").is_not_null()
    frame = frame.with_columns(line=text, reason=pl.when(bad).then(pl.lit(_NOT_UTF8)))
    good = frame.filter(~bad) if bad.any() else frame
    dead = pl.concat(
        [
            oversized.with_columns(line=pl.lit(None, pl.String)).select(frame.columns),
            frame.filter(bad),
        ]
    ).sort("_index")
    return good.select(list(RECORD_SCHEMA)), dead.select(list(DEAD_RECORD_SCHEMA))
