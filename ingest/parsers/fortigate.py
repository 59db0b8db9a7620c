"""FortiGate ``key=value`` logs, e.g. ``date=2019-05-10 time=11:37:47 logid=... srcip=...``."""

import polars as pl

from ingest.parsers.result import ORIGINAL, REASON
from ingest.parsers.timestamps import representable
from ingest.parsers.vocabulary import (
    classify_action,
    kv_value,
    missing_endpoints,
    outcome_of,
    transport_name,
)
from ingest.schema import TIMESTAMP

__all__ = ["DETECT", "STAMP", "fortigate_events", "stamp"]

DETECT = r"\bdate=\d{4}-\d{2}-\d{2} time=\d{2}:\d{2}:\d{2}"
"""A line is FortiGate when it has a ``date=... time=...`` pair."""

STAMP = "_stamp"
"""Working column holding the ``date=... time=...`` text, or null."""

_TZ = r'\btz="?[+-]\d{2}:?\d{2}'


def stamp(text: pl.Expr) -> pl.Expr:
    """The ``date=... time=...`` text of a line; null says the line is not FortiGate.

    Examples
    --------
    >>> pl.select(stamp(pl.lit('<189>date=2019-05-10 time=11:37:47 devname="fw"'))).item()
    'date=2019-05-10 time=11:37:47'
    """
    return text.str.extract(DETECT, 0)


def fortigate_events(frame: pl.DataFrame) -> pl.DataFrame:
    """Normalize FortiGate lines to firewall columns.

    ``@timestamp`` is ``date`` and ``time`` read in the ``tz`` offset when the line has
    one, else UTC. A line without ``srcip`` or ``dstip``, or whose date does not exist,
    is marked dead.

    Parameters
    ----------
    frame
        ``_position``, ``event.original`` and ``_reason`` of FortiGate lines, and
        optionally their ``_stamp`` (see :func:`stamp`) when the caller already has it.

    Examples
    --------
    >>> from ingest.parsers.result import number_lines
    >>> line = ('date=2019-05-10 time=11:37:47 tz="+0200" devname="FG-MEF-01" '
    ...         'srcip=10.1.100.11 srcport=58012 dstip=81.2.69.142 dstport=80 proto=6 '
    ...         'action="deny" policyid=1')
    >>> row = fortigate_events(number_lines(pl.Series([line]))).row(0, named=True)
    >>> row["@timestamp"].isoformat(), row["event.type"], row["destination.port"]
    ('2019-05-10T09:37:47+00:00', 'denied', 80)
    """
    raw = pl.col(ORIGINAL)
    if STAMP not in frame.columns:
        frame = frame.with_columns(stamp(raw).alias(STAMP))
    tz = raw.str.extract(_TZ, 0).str.slice(3).str.strip_chars_start('"')
    zoned = pl.concat_str(pl.col(STAMP), tz.fill_null("+0000"))
    # Lazily, so that expressions used twice (the action's class) are computed once.
    events = frame.lazy().with_columns(
        representable(
            zoned.str.strptime(TIMESTAMP, "date=%Y-%m-%d time=%H:%M:%S%#z", strict=False)
        ).alias("@timestamp"),
        kv_value(raw, "devname").alias("observer.hostname"),
        raw.str.extract(r"^<(\d{1,3})>", 1)
        .cast(pl.Int32, strict=False)
        .alias("log.syslog.priority"),
        kv_value(raw, "logid").alias("event.code"),
        kv_value(raw, "srcip").alias("source.ip"),
        kv_value(raw, "srcport").cast(pl.Int32, strict=False).alias("source.port"),
        kv_value(raw, "dstip").alias("destination.ip"),
        kv_value(raw, "dstport").cast(pl.Int32, strict=False).alias("destination.port"),
        transport_name(kv_value(raw, "proto")).alias("network.transport"),
        kv_value(raw, "service").str.to_lowercase().alias("network.protocol"),
        kv_value(raw, "action").alias("event.action"),
        kv_value(raw, "policyid").alias("rule.id"),
        kv_value(raw, "policyname").alias("rule.name"),
        kv_value(raw, "srcintf").alias("observer.ingress.interface.name"),
        kv_value(raw, "dstintf").alias("observer.egress.interface.name"),
        pl.lit("firewall.fortigate").alias("event.dataset"),
        pl.lit("fortinet").alias("event.module"),
        pl.lit("Fortinet").alias("observer.vendor"),
        pl.lit("FortiGate").alias("observer.product"),
    )
    invalid_time = pl.when(pl.col("@timestamp").is_null()).then(pl.lit("invalid timestamp"))
    reason = pl.coalesce(missing_endpoints(), invalid_time)
    event_type = classify_action(pl.col("event.action"))
    return (
        events.with_columns(
            event_type.alias("event.type"),
            outcome_of(event_type).alias("event.outcome"),
            pl.col(REASON).fill_null(reason),
        )
        .drop(STAMP)
        .collect()
    )
