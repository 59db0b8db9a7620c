"""Log sources that stop sending: a "log source silent" alert, and "resumed" when they return.

A *source* is a ministry's log family (``organization.id`` x ``family``) or one of its
forwarding hosts (``organization.id`` x the first of ``observer.hostname``,
``log.syslog.hostname``, ``host.name``). Time is event time: the clock is the latest
``@timestamp`` seen from any source (the watermark), so a replay of last month's logs
raises the same alerts as the live run did, and a pipeline that was stopped for an hour does
not call every source silent when it starts again.

Per batch, :func:`source_activity` reduces the events to one row per source (first and last
event time, count), and :func:`watch_sources` moves the :class:`SourceClock` on:

* a known source whose last event is more than ``gap_s`` behind the watermark becomes
  *silent*: one transition, timed at its last event + ``gap_s``;
* a silent source that sends again *resumes*: one transition, timed at its first new
  event, with how long it was silent;
* a source seen for the first time is only remembered (it never "used to send").

:func:`silence_alerts` turns transitions into ECS alerts with deterministic ids, ready for
the incident tracker and the sinks. The granularity is the batch: a source that stops and
restarts between two events of one batch is not reported. One source whose clock runs ahead
moves the watermark for all; sources are compared against the latest event time, so keep
forwarders' clocks synchronised (NTP).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import polars as pl

from ingest.identity import HOSTNAME_COLUMNS, PARTITION_COLUMN
from ingest.schema import TIMESTAMP

__all__ = [
    "ACTIVITY_SCHEMA",
    "RESUMED_RULE_ID",
    "SILENT_RULE_ID",
    "TRANSITION_SCHEMA",
    "SourceClock",
    "SourceState",
    "silence_alerts",
    "source_activity",
    "watch_sources",
]

SILENT_RULE_ID: Final = "8c1f3a52-5d0e-4b7a-9f61-2e4d7c9b0a13"
"""``rule.id`` of "log source silent" alerts."""

RESUMED_RULE_ID: Final = "3e9b7d20-6a4c-4f18-8b52-7d1e0c6f9a24"
"""``rule.id`` of "log source resumed" alerts."""

ACTIVITY_SCHEMA: Final[dict[str, pl.DataType]] = {
    "organization.id": pl.String(),
    "kind": pl.String(),
    "name": pl.String(),
    "first": TIMESTAMP,
    "last": TIMESTAMP,
    "events": pl.UInt32(),
}
"""One batch's events per source: ``kind`` is ``family`` or ``host``."""

TRANSITION_SCHEMA: Final[dict[str, pl.DataType]] = {
    "organization.id": pl.String(),
    "kind": pl.String(),
    "name": pl.String(),
    "status": pl.String(),
    "@timestamp": TIMESTAMP,
    "last_seen": TIMESTAMP,
    "silent_s": pl.Float64(),
}
"""A source going ``silent`` or ``resumed``; ``silent_s`` is how long it had been quiet."""

Key = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class SourceState:
    """What is known about one source: its latest event time and whether it is silent."""

    last_seen: datetime
    silent: bool = False


@dataclass(frozen=True, slots=True)
class SourceClock:
    """Every source's state and the watermark (latest event time seen), checkpointable.

    ``slots``: per source, the Kafka partitions (numbers) its events were read from, where
    they name one (``neakta.partition``); see :meth:`forget_slots`.
    """

    sources: Mapping[Key, SourceState] = field(default_factory=dict)
    watermark: datetime | None = None
    slots: Mapping[Key, frozenset[int]] = field(default_factory=dict)

    def seen_in(self, activity: pl.DataFrame) -> SourceClock:
        """The clock with the partitions of :func:`source_activity` rows (``slots``) noted."""
        if "slots" not in activity.columns:
            return self
        slots = dict(self.slots)
        for org, kind, name, read in activity.select(
            "organization.id", "kind", "name", "slots"
        ).iter_rows():
            if read:
                key = (org, kind, name)
                slots[key] = slots.get(key, frozenset()) | frozenset(read)
        return replace(self, slots=slots)

    def forget_slots(self, gone: Iterable[int]) -> SourceClock:
        """Forget the sources read only from partitions this process no longer reads.

        Their events now go to another process, which watches them from there: this one
        would find them silent after the gap although they are not. A source read from
        a partition it keeps stays, and so does one read from none (files).

        >>> t = datetime(2026, 11, 20, 8, tzinfo=UTC)
        >>> a, b = ("mef", "family", "web"), ("moh", "family", "web")
        >>> clock = SourceClock({a: SourceState(t), b: SourceState(t)}, t,
        ...                     {a: frozenset({0}), b: frozenset({0, 1})})
        >>> later = clock.forget_slots([0])
        >>> sorted(later.sources), later.slots[b]
        ([('moh', 'family', 'web')], frozenset({1}))
        """
        lost = frozenset(gone)
        slots = {key: held - lost for key, held in self.slots.items()}
        dropped = {key for key, held in slots.items() if not held}
        return SourceClock(
            {key: state for key, state in self.sources.items() if key not in dropped},
            self.watermark,
            {key: held for key, held in slots.items() if held},
        )

    def to_checkpoint(self) -> dict[str, Any]:
        """A JSON-ready dict for :meth:`from_checkpoint`.

        Examples
        --------
        >>> t = datetime(2026, 11, 20, 8, tzinfo=UTC)
        >>> clock = SourceClock({("mef", "family", "web"): SourceState(t, True)}, t)
        >>> SourceClock.from_checkpoint(clock.to_checkpoint()) == clock
        True
        """
        return {
            "watermark": None if self.watermark is None else self.watermark.isoformat(),
            "sources": [
                [*key, state.last_seen.isoformat(), state.silent, sorted(self.slots.get(key, ()))]
                for key, state in sorted(self.sources.items())
            ],
        }

    @classmethod
    def from_checkpoint(cls, data: Mapping[str, Any]) -> SourceClock:
        """The clock a :meth:`to_checkpoint` dict describes (also one saved without slots)."""
        watermark = data.get("watermark")
        sources: dict[Key, SourceState] = {}
        slots: dict[Key, frozenset[int]] = {}
        for org, kind, name, last, silent, *read in data.get("sources", []):
            sources[(org, kind, name)] = SourceState(datetime.fromisoformat(last), bool(silent))
            if read and read[0]:
                slots[(org, kind, name)] = frozenset(int(slot) for slot in read[0])
        return cls(sources, None if watermark is None else datetime.fromisoformat(watermark), slots)


def source_activity(events: pl.DataFrame, family: str) -> pl.DataFrame:
    """One family batch's events per source: the ministry's family and each forwarding host.

    Events without ``organization.id`` or ``@timestamp`` are left out: a source is a
    ministry's, and silence is measured in event time. Where the events name the Kafka
    partition they were read from (``neakta.partition``), a ``slots`` column lists each
    source's partitions.

    Examples
    --------
    >>> t = datetime(2026, 11, 20, 8, tzinfo=UTC)
    >>> events = pl.DataFrame({"organization.id": ["mef", "mef", None],
    ...     "@timestamp": [t, t + timedelta(seconds=5), t],
    ...     "observer.hostname": ["FG-1", "FG-1", "FG-2"]})
    >>> source_activity(events, "firewall").select("kind", "name", "events").rows()
    [('family', 'firewall', 2), ('host', 'fg-1', 2)]
    """
    if "organization.id" not in events.columns or "@timestamp" not in events.columns:
        return pl.DataFrame(schema=ACTIVITY_SCHEMA)
    known = events.filter(
        pl.col("organization.id").is_not_null() & pl.col("@timestamp").is_not_null()
    )
    hosts = [pl.col(c).cast(pl.String) for c in HOSTNAME_COLUMNS if c in known.columns]
    # The partition each event was read from, where it names one (see SourceClock.slots).
    partitioned = PARTITION_COLUMN in known.columns
    read = [pl.col(PARTITION_COLUMN).cast(pl.Int64)] if partitioned else []
    slots = [pl.col(PARTITION_COLUMN).drop_nulls().unique().sort().alias("slots")]
    if not partitioned:
        slots = []
    frames = [
        known.select(
            "organization.id",
            "@timestamp",
            pl.lit(family).alias("name"),
            pl.lit("family").alias("kind"),
            *read,
        )
    ]
    if hosts:
        frames.append(
            known.select(
                "organization.id",
                "@timestamp",
                pl.coalesce(hosts).str.to_lowercase().alias("name"),
                pl.lit("host").alias("kind"),
                *read,
            ).filter(pl.col("name").is_not_null())
        )
    stacked = pl.concat(frames)
    grouped = stacked.group_by("organization.id", "kind", "name", maintain_order=True).agg(
        pl.col("@timestamp").min().alias("first"),
        pl.col("@timestamp").max().alias("last"),
        pl.len().alias("events"),
        *slots,
    )
    schema = {**ACTIVITY_SCHEMA, **({"slots": pl.List(pl.Int64())} if partitioned else {})}
    return grouped.cast(schema).sort("organization.id", "kind", "name")  # type: ignore[arg-type]


def watch_sources(
    clock: SourceClock, activity: pl.DataFrame, *, gap_s: float
) -> tuple[SourceClock, pl.DataFrame]:
    """Move the clock on by one batch's activity; the sources that went silent or resumed.

    Parameters
    ----------
    clock
        The state before this batch.
    activity
        :func:`source_activity` rows (any number of families, concatenated).
    gap_s
        Event-time seconds without an event after which a source is silent.

    Returns
    -------
    tuple[SourceClock, polars.DataFrame]
        The new state and the :data:`TRANSITION_SCHEMA` rows, resumed ones first.

    Examples
    --------
    >>> t = datetime(2026, 11, 20, 8, tzinfo=UTC)
    >>> def batch(org, name, at):
    ...     return pl.DataFrame({"organization.id": [org], "kind": ["family"], "name": [name],
    ...         "first": [at], "last": [at], "events": [1]}, schema=ACTIVITY_SCHEMA)
    >>> clock, _ = watch_sources(SourceClock(), batch("mef", "web", t), gap_s=600)
    >>> later = t + timedelta(minutes=11)
    >>> clock, changes = watch_sources(clock, batch("moh", "web", later), gap_s=600)
    >>> changes.select("organization.id", "status", "silent_s").rows()
    [('mef', 'silent', 600.0)]
    >>> clock, changes = watch_sources(clock, batch("mef", "web", later), gap_s=600)
    >>> changes.select("organization.id", "status", "silent_s").rows()
    [('mef', 'resumed', 660.0)]
    """
    sources = dict(clock.sources)
    watermark = clock.watermark
    rows: list[dict[str, Any]] = []
    for org, kind, name, first, last, _count in activity.select(list(ACTIVITY_SCHEMA)).iter_rows():
        key = (org, kind, name)
        known = sources.get(key)
        if known is not None and known.silent:
            quiet = max((first - known.last_seen).total_seconds(), 0.0)
            rows.append(_row(key, "resumed", first, known.last_seen, quiet))
        previous = known.last_seen if known is not None else last
        sources[key] = SourceState(max(previous, last), silent=False)
        watermark = last if watermark is None else max(watermark, last)
    gap = timedelta(seconds=gap_s)
    if watermark is not None:
        for key, state in sorted(sources.items()):
            if not state.silent and watermark - state.last_seen > gap:
                rows.append(_row(key, "silent", state.last_seen + gap, state.last_seen, gap_s))
                sources[key] = replace(state, silent=True)
    transitions = pl.DataFrame(rows, schema=TRANSITION_SCHEMA, orient="row")
    return SourceClock(sources, watermark, clock.slots).seen_in(activity), transitions


def _row(key: Key, status: str, at: datetime, last_seen: datetime, quiet: float) -> dict[str, Any]:
    org, kind, name = key
    return {
        "organization.id": org,
        "kind": kind,
        "name": name,
        "status": status,
        "@timestamp": at,
        "last_seen": last_seen,
        "silent_s": quiet,
    }


def silence_alerts(transitions: pl.DataFrame, *, ingested: datetime) -> pl.DataFrame:
    """ECS alerts for :func:`watch_sources` transitions, with deterministic ``_id``.

    A host source puts its name in ``host.name`` (so the incident is the host's); a family
    source leaves it null (one incident per ministry and rule).

    Examples
    --------
    >>> t = datetime(2026, 11, 20, 8, tzinfo=UTC)
    >>> changes = pl.DataFrame([{"organization.id": "mef", "kind": "family", "name": "web",
    ...     "status": "silent", "@timestamp": t, "last_seen": t - timedelta(minutes=10),
    ...     "silent_s": 600.0}], schema=TRANSITION_SCHEMA)
    >>> silence_alerts(changes, ingested=t).select("rule.name", "event.severity", "message").row(0)
    ('Log source silent', 47, 'mef web logs: no events for 10 min since 2026-11-20T07:50:00Z')
    """
    if transitions.height == 0:
        return pl.DataFrame()
    rows = [_alert(row, ingested) for row in transitions.iter_rows(named=True)]
    return pl.DataFrame(rows).with_columns(
        pl.col("@timestamp", "neakta.silence.last_seen", "event.ingested").cast(TIMESTAMP)
    )


def _alert(row: Mapping[str, Any], ingested: datetime) -> dict[str, Any]:
    silent = row["status"] == "silent"
    org, kind, name = row["organization.id"], row["kind"], row["name"]
    what = f"{name} logs" if kind == "family" else f"host {name}"
    since = row["last_seen"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    minutes = f"{row['silent_s'] / 60:,.0f} min"
    if silent:
        message = f"{org} {what}: no events for {minutes} since {since}"
    else:
        message = f"{org} {what}: events again after {minutes} of silence (last {since})"
    rule_id = SILENT_RULE_ID if silent else RESUMED_RULE_ID
    at: datetime = row["@timestamp"]
    key = f"{rule_id}\x00{org}\x00{kind}\x00{name}\x00{at.isoformat()}"
    return {
        "_id": hashlib.blake2b(key.encode(), digest_size=16).hexdigest(),
        "@timestamp": at,
        "event.kind": "alert",
        "event.category": "host" if kind == "host" else "configuration",
        "event.ingested": ingested,
        "event.severity": 47 if silent else 21,
        "rule.id": rule_id,
        "rule.name": "Log source silent" if silent else "Log source resumed",
        "rule.description": "A ministry's log source that used to send stopped sending"
        if silent
        else "A log source that had gone silent sends events again",
        "message": message,
        "organization.id": org,
        "host.name": name if kind == "host" else None,
        "neakta.silence.kind": kind,
        "neakta.silence.source": name,
        "neakta.silence.status": row["status"],
        "neakta.silence.last_seen": row["last_seen"],
        "neakta.silence.silent_s": row["silent_s"],
    }
