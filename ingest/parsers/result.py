"""The value every parser returns, and the bookkeeping shared by the parsers.

Inside a parser each row carries working columns, named with a leading underscore:
``_position`` (the index of the line in the input batch), ``_reason`` (null while the
row is a good event, otherwise why it is a dead letter) and, for framed formats,
``_syslog_time`` and ``_message``. :func:`finish` splits rows on ``_reason`` at the very
end and drops the working columns, so a line is always accounted for exactly once.
"""

from dataclasses import dataclass, field
from typing import Final

import polars as pl

from ingest.parsers.syslog import split_syslog
from ingest.schema import DEAD_LETTER_SCHEMA, conform

__all__ = [
    "MESSAGE",
    "ORIGINAL",
    "POSITION",
    "REASON",
    "SYSLOG_TIME",
    "ParseResult",
    "finish",
    "number_lines",
    "reject",
    "with_syslog",
]

POSITION: Final = "_position"
REASON: Final = "_reason"
ORIGINAL: Final = "event.original"
MESSAGE: Final = "_message"
SYSLOG_TIME: Final = "_syslog_time"


@dataclass(frozen=True, slots=True)
class ParseResult:
    """Events parsed from a batch of lines, and the lines that could not be parsed.

    Attributes
    ----------
    events
        One row per parsed line, in input order, with the columns of the parser's
        schema (see :mod:`ingest.schema`).
    dead
        One row per rejected line, in input order: ``raw`` (the line), ``position``
        (its index in the input batch) and ``reason``.
    layouts
        For header-driven formats (IIS ``#Fields:``): the layout in force at the end of
        the batch, per input, to carry into that input's next batch.
    """

    events: pl.DataFrame
    dead: pl.DataFrame
    layouts: dict[str, str] = field(default_factory=dict)


def number_lines(lines: pl.Series) -> pl.DataFrame:
    """Frame of the raw lines with their batch positions; null and blank lines rejected.

    Examples
    --------
    >>> number_lines(pl.Series(["a", " ", None])).to_dicts()[1]
    {'_position': 1, 'event.original': ' ', '_reason': 'empty line'}
    """
    frame = pl.DataFrame({ORIGINAL: lines.cast(pl.String)}).with_row_index(POSITION)
    original = pl.col(ORIGINAL)
    reason = (
        pl.when(original.is_null())
        .then(pl.lit("null line"))
        # No character outside Unicode White_Space, as ``strip_chars_start`` strips, found
        # without copying every line.
        .when(~original.str.contains(r"\S"))
        .then(pl.lit("empty line"))
        .otherwise(pl.lit(None, dtype=pl.String))
    )
    return frame.with_columns(pl.col(POSITION).cast(pl.UInt64), reason.alias(REASON))


def with_syslog(frame: pl.DataFrame, *, year: int) -> pl.DataFrame:
    """Add the syslog header fields of ``event.original`` to a working frame.

    The header's stamp and message go to the working columns ``_syslog_time`` and
    ``_message``; hostname, appname and priority to their ``log.syslog.*`` columns.

    Examples
    --------
    >>> frame = with_syslog(number_lines(pl.Series(["<13>Oct 11 22:14:15 h a: m"])), year=2024)
    >>> frame.select("log.syslog.hostname", "_message").row(0)
    ('h', 'm')
    """
    header = split_syslog(frame.get_column(ORIGINAL), year=year)
    return frame.with_columns(
        header.get_column("timestamp").alias(SYSLOG_TIME),
        header.get_column("hostname").alias("log.syslog.hostname"),
        header.get_column("appname").alias("log.syslog.appname"),
        header.get_column("priority").alias("log.syslog.priority"),
        header.get_column("message").alias(MESSAGE),
    )


def reject(frame: pl.DataFrame, reason: str) -> pl.DataFrame:
    """Mark every row of a frame that has no reason yet as dead with ``reason``."""
    return frame.with_columns(pl.col(REASON).fill_null(pl.lit(reason)))


def finish(parts: list[pl.DataFrame], schema: dict[str, pl.DataType]) -> ParseResult:
    """Join per-format frames back into input order and split events from dead letters.

    Parameters
    ----------
    parts
        Frames that each carry ``_position``, ``event.original`` and ``_reason``.
    schema
        The schema the events are conformed to.
    """
    parts = [part for part in parts if part.height > 0]
    if not parts:
        return ParseResult(
            events=pl.DataFrame(schema=schema),
            dead=pl.DataFrame(schema=DEAD_LETTER_SCHEMA),
        )
    frame = parts[0] if len(parts) == 1 else pl.concat(parts, how="diagonal_relaxed")
    if len(parts) > 1:
        frame = frame.sort(POSITION)
    rejected = frame.get_column(REASON).is_not_null()
    if rejected.any():
        dead = frame.filter(rejected).select(
            pl.col(ORIGINAL).alias("raw"),
            pl.col(POSITION).alias("position"),
            pl.col(REASON).alias("reason"),
        )
        good = frame.filter(~rejected)
    else:
        dead = pl.DataFrame(schema=DEAD_LETTER_SCHEMA)
        good = frame
    working = [name for name in good.columns if name.startswith("_")]
    events = conform(good.drop(working), schema)
    return ParseResult(events=events, dead=conform(dead, DEAD_LETTER_SCHEMA))
