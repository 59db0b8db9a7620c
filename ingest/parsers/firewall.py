"""Firewall logs: FortiGate, iptables, pfSense and CEF, told apart line by line."""

from collections.abc import Callable

import polars as pl

from ingest.parsers import cef, fortigate, iptables, pfsense
from ingest.parsers.result import (
    ORIGINAL,
    REASON,
    ParseResult,
    finish,
    number_lines,
    reject,
    with_syslog,
)
from ingest.schema import FIREWALL_SCHEMA

__all__ = ["parse_firewall"]

UNRECOGNIZED = "unrecognized firewall format"

# Formats read after syslog framing is split off; the first that claims a line wins.
_FRAMED: tuple[Callable[[pl.DataFrame], pl.DataFrame], ...] = (
    cef.cef_events,
    pfsense.pfsense_events,
    iptables.iptables_events,
)


def _claims() -> list[pl.Expr]:
    """One boolean per entry of ``_FRAMED``: does the line look like that format."""
    raw = pl.col(ORIGINAL)
    return [
        raw.str.contains(cef.DETECT),
        raw.str.contains(pfsense.DETECT) | (pl.col("log.syslog.appname") == "filterlog"),
        raw.str.contains(iptables.DETECT),
    ]


def _common(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        pl.lit("event").alias("event.kind"),
        pl.lit("network").alias("event.category"),
        pl.lit("firewall").alias("observer.type"),
    )


def _framed_parts(frame: pl.DataFrame, *, year: int) -> list[pl.DataFrame]:
    """Split syslog framing off the lines that need it, then dispatch them by format."""
    if frame.height == 0:
        return []
    choice = pl.lit(None, dtype=pl.Int32)
    for index, claimed in reversed(list(enumerate(_claims()))):
        choice = pl.when(claimed).then(pl.lit(index, dtype=pl.Int32)).otherwise(choice)
    framed = with_syslog(frame, year=year).with_columns(choice.alias("_format"))
    parts = []
    for index, normalize in enumerate(_FRAMED):
        subset = framed.filter(pl.col("_format") == index)
        if subset.height:
            parts.append(_common(normalize(subset)))
    parts.append(reject(framed.filter(pl.col("_format").is_null()), UNRECOGNIZED))
    return parts


def parse_firewall(lines: pl.Series, *, year: int) -> ParseResult:
    """Parse a batch of firewall log lines into ECS network events.

    Each line may be FortiGate ``key=value``, iptables/netfilter, pfSense ``filterlog``
    CSV or CEF, with or without RFC 3164/5424 syslog framing; formats may be mixed in
    one batch. A line that matches no format, or lacks a source or destination address,
    or has a date that does not exist, becomes a dead letter. Nothing is raised.

    Parameters
    ----------
    lines
        Raw lines, one per row.
    year
        The year of RFC 3164 syslog stamps, which carry none.

    Returns
    -------
    ParseResult
        ``events`` with the columns of :data:`ingest.schema.FIREWALL_SCHEMA`, and
        ``dead`` with the rejected lines.

    Examples
    --------
    >>> lines = pl.Series([
    ...     'date=2019-05-10 time=11:37:47 devname="FG-MEF-01" srcip=10.1.100.11 '
    ...     'srcport=58012 dstip=81.2.69.142 dstport=80 proto=6 action="close" policyid=1',
    ...     "hello",
    ... ])
    >>> result = parse_firewall(lines, year=2019)
    >>> result.events.select("source.ip", "destination.port", "event.action", "rule.id")
    shape: (1, 4)
    ┌─────────────┬──────────────────┬──────────────┬─────────┐
    │ source.ip   ┆ destination.port ┆ event.action ┆ rule.id │
    │ ---         ┆ ---              ┆ ---          ┆ ---     │
    │ str         ┆ i32              ┆ str          ┆ str     │
    ╞═════════════╪══════════════════╪══════════════╪═════════╡
    │ 10.1.100.11 ┆ 80               ┆ close        ┆ 1       │
    └─────────────┴──────────────────┴──────────────┴─────────┘
    >>> result.dead.row(0)
    ('hello', 1, 'unrecognized firewall format')
    """
    frame = number_lines(lines).with_columns(
        fortigate.stamp(pl.col(ORIGINAL)).alias(fortigate.STAMP)
    )
    pending = pl.col(REASON).is_null()
    is_fortigate = frame.select(pending & pl.col(fortigate.STAMP).is_not_null()).to_series()
    if is_fortigate.all():
        return finish([_common(fortigate.fortigate_events(frame))], FIREWALL_SCHEMA)
    parts = [frame.filter(pl.col(REASON).is_not_null())]
    forti = frame.filter(is_fortigate)
    if forti.height:
        parts.append(_common(fortigate.fortigate_events(forti)))
    rest = frame.filter(pending & ~is_fortigate)
    parts.extend(_framed_parts(rest, year=year))
    return finish(parts, FIREWALL_SCHEMA)
