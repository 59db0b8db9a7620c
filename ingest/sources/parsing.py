"""Parse a source batch: each family's records through its parser, then stamp them.

One call per batch, one parser call per family present in it; no per-record Python work
on the way except what the parsers themselves do. Lines a parser rejects become dead
letters with their original position (``origin``) and the parser's reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import polars as pl

from ingest.deadletter import DEAD_RECORD_SCHEMA
from ingest.identity import CONFLICT_SCHEMA, parsed_positions, stamp_with_conflicts
from ingest.parsers import ParseResult, parse_endpoint, parse_firewall, parse_web
from ingest.sources.records import empty_dead

__all__ = ["ParsedBatch", "parse_family", "parse_records"]


@dataclass(frozen=True, slots=True)
class ParsedBatch:
    """Stamped events per family, the records that could not be parsed, identity conflicts.

    ``conflicts`` counts events whose header or forwarder entry named another ministry
    than their topic (:data:`ingest.identity.CONFLICT_SCHEMA`); they keep the topic's.
    """

    events: dict[str, pl.DataFrame] = field(default_factory=dict)
    dead: pl.DataFrame = field(default_factory=empty_dead)
    conflicts: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=CONFLICT_SCHEMA))

    @property
    def count(self) -> int:
        """Events over all families."""
        return sum(frame.height for frame in self.events.values())


def parse_family(family: str, lines: pl.Series, *, year: int) -> ParseResult | None:
    """Run the parser of ``family`` (``None`` for a family without one)."""
    if family == "firewall":
        return parse_firewall(lines, year=year)
    if family == "endpoint":
        return parse_endpoint(lines)
    if family == "web":
        return parse_web(lines, year=year)
    return None


def parse_records(
    records: pl.DataFrame, *, year: int, forwarders: Mapping[str, str] | None = None
) -> ParsedBatch:
    """Parse and stamp a batch of records of any families.

    Parameters
    ----------
    records
        :data:`ingest.sources.RECORD_SCHEMA` rows.
    year
        Year of syslog stamps that carry none.
    forwarders
        Forwarder or host name -> ministry id (see :func:`ingest.identity.stamp_events`).

    Returns
    -------
    ParsedBatch
        Events per family with ``event.id`` and ``organization.id``; dead letters.

    Examples
    --------
    >>> records = pl.DataFrame({
    ...     "family": ["firewall", "firewall"], "source": ["fw.log"] * 2,
    ...     "origin": ["fw.log:1", "fw.log:2"],
    ...     "line": ["date=2019-05-10 time=11:37:47 srcip=10.0.0.1 dstip=10.0.0.2", "hello"],
    ...     "header_organization": ["mef", None], "source_organization": [None, None]})
    >>> parsed = parse_records(records, year=2019)
    >>> parsed.events["firewall"].select("source.ip", "organization.id").rows()
    [('10.0.0.1', 'mef')]
    >>> parsed.dead.select("origin", "reason", "raw").rows()
    [('fw.log:2', 'unrecognized firewall format', b'hello')]
    """
    events: dict[str, pl.DataFrame] = {}
    dead: list[pl.DataFrame] = []
    conflicts: list[pl.DataFrame] = []
    for family in records.get_column("family").unique(maintain_order=True).to_list():
        subset = records.filter(pl.col("family") == family)
        result = parse_family(family, subset.get_column("line"), year=year)
        if result is None:
            reason = pl.lit(f"no parser for log family {family!r}")
            dead.append(_dead(subset, reason))
            continue
        if result.dead.height:
            rows = result.dead.get_column("position").cast(pl.UInt32)
            dead.append(_dead(subset[rows], pl.lit(result.dead.get_column("reason"))))
        if result.events.height:
            positions = parsed_positions(
                subset.get_column("line"),
                result.events.get_column("event.original"),
                result.dead.get_column("position"),
            )
            events[family], conflicted = stamp_with_conflicts(
                result.events, subset[positions], forwarders=forwarders
            )
            conflicts.append(conflicted)
    merged = pl.concat(dead) if dead else empty_dead()
    counted = (
        pl.concat(conflicts)
        .group_by("organization.id", "claimed", "via", maintain_order=True)
        .agg(pl.col("events").sum())
        if conflicts
        else pl.DataFrame(schema=CONFLICT_SCHEMA)
    )
    return ParsedBatch(events, merged, counted)


def _dead(records: pl.DataFrame, reason: pl.Expr) -> pl.DataFrame:
    return records.select(
        "source",
        "origin",
        reason.cast(pl.String).alias("reason"),
        pl.col("line").cast(pl.Binary).alias("raw"),
    ).select(list(DEAD_RECORD_SCHEMA))
