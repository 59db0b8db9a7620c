"""Parse a source batch: each family's records through its parser, then stamp them.

One call per batch, one parser call per family present in it; no per-record Python work
on the way except what the parsers themselves do. Lines a parser rejects become dead
letters with their original position (``origin``) and the parser's reason.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import polars as pl

from ingest.deadletter import DEAD_RECORD_SCHEMA
from ingest.errors import IngestError
from ingest.identity import CONFLICT_SCHEMA, parsed_positions, stamp_with_conflicts
from ingest.parsers import ParseResult, parse_endpoint, parse_firewall, parse_web
from ingest.sources.records import empty_dead, input_of

__all__ = ["ParsedBatch", "ParserState", "parse_family", "parse_records"]


@dataclass(slots=True)
class ParserState:
    """What header-driven formats carry from one batch to the next, per input.

    An input is a topic partition or a file (:func:`ingest.sources.records.input_of`).
    ``iis_fields`` holds the IIS ``#Fields:`` layout in force at the end of each input's
    last batch. It is saved with the checkpoint, so a restart resumes it.

    Examples
    --------
    >>> state = ParserState({"logs.web/0": "date time c-ip"})
    >>> ParserState.from_bytes(state.to_bytes()) == state
    True
    """

    iis_fields: dict[str, str] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        """The state as JSON."""
        return json.dumps({"iis_fields": self.iis_fields}, sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, blob: bytes) -> ParserState:
        """Read what :meth:`to_bytes` wrote."""
        try:
            data = json.loads(blob)
            fields = {str(k): str(v) for k, v in data["iis_fields"].items()}
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise IngestError(f"unreadable parser state: {error}") from error
        return cls(fields)

    def keep(self, inputs: set[str]) -> ParserState:
        """The state of ``inputs`` only (the inputs one checkpoint slot covers)."""
        return ParserState({k: v for k, v in self.iis_fields.items() if k in inputs})


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


def parse_family(
    family: str,
    lines: pl.Series,
    *,
    year: int,
    inputs: pl.Series | None = None,
    state: ParserState | None = None,
) -> ParseResult | None:
    """Run the parser of ``family`` (``None`` for a family without one).

    With ``inputs`` and ``state``, header-driven formats read and update ``state``.
    """
    if family == "firewall":
        return parse_firewall(lines, year=year)
    if family == "endpoint":
        return parse_endpoint(lines)
    if family == "web":
        if inputs is None or state is None:
            return parse_web(lines, year=year)
        result = parse_web(lines, year=year, iis_fields=state.iis_fields, inputs=inputs)
        state.iis_fields.update(result.layouts)
        return result
    return None


def parse_records(
    records: pl.DataFrame,
    *,
    year: int,
    forwarders: Mapping[str, str] | None = None,
    state: ParserState | None = None,
    ids: bool = True,
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
    state
        Per-input parser state carried across batches (IIS ``#Fields:``); updated.
    ids
        False: ``event.id`` left null where :func:`ingest.identity.fill_event_ids`
        can compute it later, for the events that need one.

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
        inputs = (
            subset.select(input_of(pl.col("origin"))).to_series() if state is not None else None
        )
        result = parse_family(
            family, subset.get_column("line"), year=year, inputs=inputs, state=state
        )
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
            # Usually every line became an event, in order: no gather (it would copy every
            # line's text, 130 MB for 46,000 Sysmon lines).
            parsed = subset if positions.len() == subset.height else subset[positions]
            events[family], conflicted = stamp_with_conflicts(
                result.events, parsed, forwarders=forwarders, ids=ids
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
