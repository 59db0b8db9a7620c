"""Stamp parsed events with who they are: ``event.id`` and ``organization.id``.

``event.id`` is the 128-bit BLAKE2b digest, in hex, of what the event *is*: its
``organization.id``, ``event.dataset`` and ``event.original`` (the raw line), joined by NUL
bytes. It names no position, so the same line of the same ministry and family gets the same
id whether it was read from a Kafka topic partition or from a file, in any run: a replay of
logs that were also streamed gives the alerts the sinks already hold (alert ids are
rule id + event id), not a second copy.

Identical lines are one event. Two records with the same ministry, family and raw text,
timestamp included, get one id: this is what an at-least-once forwarder produces when it
resends, and fingerprinting is how they are recognised. No occurrence number tells them
apart, because none is stable across modes: a file's two copies are two lines of one input,
a resend lands on any partition, in any batch, of any process. Each delivered line is
still parsed and matched (correlations count every one, as they would in the replay of the
same files); the sinks keep one alert per id.

Why BLAKE2b from :mod:`hashlib` rather than ``polars.Expr.hash``: Polars documents that its
hash may change between versions, and an id that changes on upgrade would duplicate every
alert of a replay. The price is one C call per event (about 1.4 µs on our 2-core machine,
against 0.04 µs for the Polars hash), which we pay once per event, outside any per-rule work.

Ids wanted later: most events match no rule, and nothing reads their id unless the events
are archived or a rule reads ``event.id`` (or every text field). ``stamp_with_conflicts(...,
ids=False)`` leaves ``event.id`` null on every event that has an ``event.original`` (all
parsers set it), and :func:`fill_event_ids` computes it, from the event's own
``organization.id``, ``event.dataset`` and ``event.original``, for the rows that need it:
the same id the eager stamp gives (the hash is about 5 µs of a 2.9 KB Sysmon line).

``organization.id`` (the ministry) comes from the authenticated channel first. A topic
``logs.<family>.<ministry>`` is written only by that ministry's Kafka user (the broker's
ACLs allow each user its own topics, see ``docs/ministries.md``), so its suffix is the
ministry, whatever the record claims. A record header ``organization.id`` or a forwarder
map entry that names another ministry is not believed: the event keeps the topic's
ministry and the disagreement is returned by :func:`stamp_with_conflicts` to be counted
and reported.

Records without a ministry topic (the shared ``logs.<family>`` topics, files) take it, in
this order, from:

1. the record header ``organization.id`` (set by the ministry's forwarder);
2. the forwarder map: the event's ``observer.hostname``, else ``log.syslog.hostname``,
   else ``host.name``, looked up case-insensitively.

An event none of them names keeps a null ``organization.id``.

``neakta.partition`` (``Int32``) is the Kafka partition the record was read from, taken
from its ``topic/partition/offset`` origin; null for records read from files. Stateful
stages keep one state per partition number (see :mod:`detect.correlation`).
``neakta.input`` names the input the record was read from: ``topic/partition`` or the
file; event time is kept per input (see :mod:`detect.correlation.eventtime`).
"""

from __future__ import annotations

from collections.abc import Mapping
from hashlib import blake2b

import polars as pl

__all__ = [
    "CONFLICT_SCHEMA",
    "HOSTNAME_COLUMNS",
    "INPUT_COLUMN",
    "PARTITION_COLUMN",
    "event_ids",
    "fill_event_ids",
    "origin_partitions",
    "parsed_positions",
    "stamp_events",
    "stamp_with_conflicts",
]

HOSTNAME_COLUMNS = ("observer.hostname", "log.syslog.hostname", "host.name")
"""Columns looked up in the forwarder map, first non-null wins."""

PARTITION_COLUMN = "neakta.partition"
"""Column of the Kafka partition an event was read from (null from files)."""

INPUT_COLUMN = "neakta.input"
"""Column of the input an event was read from: ``topic/partition``, or the file."""

CONFLICT_SCHEMA: dict[str, pl.DataType] = {
    "organization.id": pl.String(),
    "claimed": pl.String(),
    "via": pl.String(),
    "events": pl.UInt32(),
}
"""Events whose header or forwarder entry named another ministry than their topic.

``organization.id`` is the topic's ministry (what the events were stamped with),
``claimed`` the other ministry, ``via`` ``header`` or ``forwarder``.
"""

_KAFKA_ORIGIN = r"./(\d+)/\d+$"
_POSITION = r"(?:/\d+|:\d+)$"


def origin_partitions(origins: pl.Series) -> pl.Series:
    """The partition of ``topic/partition/offset`` origins; null for any other origin.

    Examples
    --------
    >>> origin_partitions(pl.Series(["logs.web/3/17", "access.log:4", None])).to_list()
    [3, None, None]
    """
    partitions = origins.str.extract(_KAFKA_ORIGIN, 1).cast(pl.Int32, strict=False)
    return partitions.alias(PARTITION_COLUMN)


def event_ids(organizations: pl.Series, datasets: pl.Series, originals: pl.Series) -> pl.Series:
    """The content ``event.id`` of each event: BLAKE2b-128 of ministry, dataset, raw line.

    The three are joined by NUL bytes; a null counts as the empty string.

    Examples
    --------
    >>> ids = event_ids(pl.Series(["mef"]), pl.Series(["web.access"]), pl.Series(["GET /"]))
    >>> ids.to_list() == [blake2b(b"mef\\x00web.access\\x00GET /", digest_size=16).hexdigest()]
    True
    >>> ids.name, len(ids[0])
    ('event.id', 32)
    """
    prefixes = (
        organizations.cast(pl.String).fill_null("")
        + "\x00"
        + datasets.cast(pl.String).fill_null("")
        + "\x00"
    ).to_list()
    lines = originals.cast(pl.String).fill_null("").cast(pl.Binary).to_list()
    # Few distinct ministry and dataset prefixes: each is hashed once, and each line's
    # digest continues from a copy of its prefix's state (the digest of the joined bytes).
    states: dict[str, blake2b] = {}
    ids = []
    for prefix, line in zip(prefixes, lines, strict=True):
        state = states.get(prefix)
        if state is None:
            state = states[prefix] = blake2b(prefix.encode(), digest_size=16)
        digest = state.copy()
        digest.update(line)
        ids.append(digest.hexdigest())
    return pl.Series("event.id", ids, dtype=pl.String)


def fill_event_ids(events: pl.DataFrame, rows: pl.Series | None = None) -> pl.DataFrame:
    """``events`` with each null ``event.id`` of ``rows`` (default: every row) computed.

    The id is :func:`event_ids` of the row's ``organization.id``, ``event.dataset`` and
    ``event.original``, what :func:`stamp_with_conflicts` gives with ``ids=True``. A row
    without ``event.original`` keeps its id as stamped.

    Examples
    --------
    >>> events = pl.DataFrame({
    ...     "event.id": ["known", None, None], "organization.id": ["mef"] * 3,
    ...     "event.dataset": ["web.access"] * 3, "event.original": ["GET /", "GET /a", "GET /b"]})
    >>> filled = fill_event_ids(events, pl.Series([1], dtype=pl.UInt32))["event.id"]
    >>> eager = event_ids(pl.Series(["mef"]), pl.Series(["web.access"]), pl.Series(["GET /a"]))
    >>> filled[0], filled[1] == eager[0], filled[2]
    ('known', True, None)
    """
    if "event.id" not in events.columns or "event.original" not in events.columns:
        return events
    ids = events.get_column("event.id")
    wanted = ids.is_null() & events.get_column("event.original").is_not_null()
    if rows is not None:
        picked = pl.Series("picked", [False] * events.height, dtype=pl.Boolean).scatter(
            rows.cast(pl.UInt32), True
        )
        wanted = wanted & picked
    if not wanted.any():
        return events
    missing = events.filter(wanted)
    computed = event_ids(
        _column(missing, "organization.id"),
        _column(missing, "event.dataset"),
        missing.get_column("event.original").cast(pl.String),
    )
    positions = wanted.arg_true()
    return events.with_columns(ids.cast(pl.String).scatter(positions, computed).alias("event.id"))


def parsed_positions(lines: pl.Series, originals: pl.Series, dead: pl.Series) -> pl.Series:
    """Which input line each parsed event came from.

    Parsers return events in input order without their positions; dead letters carry
    theirs. Usually every line is an event or a dead letter, and the events are the lines
    that are not dead. A web batch's ``#`` directive lines are neither; then events are
    matched to the remaining lines in order by their ``event.original``.

    Parameters
    ----------
    lines
        The parser's input.
    originals
        The events' ``event.original``, in output order.
    dead
        The dead letters' positions.

    Returns
    -------
    polars.Series
        One ``UInt32`` position per event.

    Examples
    --------
    >>> lines = pl.Series(["#Fields: x", "a", "bad", "b"])
    >>> parsed_positions(lines, pl.Series(["a", "b"]), pl.Series([2], dtype=pl.UInt64)).to_list()
    [1, 3]
    """
    index = pl.Series("position", range(len(lines)), dtype=pl.UInt32)
    alive = index.filter(~index.is_in(dead.cast(pl.UInt32).implode()))
    if len(alive) == len(originals):
        return alive
    remaining = lines.gather(alive).to_list()
    positions: list[int] = []
    cursor = 0
    for original in originals.to_list():
        while cursor < len(remaining) and remaining[cursor] != original:
            cursor += 1
        if cursor == len(remaining):
            break
        positions.append(alive[cursor])
        cursor += 1
    if len(positions) != len(originals):
        # A parser rewrote event.original: fall back to the order of the surviving lines.
        return alive.head(len(originals))
    return pl.Series("position", positions, dtype=pl.UInt32)


def stamp_events(
    events: pl.DataFrame,
    records: pl.DataFrame,
    *,
    forwarders: Mapping[str, str] | None = None,
) -> pl.DataFrame:
    """Add ``event.id``, ``organization.id`` and ``neakta.partition`` to parsed events.

    The events of :func:`stamp_with_conflicts`, without the conflicts.

    Examples
    --------
    >>> events = pl.DataFrame({"observer.hostname": ["FG-MEF-01", "fw9"]})
    >>> records = pl.DataFrame({
    ...     "origin": ["logs.firewall/0/1", "logs.firewall.moh/0/1"], "line": ["x", "y"],
    ...     "header_organization": [None, None], "source_organization": [None, "moh"]},
    ...     schema_overrides={"header_organization": pl.String})
    >>> stamp_events(events, records, forwarders={"fg-mef-01": "mef"})["organization.id"].to_list()
    ['mef', 'moh']
    """
    return stamp_with_conflicts(events, records, forwarders=forwarders)[0]


def stamp_with_conflicts(
    events: pl.DataFrame,
    records: pl.DataFrame,
    *,
    forwarders: Mapping[str, str] | None = None,
    ids: bool = True,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Stamp parsed events, and count those that claimed another ministry than their topic.

    Parameters
    ----------
    events
        Parsed events.
    records
        The record each event came from, row for row: ``origin``, ``line``,
        ``header_organization`` and ``source_organization`` (see
        :data:`ingest.sources.RECORD_SCHEMA`).
    forwarders
        Forwarder or host name -> ministry id (case-insensitive names).
    ids
        False: ``event.id`` is computed only for events without an ``event.original``
        (from their record's line), and left null for the others until
        :func:`fill_event_ids`.

    Returns
    -------
    tuple[polars.DataFrame, polars.DataFrame]
        ``events`` with ``event.id``, ``organization.id``, ``neakta.partition`` and
        ``neakta.input`` (replaced if present), and the :data:`CONFLICT_SCHEMA` counts.

    Examples
    --------
    >>> events = pl.DataFrame({"observer.hostname": ["FG-MOH-01", "FG-MOH-01"]})
    >>> records = pl.DataFrame({
    ...     "origin": ["logs.firewall.mef/0/1", "logs.firewall/0/1"], "line": ["x", "y"],
    ...     "header_organization": ["moh", None], "source_organization": ["mef", None]})
    >>> stamped, conflicts = stamp_with_conflicts(
    ...     events, records, forwarders={"fg-moh-01": "moh"})
    >>> stamped["organization.id"].to_list()
    ['mef', 'moh']
    >>> conflicts.rows()
    [('mef', 'moh', 'header', 1)]
    """
    header = records.get_column("header_organization").alias("header")
    topic = records.get_column("source_organization").alias("topic")
    forwarded = pl.Series("forwarder", [None] * events.height, dtype=pl.String)
    names = [pl.col(c) for c in HOSTNAME_COLUMNS if c in events.columns]
    if forwarders and names:
        lowered = {name.lower(): ministry for name, ministry in forwarders.items()}
        forwarded = events.select(
            pl.coalesce(names)
            .str.to_lowercase()
            .replace_strict(lowered, default=None, return_dtype=pl.String)
            .alias("forwarder")
        ).to_series()
    claims = pl.DataFrame([header, forwarded, topic])
    organization = claims.select(
        pl.coalesce("topic", "header", "forwarder").alias("organization.id")
    ).to_series()
    datasets = _column(events, "event.dataset")
    if ids:
        stamped_ids = event_ids(organization, datasets, _originals(events, records))
    else:
        stamped_ids = _ids_without_original(events, records, organization, datasets)
    origins = records.get_column("origin")
    partitions = origin_partitions(origins)
    inputs = origins.str.replace(_POSITION, "").alias(INPUT_COLUMN)
    stamped = events.with_columns(stamped_ids, organization, partitions, inputs)
    return stamped, _conflicts(claims)


def _column(events: pl.DataFrame, name: str) -> pl.Series:
    """A column of ``events``, or nulls where the parser set none."""
    if name in events.columns:
        return events.get_column(name).cast(pl.String)
    return pl.Series(name, [None] * events.height, dtype=pl.String)


def _ids_without_original(
    events: pl.DataFrame, records: pl.DataFrame, organization: pl.Series, datasets: pl.Series
) -> pl.Series:
    """The ids of the events without an ``event.original``; null for the others."""
    lacking = _column(events, "event.original").is_null()
    if not lacking.any():
        return pl.Series("event.id", [None] * events.height, dtype=pl.String)
    computed = event_ids(
        organization.filter(lacking),
        datasets.filter(lacking),
        records.get_column("line").cast(pl.String).filter(lacking),
    )
    empty = pl.Series("event.id", [None] * events.height, dtype=pl.String)
    return empty.scatter(lacking.arg_true(), computed)


def _originals(events: pl.DataFrame, records: pl.DataFrame) -> pl.Series:
    """Each event's ``event.original``, else the text of the record it was parsed from."""
    lines = records.get_column("line").cast(pl.String).alias("line")
    return (
        pl.DataFrame([_column(events, "event.original"), lines])
        .select(pl.coalesce("event.original", "line"))
        .to_series()
    )


def _conflicts(claims: pl.DataFrame) -> pl.DataFrame:
    """Count rows whose header, else forwarder entry, names another ministry than the topic."""
    header_differs = pl.col("header").is_not_null() & (pl.col("header") != pl.col("topic"))
    forwarder_differs = pl.col("forwarder").is_not_null() & (pl.col("forwarder") != pl.col("topic"))
    disagreeing = claims.filter(pl.col("topic").is_not_null()).select(
        pl.col("topic").alias("organization.id"),
        pl.when(header_differs)
        .then(pl.col("header"))
        .when(forwarder_differs)
        .then(pl.col("forwarder"))
        .alias("claimed"),
        pl.when(header_differs)
        .then(pl.lit("header"))
        .when(forwarder_differs)
        .then(pl.lit("forwarder"))
        .alias("via"),
    )
    counted = (
        disagreeing.filter(pl.col("claimed").is_not_null())
        .group_by("organization.id", "claimed", "via", maintain_order=True)
        .agg(pl.len().cast(pl.UInt32).alias("events"))
    )
    return counted.cast(CONFLICT_SCHEMA)  # type: ignore[arg-type]
