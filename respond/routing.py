"""Alerts routed to the owner of their incident key, with the event time that orders them.

A Kafka run raises alerts per partition slot, but one incident's alerts (an entity's, for
one rule or tactic) may come from several partitions: a firewall's alerts are read where
each client's lines are keyed. Grouping them where they are raised would give one incident
per partition. So each alert's *fact* (what grouping needs, :func:`respond.incident.alert_facts`)
is sent to the partition of its incident key in the group's incident topic, and the
incidents are grouped there, by whoever owns that partition.

To group in event-time order, the owner must know when no earlier alert can still come.
Each source slot (the partition number the alert was raised in) therefore sends, after
each batch it committed, a *mark* to every partition of the incident topic: the event time
before which its correlation windows are final (every alert it raises later is at or
after it, but late ones), the latest event time it accepted, and whether all its inputs
are idle. A partition's facts are released in ``(@timestamp, alert id)`` order behind the
minimum mark over the source slots that are not idle; so the incidents, and their ids,
are those a replay of the same logs gives, whatever partitions the alerts came from.

A fact stamped beyond every event time its slot accepted (a clock that ran ahead: it
moved no watermark, so no mark would pass it) says so (``ahead``) and is grouped at once.

Records of the incident topic (JSON): ``{"facts": [...], "source": S}``, the facts of one
batch's alerts from slot ``S`` that go to that partition, packed into as few records of at
most :data:`MAX_RECORD_BYTES` as hold them (one record per alert cost the sender and the
broker as much as the rest of incident routing); and ``{"mark": ..., "latest": ...,
"idle": ..., "source": S, "sources": N}``, where ``N`` is how many source slots there are
(all of them must report before anything is released). A record of one fact, ``{"fact":
..., "source": S}``, as earlier versions wrote, is still read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import orjson

from respond.incident import fact_from_state, fact_state
from respond.json_bytes import kept_dumps

__all__ = [
    "MAX_RECORD_BYTES",
    "MarkBook",
    "SourceMark",
    "event_time",
    "fact_records",
    "incident_partition",
    "incident_topic",
    "mark_record",
    "read_record",
]

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
MAX_RECORD_BYTES: Final = 256 << 10
"""Most bytes of a record of packed facts (brokers refuse records over 1 MiB by default)."""


def incident_topic(group_id: str) -> str:
    """The incident topic of a consumer group.

    >>> incident_topic("neakta")
    'neakta.neakta.incidents'
    """
    return f"neakta.{group_id}.incidents"


def incident_partition(key: tuple[str, str, str], partitions: int) -> int:
    """The partition of the incident topic that groups ``key``'s alerts (stable hash).

    >>> incident_partition(("mef", "r1", "pc1"), 4) == incident_partition(("mef", "r1", "pc1"), 4)
    True
    """
    digest = hashlib.blake2b("\x00".join(key).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % partitions


def event_time(microseconds: int | None) -> datetime | None:
    """An event time in µs since the epoch (as watermarks keep it) as a UTC datetime.

    >>> event_time(86_400_000_000)
    datetime.datetime(1970, 1, 2, 0, 0, tzinfo=datetime.timezone.utc)
    """
    return None if microseconds is None else _EPOCH + timedelta(microseconds=microseconds)


@dataclass(frozen=True, slots=True)
class SourceMark:
    """What a source slot reports after a committed batch (times in µs since the epoch).

    Attributes
    ----------
    source
        The slot (partition number) reporting.
    sources
        How many source slots there are.
    mark
        Event time before which the slot raises no more alerts but late ones; None: not
        known yet.
    latest
        The latest event time the slot's inputs accepted.
    idle
        Every input of the slot is idle: it holds nothing back.
    """

    source: int
    sources: int
    mark: int | None
    latest: int | None
    idle: bool

    def state(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "source": self.source,
            "sources": self.sources,
            "mark": self.mark,
            "latest": self.latest,
            "idle": self.idle,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> SourceMark:
        """The inverse of :meth:`state`."""
        mark, latest = state["mark"], state["latest"]
        return cls(
            source=int(state["source"]),
            sources=int(state["sources"]),
            mark=None if mark is None else int(mark),
            latest=None if latest is None else int(latest),
            idle=bool(state["idle"]),
        )


def fact_records(
    facts: Iterable[Mapping[str, Any]], source: int, limit: int = MAX_RECORD_BYTES
) -> list[bytes]:
    """Facts of alerts raised in slot ``source`` as records of the incident topic, in order.

    As few records as hold them, each of at most ``limit`` bytes (a fact larger than that
    alone in its record).

    >>> fact = {"id": "a1", "time": datetime(2026, 1, 1, tzinfo=UTC), "key": ("", "r", "h")}
    >>> [len(orjson.loads(r)["facts"]) for r in fact_records([fact] * 5, 3)]
    [5]
    >>> [len(orjson.loads(r)["facts"]) for r in fact_records([fact] * 5, 3, limit=200)]
    [2, 2, 1]
    """
    tail = b'],"source":' + str(int(source)).encode() + b"}"
    room = limit - len(_FACTS_HEAD) - len(tail)
    records: list[bytes] = []
    chunk: list[bytes] = []
    size = 0
    for fact in facts:
        state = fact_state(fact)
        state.pop("slot", None)
        encoded = kept_dumps(state)
        if chunk and size + len(encoded) > room:
            records.append(_FACTS_HEAD + b",".join(chunk) + tail)
            chunk, size = [], 0
        chunk.append(encoded)
        size += len(encoded) + 1  # and its comma
    if chunk:
        records.append(_FACTS_HEAD + b",".join(chunk) + tail)
    return records


_FACTS_HEAD: Final = b'{"facts":['


def mark_record(mark: SourceMark) -> bytes:
    """A source slot's mark as a record of the incident topic."""
    return orjson.dumps(mark.state())


def read_record(value: bytes | None) -> list[dict[str, Any]] | SourceMark:
    """A record of the incident topic: its facts (each with its ``source``) or a mark.

    Raises ``ValueError`` for anything else.

    Examples
    --------
    >>> fact = {"id": "a1", "time": datetime(2026, 1, 1, tzinfo=UTC), "key": ("", "r", "h"),
    ...         "slot": 3}
    >>> [(f["id"], f["source"]) for f in read_record(fact_records([fact], 3)[0])]
    [('a1', 3)]
    >>> read_record(mark_record(SourceMark(3, 4, 10, 12, False))).mark
    10
    """
    try:
        record = orjson.loads(value or b"")
        if not isinstance(record, dict):
            raise TypeError("not an object")
        if "facts" in record or "fact" in record:
            states = record["facts"] if "facts" in record else [record["fact"]]
            if not isinstance(states, list):
                raise TypeError("facts are not a list")
            source = int(record["source"])
            return [{**fact_from_state(state), "source": source} for state in states]
        return SourceMark.from_state(record)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise ValueError(f"not a record of the incident topic: {error}") from error


@dataclass
class MarkBook:
    """The marks of every source slot, as one partition of the incident topic got them.

    Examples
    --------
    >>> book = MarkBook()
    >>> book.note(SourceMark(0, 2, 100, 150, False))
    >>> book.release_mark() is None   # slot 1 has not reported
    True
    >>> book.note(SourceMark(1, 2, 80, 90, False))
    >>> book.release_mark() == event_time(80)
    True
    >>> book.note(SourceMark(1, 2, 91, 90, True))   # slot 1 idle: it holds nothing back
    >>> book.release_mark() == event_time(100)
    True
    """

    reports: dict[int, SourceMark] = field(default_factory=dict)

    def note(self, mark: SourceMark) -> None:
        """A slot's newest report replaces its previous one."""
        self.reports[mark.source] = mark

    def release_mark(self) -> datetime | None:
        """Event time before which no alert is still to come (but late ones); None: unknown.

        Every source slot must have reported. The minimum mark over the slots that are not
        idle; when all are idle, past the latest event time any of them accepted.
        """
        if not self.reports:
            return None
        sources = max(mark.sources for mark in self.reports.values())
        reports = [self.reports.get(source) for source in range(sources)]
        if any(report is None for report in reports):
            return None
        active = [r for r in reports if r is not None and not r.idle]
        if not active:
            latest = [r.latest for r in reports if r is not None and r.latest is not None]
            return event_time(max(latest) + 1) if latest else None
        marks = [r.mark for r in active]
        if any(mark is None for mark in marks):
            return None
        return event_time(min(m for m in marks if m is not None))

    def state(self) -> list[dict[str, Any]]:
        """JSON-ready (:meth:`from_state`)."""
        return [self.reports[source].state() for source in sorted(self.reports)]

    @classmethod
    def from_state(cls, state: list[Mapping[str, Any]]) -> MarkBook:
        """The inverse of :meth:`state`."""
        book = cls()
        for report in state:
            book.note(SourceMark.from_state(report))
        return book
