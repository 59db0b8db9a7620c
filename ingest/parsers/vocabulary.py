"""Firewall vocabulary shared by the formats: ``key=value`` lookups, verdicts, transports."""

import re

import polars as pl

__all__ = [
    "classify_action",
    "kv_value",
    "missing_endpoints",
    "outcome_of",
    "transport_name",
]

_DENIED = [
    "deny", "denied", "drop", "dropped", "block", "blocked", "reject", "rejected",
]  # fmt: skip
_ALLOWED = [
    "accept", "accepted", "allow", "allowed", "pass", "passthrough", "permit",
    "permitted", "close", "timeout", "start", "server-rst", "client-rst", "ip-conn",
]  # fmt: skip
_IANA_TRANSPORT = {
    "1": "icmp", "2": "igmp", "6": "tcp", "17": "udp", "47": "gre", "50": "esp",
    "51": "ah", "58": "ipv6-icmp", "132": "sctp",
}  # fmt: skip


def kv_value(text: pl.Expr, key: str) -> pl.Expr:
    """Value of ``key=value`` or ``key="value"`` anywhere in a line; null when absent.

    The whole match is extracted (group 0) and the key sliced off afterwards: a regex
    without capture groups runs on the faster engine, which matters for the 15-odd keys
    of a FortiGate line. An empty value (``key=`` or ``key=""``) is null.

    Parameters
    ----------
    text
        The lines.
    key
        A key made of word characters, matched at a word boundary (``ip`` does not
        match inside ``srcip=``).

    Examples
    --------
    >>> line = pl.lit('srcip=10.0.0.1 action="close" dstintf=""')
    >>> pl.select(a=kv_value(line, "action"), b=kv_value(line, "dstintf")).row(0)
    ('close', None)
    """
    pattern = rf'\b{re.escape(key)}=(?:"[^"]+|[^\s"]+)'
    return text.str.extract(pattern, 0).str.slice(len(key) + 1).str.strip_chars_start('"')


def classify_action(action: pl.Expr) -> pl.Expr:
    """ECS ``event.type`` from a vendor action: ``denied``, ``allowed`` or ``connection``.

    Examples
    --------
    >>> pl.select(classify_action(pl.lit("DROP"))).item()
    'denied'
    """
    lowered = action.str.to_lowercase()
    return (
        pl.when(lowered.is_in(_DENIED))
        .then(pl.lit("denied"))
        .when(lowered.is_in(_ALLOWED))
        .then(pl.lit("allowed"))
        .otherwise(pl.lit("connection"))
    )


def outcome_of(event_type: pl.Expr) -> pl.Expr:
    """ECS ``event.outcome``: an allowed connection succeeded, a denied one failed.

    Examples
    --------
    >>> pl.select(outcome_of(pl.lit("connection"))).item()
    'unknown'
    """
    return (
        pl.when(event_type == "allowed")
        .then(pl.lit("success"))
        .when(event_type == "denied")
        .then(pl.lit("failure"))
        .otherwise(pl.lit("unknown"))
    )


def transport_name(proto: pl.Expr) -> pl.Expr:
    """ECS ``network.transport`` from an IANA protocol number or name, lower case.

    Examples
    --------
    >>> pl.select(a=transport_name(pl.lit("6")), b=transport_name(pl.lit("UDP"))).row(0)
    ('tcp', 'udp')
    """
    return proto.str.to_lowercase().replace(_IANA_TRANSPORT)


def missing_endpoints() -> pl.Expr:
    """Dead-letter reason for a connection without both addresses, else null.

    Examples
    --------
    >>> frame = pl.DataFrame({"source.ip": ["10.0.0.1", None], "destination.ip": [None, "x"]})
    >>> frame.select(missing_endpoints()).to_series().to_list()
    ['missing destination.ip', 'missing source.ip']
    """
    return (
        pl.when(pl.col("source.ip").is_null())
        .then(pl.lit("missing source.ip"))
        .when(pl.col("destination.ip").is_null())
        .then(pl.lit("missing destination.ip"))
    )
