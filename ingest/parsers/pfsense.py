"""pfSense ``filterlog`` lines: CSV after the syslog header (pfSense 2.2 and later)."""

import polars as pl

from ingest.parsers.result import MESSAGE, ORIGINAL, REASON, SYSLOG_TIME
from ingest.parsers.vocabulary import (
    classify_action,
    missing_endpoints,
    outcome_of,
    transport_name,
)

__all__ = ["DETECT", "pfsense_events"]

DETECT = r"\bfilterlog(?:\[\d*\])?:\s*\d*,"
"""A line is pfSense when a ``filterlog`` tag is followed by the CSV's rule number."""

_CSV = r"\bfilterlog(?:\[\d*\])?:\s*(.*)$"
_CSV_FIELDS = "_csv_fields"

# Column positions in the CSV. The first nine are shared; after the IP version the
# IPv4 and IPv6 layouts differ.
_TRACKER, _INTERFACE, _ACTION, _DIRECTION, _VERSION = 3, 4, 6, 7, 8
_V4 = {"transport": 16, "source": 18, "destination": 19, "sport": 20, "dport": 21}
_V6 = {"transport": 12, "source": 15, "destination": 16, "sport": 17, "dport": 18}


def _present(value: pl.Expr) -> pl.Expr:
    return pl.when(value != "").then(value)


def pfsense_events(frame: pl.DataFrame) -> pl.DataFrame:
    """Normalize pfSense filterlog lines to firewall columns.

    ``rule.id`` is the rule's tracker id; the interface goes to the ingress or egress
    side according to the direction column. Ports are read only for TCP and UDP.

    Parameters
    ----------
    frame
        Working frame of filterlog lines with the syslog columns already split off.

    Examples
    --------
    >>> from ingest.parsers.result import number_lines, with_syslog
    >>> line = ("<134>Oct 11 22:14:15 fw filterlog[123]: 5,,,1000000103,igb1,match,block,"
    ...         "in,4,0x0,,64,0,0,DF,6,tcp,60,198.51.100.7,10.20.0.5,51000,22,0,S,1,,64240")
    >>> frame = with_syslog(number_lines(pl.Series([line])), year=2024)
    >>> row = pfsense_events(frame).row(0, named=True)
    >>> row["event.action"], row["source.ip"], row["destination.port"], row["rule.id"]
    ('block', '198.51.100.7', 22, '1000000103')
    """
    csv = pl.coalesce(
        pl.when(pl.col("log.syslog.appname") == "filterlog").then(pl.col(MESSAGE)),
        pl.col(ORIGINAL).str.extract(_CSV, 1),
    )
    # Lazily, so that expressions used more than once (the transport) are computed once.
    lazy = frame.lazy().with_columns(csv.str.split(",").alias(_CSV_FIELDS))
    fields = pl.col(_CSV_FIELDS)

    def field(index: int) -> pl.Expr:
        return _present(fields.list.get(index, null_on_oob=True))

    def by_version(name: str) -> pl.Expr:
        version = field(_VERSION)
        return (
            pl.when(version == "4")
            .then(field(_V4[name]))
            .when(version == "6")
            .then(field(_V6[name]))
        )

    transport = transport_name(by_version("transport"))
    has_ports = transport.is_in(["tcp", "udp"])
    direction = field(_DIRECTION)
    action = field(_ACTION)
    events = lazy.with_columns(
        pl.col(SYSLOG_TIME).alias("@timestamp"),
        pl.col("log.syslog.hostname").alias("observer.hostname"),
        by_version("source").alias("source.ip"),
        by_version("destination").alias("destination.ip"),
        pl.when(has_ports)
        .then(by_version("sport"))
        .cast(pl.Int32, strict=False)
        .alias("source.port"),
        pl.when(has_ports)
        .then(by_version("dport"))
        .cast(pl.Int32, strict=False)
        .alias("destination.port"),
        transport.alias("network.transport"),
        direction.replace_strict(
            {"in": "ingress", "out": "egress"}, default=None, return_dtype=pl.String
        ).alias("network.direction"),
        pl.when(direction == "in").then(field(_INTERFACE)).alias("observer.ingress.interface.name"),
        pl.when(direction == "out").then(field(_INTERFACE)).alias("observer.egress.interface.name"),
        field(_TRACKER).alias("rule.id"),
        action.alias("event.action"),
        classify_action(action).alias("event.type"),
        pl.lit("firewall.pfsense").alias("event.dataset"),
        pl.lit("pfsense").alias("event.module"),
        pl.lit("Netgate").alias("observer.vendor"),
        pl.lit("pfSense").alias("observer.product"),
    )
    return (
        events.with_columns(
            outcome_of(pl.col("event.type")).alias("event.outcome"),
            pl.col(REASON).fill_null(missing_endpoints()),
        )
        .drop(_CSV_FIELDS)
        .collect()
    )
