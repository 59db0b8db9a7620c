"""ArcSight Common Event Format: ``CEF:0|vendor|product|version|id|name|severity|k=v ...``."""

import polars as pl

from ingest.parsers.result import ORIGINAL, REASON, SYSLOG_TIME
from ingest.parsers.timestamps import parse_epoch_millis
from ingest.parsers.vocabulary import (
    classify_action,
    kv_value,
    missing_endpoints,
    outcome_of,
    transport_name,
)

__all__ = ["DETECT", "cef_events"]

DETECT = r"CEF:\d+\|"
"""A line is CEF when it has a ``CEF:<version>|`` header."""

_HEADER = (
    r"CEF:\d+\|(?<vendor>(?:[^|\\]|\\.)*)\|(?<product>(?:[^|\\]|\\.)*)\|(?:[^|\\]|\\.)*\|"
    r"(?<class>(?:[^|\\]|\\.)*)\|(?<name>(?:[^|\\]|\\.)*)\|"
)
# ``rt`` is milliseconds since the epoch or ``MMM dd yyyy HH:mm:ss[.SSS]``.
_RT = r"\brt=(\d{10,13}|[A-Z][a-z]{2} \d{1,2} \d{4} \d{2}:\d{2}:\d{2}(?:\.\d{1,3})?)"


def _unescape(value: pl.Expr) -> pl.Expr:
    """Header fields escape ``|`` and ``\\`` with a backslash."""
    return value.str.replace_all(r"\\([|\\])", "$1")


def cef_events(frame: pl.DataFrame) -> pl.DataFrame:
    """Normalize CEF lines to firewall columns.

    Vendor and product come from the header, ``event.code`` is the device event class
    id and ``message`` the event name. ``@timestamp`` is ``rt`` when present, else the
    syslog header's stamp.

    Parameters
    ----------
    frame
        Working frame of CEF lines with the syslog columns already split off.

    Examples
    --------
    >>> from ingest.parsers.result import number_lines, with_syslog
    >>> line = ("CEF:0|Fortinet|FortiGate|7.0|13|traffic|5|rt=1557513467000 src=10.1.100.11 "
    ...         "spt=58012 dst=81.2.69.142 dpt=80 proto=6 act=close")
    >>> frame = with_syslog(number_lines(pl.Series([line])), year=2024)
    >>> row = cef_events(frame).row(0, named=True)
    >>> row["observer.vendor"], row["event.action"], row["network.transport"]
    ('Fortinet', 'close', 'tcp')
    >>> row["@timestamp"].isoformat()
    '2019-05-10T18:37:47+00:00'
    """
    raw = pl.col(ORIGINAL)
    # Lazily, so that expressions used more than once (the action's class) are computed once.
    lazy = frame.lazy().with_columns(
        raw.str.extract_groups(_HEADER).alias("_header"), raw.str.extract(_RT, 1).alias("_rt")
    )
    header = pl.col("_header")
    rt = pl.col("_rt")
    rt_time = pl.coalesce(
        # The standard says milliseconds; some devices send seconds.
        parse_epoch_millis(
            pl.when(rt.str.contains(r"^\d{10}$"))
            .then(rt + "000")
            .when(rt.str.contains(r"^\d+$"))
            .then(rt)
        ),
        rt.str.strptime(
            pl.Datetime("us"), "%b %d %Y %H:%M:%S%.f", strict=False
        ).dt.replace_time_zone("UTC"),
    )
    events = lazy.with_columns(
        pl.coalesce(rt_time, pl.col(SYSLOG_TIME)).alias("@timestamp"),
        pl.coalesce(kv_value(raw, "dvchost"), pl.col("log.syslog.hostname")).alias(
            "observer.hostname"
        ),
        _unescape(header.struct.field("vendor")).alias("observer.vendor"),
        _unescape(header.struct.field("product")).alias("observer.product"),
        _unescape(header.struct.field("class")).alias("event.code"),
        _unescape(header.struct.field("name")).alias("message"),
        kv_value(raw, "src").alias("source.ip"),
        kv_value(raw, "spt").cast(pl.Int32, strict=False).alias("source.port"),
        kv_value(raw, "dst").alias("destination.ip"),
        kv_value(raw, "dpt").cast(pl.Int32, strict=False).alias("destination.port"),
        transport_name(kv_value(raw, "proto")).alias("network.transport"),
        kv_value(raw, "app").str.to_lowercase().alias("network.protocol"),
        kv_value(raw, "deviceDirection")
        .replace_strict({"0": "inbound", "1": "outbound"}, default=None, return_dtype=pl.String)
        .alias("network.direction"),
        kv_value(raw, "deviceInboundInterface").alias("observer.ingress.interface.name"),
        kv_value(raw, "deviceOutboundInterface").alias("observer.egress.interface.name"),
        kv_value(raw, "act").alias("event.action"),
        pl.lit("firewall.cef").alias("event.dataset"),
        pl.lit("cef").alias("event.module"),
    )
    event_type = classify_action(pl.col("event.action"))
    return (
        events.with_columns(
            event_type.alias("event.type"),
            outcome_of(event_type).alias("event.outcome"),
            pl.col(REASON).fill_null(missing_endpoints()),
        )
        .drop("_header", "_rt")
        .collect()
    )
