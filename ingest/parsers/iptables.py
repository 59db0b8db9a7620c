"""iptables/netfilter kernel log lines: ``[prefix] IN=eth0 OUT= SRC=... DST=... PROTO=TCP``."""

import polars as pl

from ingest.parsers.result import MESSAGE, ORIGINAL, REASON, SYSLOG_TIME
from ingest.parsers.vocabulary import (
    classify_action,
    kv_value,
    missing_endpoints,
    outcome_of,
    transport_name,
)

__all__ = ["DETECT", "iptables_events"]

DETECT = r"\bSRC=[0-9A-Fa-f.:]+ DST=[0-9A-Fa-f.:]+"
"""A line is iptables when it has adjacent ``SRC=`` and ``DST=`` addresses."""

# The log prefix set with ``-j LOG --log-prefix`` sits between the kernel's uptime stamp
# and ``IN=``; it is the only place the rule's verdict and name appear.
_PREFIX = r"^(?:kernel:\s*)?(?:\[\s*\d+\.\d+\]\s*)?(.*?)\s*\bIN="
_VERDICT = r"(drop|deny|reject|block|accept|allow)"


def iptables_events(frame: pl.DataFrame) -> pl.DataFrame:
    """Normalize iptables lines to firewall columns.

    The verdict (``drop``, ``reject``, ``accept``...) is read from the log prefix, which
    also becomes ``rule.name``. ``@timestamp`` comes from the syslog header; a line
    without one keeps a null timestamp, because the kernel stamp is only an uptime.

    Parameters
    ----------
    frame
        Working frame of iptables lines with the syslog columns already split off.

    Examples
    --------
    >>> from ingest.parsers.result import number_lines, with_syslog
    >>> line = ("Oct 11 22:14:15 gw kernel: [12.3] [UFW BLOCK] IN=eth0 OUT= SRC=81.2.69.143 "
    ...         "DST=172.16.54.114 LEN=60 PROTO=TCP SPT=17805 DPT=445 SYN")
    >>> frame = with_syslog(number_lines(pl.Series([line])), year=2024)
    >>> row = iptables_events(frame).row(0, named=True)
    >>> row["event.action"], row["rule.name"], row["destination.port"], row["network.direction"]
    ('block', '[UFW BLOCK]', 445, 'ingress')
    """
    raw = pl.col(ORIGINAL)
    prefix = pl.col(MESSAGE).str.extract(_PREFIX, 1)
    inbound = kv_value(raw, "IN")
    outbound = kv_value(raw, "OUT")
    # Lazily, so that expressions used more than once (the prefix, the interfaces) are
    # computed once.
    events = frame.lazy().with_columns(
        pl.col(SYSLOG_TIME).alias("@timestamp"),
        pl.col("log.syslog.hostname").alias("observer.hostname"),
        kv_value(raw, "SRC").alias("source.ip"),
        kv_value(raw, "SPT").cast(pl.Int32, strict=False).alias("source.port"),
        kv_value(raw, "DST").alias("destination.ip"),
        kv_value(raw, "DPT").cast(pl.Int32, strict=False).alias("destination.port"),
        transport_name(kv_value(raw, "PROTO")).alias("network.transport"),
        inbound.alias("observer.ingress.interface.name"),
        outbound.alias("observer.egress.interface.name"),
        pl.when(inbound.is_not_null() & outbound.is_null())
        .then(pl.lit("ingress"))
        .when(outbound.is_not_null() & inbound.is_null())
        .then(pl.lit("egress"))
        .alias("network.direction"),
        prefix.str.to_lowercase().str.extract(_VERDICT, 1).alias("event.action"),
        pl.when(prefix != "").then(prefix).alias("rule.name"),
        pl.lit("firewall.iptables").alias("event.dataset"),
        pl.lit("iptables").alias("event.module"),
        pl.lit("Netfilter").alias("observer.vendor"),
        pl.lit("iptables").alias("observer.product"),
    )
    event_type = classify_action(pl.col("event.action"))
    return events.with_columns(
        event_type.alias("event.type"),
        outcome_of(event_type).alias("event.outcome"),
        pl.col(REASON).fill_null(missing_endpoints()),
    ).collect()
