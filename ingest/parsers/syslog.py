"""Syslog framing: split RFC 5424 and RFC 3164 headers from the message they carry."""

import polars as pl

from ingest.parsers.timestamps import parse_bsd, parse_iso8601
from ingest.schema import TIMESTAMP

__all__ = ["SYSLOG_SCHEMA", "split_syslog"]

SYSLOG_SCHEMA: dict[str, pl.DataType] = {
    "timestamp": TIMESTAMP,
    "hostname": pl.String(),
    "appname": pl.String(),
    "priority": pl.Int32(),
    "message": pl.String(),
}

# The two header regexes match the header only, in a ``head`` group; the message is the rest
# of the line. Capture groups run on a slower regex engine whose cost grows with the length
# of the match, so the message is cut off with a slice instead of matched as ``(.*)``. A
# header is followed by a space (then the message, possibly empty) or by the end of line.

# <PRI>VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [MSG]
_RFC5424 = (
    r"(?s)^(?<head><(?<pri>\d{1,3})>\d{1,2} (?<ts>\S+) (?<host>\S+) (?<app>\S+) \S+ \S+ "
    r"(?:-|(?:\[(?:[^\]\\]|\\.)*\])+)(?: |$))"
)
# [<PRI>]Mmm dd hh:mm:ss HOSTNAME [TAG[PID]:] MSG; rsyslog may send an RFC 3339 stamp.
_RFC3164 = (
    r"(?s)^(?<head>(?:<(?<pri>\d{1,3})>)?"
    r"(?<ts>[A-Z][a-z]{2} [ \d]?\d \d{2}:\d{2}:\d{2}"
    r"|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)"
    r" (?<host>[^\s\[\]]+)(?: (?:(?<app>[^\s\[\]:]+)(?:\[[^\]\s]*\])?: ?)?|$))"
)
# Devices such as FortiGate send only <PRI> before the message.
_PRI_ONLY = r"^<(\d{1,3})>"


def _nil(value: pl.Expr) -> pl.Expr:
    """RFC 5424 writes a missing header field as ``-``."""
    return pl.when(value != "-").then(value)


def split_syslog(lines: pl.Series, *, year: int) -> pl.DataFrame:
    """Split syslog headers from messages, line by line but without a Python loop.

    Recognises RFC 5424, RFC 3164 (with or without ``<PRI>``, and with an RFC 3339
    stamp as rsyslog forwards it) and a bare ``<PRI>`` prefix. A line without framing
    is all message. RFC 3164 stamps have no year and no zone: the year is the caller's
    ``year`` and the zone is UTC.

    Parameters
    ----------
    lines
        Raw lines, one per row.
    year
        The year to give RFC 3164 timestamps.

    Returns
    -------
    polars.DataFrame
        ``timestamp`` (UTC), ``hostname``, ``appname``, ``priority``, ``message``; one
        row per input line, nulls where the framing lacks the field.

    Examples
    --------
    >>> lines = pl.Series(["<34>Oct 11 22:14:15 mymachine su[42]: 'su root' failed",
    ...                    "<165>1 2003-10-11T22:14:15.003Z host app - ID47 - hi",
    ...                    "no framing"])
    >>> split_syslog(lines, year=2003).select("hostname", "appname", "message")
    shape: (3, 3)
    ┌───────────┬─────────┬──────────────────┐
    │ hostname  ┆ appname ┆ message          │
    │ ---       ┆ ---     ┆ ---              │
    │ str       ┆ str     ┆ str              │
    ╞═══════════╪═════════╪══════════════════╡
    │ mymachine ┆ su      ┆ 'su root' failed │
    │ host      ┆ app     ┆ hi               │
    │ null      ┆ null    ┆ no framing       │
    └───────────┴─────────┴──────────────────┘
    """
    line = pl.col("line")
    new = pl.col("rfc5424")
    old = pl.col("rfc3164")
    bare = pl.col("pri_only")
    is_new = new.struct.field("pri").is_not_null()
    is_old = old.struct.field("ts").is_not_null()
    old_ts = old.struct.field("ts")
    frame = pl.DataFrame({"line": lines.cast(pl.String)}).select(
        line,
        line.str.extract_groups(_RFC5424).alias("rfc5424"),
        line.str.extract_groups(_RFC3164).alias("rfc3164"),
        line.str.extract(_PRI_ONLY, 1).alias("pri_only"),
    )

    def rest(head: pl.Expr) -> pl.Expr:
        return line.str.slice(head.str.len_chars())

    return frame.select(
        pl.when(is_new)
        .then(parse_iso8601(_nil(new.struct.field("ts"))))
        .when(is_old)
        .then(pl.coalesce(parse_bsd(old_ts, year=year), parse_iso8601(old_ts)))
        .alias("timestamp"),
        pl.when(is_new)
        .then(_nil(new.struct.field("host")))
        .otherwise(old.struct.field("host"))
        .alias("hostname"),
        pl.when(is_new)
        .then(_nil(new.struct.field("app")))
        .otherwise(old.struct.field("app"))
        .alias("appname"),
        # ``\d`` also matches digits of other scripts, which do not convert.
        pl.coalesce(new.struct.field("pri"), old.struct.field("pri"), bare)
        .cast(pl.Int32, strict=False)
        .alias("priority"),
        pl.when(is_new)
        .then(rest(new.struct.field("head")))
        .when(is_old)
        .then(rest(old.struct.field("head")))
        .when(bare.is_not_null())
        .then(line.str.slice(bare.str.len_chars() + 2))
        .otherwise(line)
        .alias("message"),
    )
