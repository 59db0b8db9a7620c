"""Normalized column sets of the ingest stage, one per log family.

Column names are flat, dotted Elastic Common Schema (ECS) names. Where Sigma rules need a
field that ECS has no home for, the column keeps an ECS-style name: Windows event data
goes under ``winlog.event_data.<Name>`` (as Winlogbeat does), and a few Sysmon fields
use the ECS field that describes them (``process.pe.original_file_name``,
``process.working_directory``).

``event.category`` and ``event.type`` are arrays in ECS; here they are plain strings
holding the single value a parser sets.
"""

from typing import Final

import polars as pl

__all__ = [
    "COMMON_COLUMNS",
    "DEAD_LETTER_SCHEMA",
    "ENDPOINT_SCHEMA",
    "FIREWALL_SCHEMA",
    "TIMESTAMP",
    "WEB_SCHEMA",
    "conform",
]

TIMESTAMP: Final = pl.Datetime("us", "UTC")
"""The type of ``@timestamp``: microseconds, UTC."""

_S: Final = pl.String()
_I32: Final = pl.Int32()
_I64: Final = pl.Int64()

COMMON_COLUMNS: Final[dict[str, pl.DataType]] = {
    "@timestamp": TIMESTAMP,
    "event.original": _S,
    "event.dataset": _S,
    "event.module": _S,
    "event.kind": _S,
    "event.category": _S,
    "event.type": _S,
    "event.action": _S,
    "event.outcome": _S,
    "event.code": _S,
    "message": _S,
    "observer.vendor": _S,
    "observer.product": _S,
    "observer.type": _S,
    "observer.hostname": _S,
    "host.name": _S,
    "log.syslog.hostname": _S,
    "log.syslog.appname": _S,
    "log.syslog.priority": _I32,
}
"""Columns every normalized frame starts with."""

FIREWALL_SCHEMA: Final[dict[str, pl.DataType]] = COMMON_COLUMNS | {
    "source.ip": _S,
    "source.port": _I32,
    "destination.ip": _S,
    "destination.port": _I32,
    "network.transport": _S,
    "network.protocol": _S,
    "network.direction": _S,
    "observer.ingress.interface.name": _S,
    "observer.egress.interface.name": _S,
    "observer.ingress.zone": _S,
    "observer.egress.zone": _S,
    "rule.id": _S,
    "rule.name": _S,
}
"""Firewall connection logs (FortiGate, iptables, pfSense, CEF)."""

WEB_SCHEMA: Final[dict[str, pl.DataType]] = COMMON_COLUMNS | {
    "source.ip": _S,
    "destination.ip": _S,
    "destination.port": _I32,
    "user.name": _S,
    "http.request.method": _S,
    "http.version": _S,
    "url.original": _S,
    "url.path": _S,
    "url.query": _S,
    "url.domain": _S,
    "http.response.status_code": _I32,
    "http.response.body.bytes": _I64,
    "http.request.bytes": _I64,
    "http.request.referrer": _S,
    "user_agent.original": _S,
    "event.duration": _I64,
}
"""Web server access logs (nginx/Apache common and combined, IIS W3C)."""

ENDPOINT_SCHEMA: Final[dict[str, pl.DataType]] = COMMON_COLUMNS | {
    "winlog.channel": _S,
    "winlog.event_id": _S,
    "winlog.provider_name": _S,
    "winlog.computer_name": _S,
    "process.executable": _S,
    "process.name": _S,
    "process.command_line": _S,
    "process.pid": _I64,
    "process.entity_id": _S,
    "process.working_directory": _S,
    "process.pe.original_file_name": _S,
    "process.pe.description": _S,
    "process.pe.product": _S,
    "process.pe.company": _S,
    "process.pe.file_version": _S,
    "process.pe.imphash": _S,
    "process.hash.md5": _S,
    "process.hash.sha1": _S,
    "process.hash.sha256": _S,
    "process.parent.executable": _S,
    "process.parent.name": _S,
    "process.parent.command_line": _S,
    "process.parent.pid": _I64,
    "process.parent.entity_id": _S,
    "user.name": _S,
    "user.domain": _S,
    "user.id": _S,
    "file.path": _S,
    "dll.path": _S,
    "registry.path": _S,
    "registry.value": _S,
    "dns.question.name": _S,
    "source.ip": _S,
    "source.port": _I32,
    "source.domain": _S,
    "destination.ip": _S,
    "destination.port": _I32,
    "destination.domain": _S,
    "network.transport": _S,
    "winlog.event_data.IntegrityLevel": _S,
    "winlog.event_data.Hashes": _S,
    "winlog.event_data.LogonId": _S,
    "winlog.event_data.RuleName": _S,
    "winlog.event_data.ParentUser": _S,
    "winlog.event_data.TargetImage": _S,
    "winlog.event_data.GrantedAccess": _S,
    "winlog.event_data.CallTrace": _S,
    "winlog.event_data.Details": _S,
    "winlog.event_data.EventType": _S,
    "winlog.event_data.Signed": _S,
    "winlog.event_data.Signature": _S,
    "winlog.event_data.PipeName": _S,
    "winlog.event_data.QueryResults": _S,
    "winlog.event_data.StartAddress": _S,
    "winlog.event_data.StartModule": _S,
    "winlog.event_data.StartFunction": _S,
}
"""Windows and Sysmon events (raw event JSON or Winlogbeat ECS JSON), Linux auditd executions."""

DEAD_LETTER_SCHEMA: Final[dict[str, pl.DataType]] = {
    "raw": _S,
    "position": pl.UInt64(),
    "reason": _S,
}
"""Lines a parser could not turn into events: the line, its index in the batch, why."""


def conform(
    frame: pl.DataFrame, schema: dict[str, pl.DataType], *, strict: bool = True
) -> pl.DataFrame:
    """Give a frame exactly the columns of a schema, in the schema's order and types.

    Missing columns are added as typed nulls; columns the schema does not name are kept,
    after the schema's columns, in their current order.

    Parameters
    ----------
    frame
        Any frame.
    schema
        Column name to type, e.g. :data:`FIREWALL_SCHEMA`.
    strict
        Passed to :meth:`polars.Expr.cast`: raise on a value that does not fit the type
        (the default) or turn it into null.

    Returns
    -------
    polars.DataFrame
        The schema's columns first, then the extra ones.

    Examples
    --------
    >>> frame = pl.DataFrame({"extra": [1], "b": ["7"]})
    >>> conform(frame, {"a": pl.String(), "b": pl.Int32()})
    shape: (1, 3)
    ┌──────┬─────┬───────┐
    │ a    ┆ b   ┆ extra │
    │ ---  ┆ --- ┆ ---   │
    │ str  ┆ i32 ┆ i64   │
    ╞══════╪═════╪═══════╡
    │ null ┆ 7   ┆ 1     │
    └──────┴─────┴───────┘
    """
    present = set(frame.columns)
    columns = [
        pl.col(name).cast(dtype, strict=strict)
        if name in present
        else pl.repeat(None, frame.height, dtype=dtype).alias(name)
        for name, dtype in schema.items()
    ]
    extras = [name for name in frame.columns if name not in schema]
    return frame.select(*columns, *extras)
