"""Consume log topics from Kafka in bounded batches, committing only what was processed.

The consumer never auto-commits. Each ``getmany(timeout_ms, max_records)`` becomes one
:class:`ingest.sources.SourceBatch`; its values are turned into one ``Binary`` column and
decoded in one cast. The pipeline calls :meth:`KafkaSource.commit` once the batch's alerts
and dead letters are written, which commits ``last offset + 1`` per partition.

Throughput: aiokafka's fetcher holds one fetch response per partition and asks for the next
one only once ``getmany`` has drained it. So the source lets the event loop turn a few times
right after ``getmany`` (:data:`FETCHER_STEPS`): the next fetch request is on the wire while
this batch is decoded, parsed and evaluated, instead of after its commit. A partition's fetch
is capped at ``max_partition_fetch_bytes`` (aiokafka's default, 1 MiB, is about 1,400
endpoint events), which would cap every batch far below ``max_records``; the source asks for
:data:`PARTITION_FETCH_BYTES` unless told otherwise. Columns are built per partition from
plain lists in one ``pl.Series`` call each, without queries (those would wait for Polars'
thread pool, busy with the batch in hand); headers are only looked at when a record has
any.

Rebalances: a batch is *in flight* from the moment ``getmany`` returned it until it is
committed, and a lock is held while any batch is in flight (never around the ``getmany``
that starts a span). The pipeline may ask for the next batch before it commits the one in
hand (it parses one batch ahead); both are then in flight, and commits come in order. The
rebalance listener's ``on_partitions_revoked`` waits for that lock, so a partition is only
handed to another consumer after every batch in flight is finished and committed; a batch
fetched while a rebalance waits is only handed out after it. The listener is not called by
``stop()``; batches the pipeline did not commit before it closes the source are simply
read again by whoever reads the partition next.

State kept outside Kafka (correlation windows) hooks in with two callbacks: ``on_assigned``
gets the assigned partitions with the group's committed offsets (None where there is none)
and returns the offsets to seek them to (state saved with older offsets is replayed from
there); ``on_revoked`` gets the revoked partitions once their in-flight batch is committed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import replace
from operator import attrgetter
from pathlib import Path
from typing import Any, Final

import polars as pl
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, IllegalStateError
from aiokafka.helpers import create_ssl_context

from ingest.errors import IngestError
from ingest.sources.families import family_of_topic
from ingest.sources.records import SourceBatch, decode_records

__all__ = [
    "ASSIGN_TIMEOUT_S",
    "BUSY_POLL_MS",
    "FETCHER_STEPS",
    "LINGER_MS",
    "ORGANIZATION_HEADER",
    "PARTITION_FETCH_BYTES",
    "AssignmentTimeoutError",
    "KafkaSource",
    "OnAssigned",
    "OnRevoked",
    "bounded_assignment",
    "records_frame",
    "security_options",
]

ORGANIZATION_HEADER = "organization.id"
"""Record header a forwarder sets to name the ministry."""

PARTITION_FETCH_BYTES: Final = 16 << 20
"""Default ``max_partition_fetch_bytes``: room for a full ``max_records`` batch per partition.

The whole fetch stays bounded by aiokafka's ``fetch_max_bytes`` (50 MiB by default).
"""

LINGER_MS: Final = 200
"""Default ``linger_ms``: how long a batch waits for more records, up to ``max_records``.

``getmany`` hands out what the fetcher holds, one fetch response per partition; on a local
Tansu broker, with 2.9 KB endpoint events, that was about 2,100 records a batch. Every
batch pays a fixed cost in detection and delivery, so a batch is topped up with further
fetches for up to this long, and for as long as the batch before it is still in flight
(the pipeline reads ahead) while the partitions still hold records not read: waiting
then delays nothing, so under a backlog batches grow to ``max_records``; a caught-up or
quiet stream keeps its latency.
"""

BUSY_POLL_MS: Final = 50
"""How long one top-up ``getmany`` waits while the batch before is in flight."""

FETCHER_STEPS: Final = 4
"""Event-loop turns after ``getmany`` that let aiokafka's fetcher send its next request."""

ASSIGN_TIMEOUT_S: Final = 120.0
"""Longest an assignment may take to read its committed offsets and restore its state.

Meanwhile the consumer heartbeats and holds its partitions while reading none of them: a
broker that never answers would hold them forever. Past this, the run stops with
:class:`AssignmentTimeoutError` and the group gives the partitions to another member.
"""

OnAssigned = Callable[[dict[TopicPartition, int | None]], Awaitable[Mapping[tuple[str, int], int]]]
"""``(committed offset per assigned partition) -> offsets to seek to``."""

OnRevoked = Callable[[list[TopicPartition]], Awaitable[None]]
"""Called with the revoked partitions, after their in-flight batch was committed."""

_value = attrgetter("value")
_offset = attrgetter("offset")
_headers = attrgetter("headers")

_log = logging.getLogger("neakta.kafka")


def security_options(
    *,
    security_protocol: str = "PLAINTEXT",
    sasl_mechanism: str | None = None,
    username: str | None = None,
    password: str | None = None,
    ca_file: Path | None = None,
) -> dict[str, Any]:
    """Client options of aiokafka for PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.

    Examples
    --------
    >>> security_options()
    {'security_protocol': 'PLAINTEXT'}
    >>> sorted(security_options(security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN",
    ...                         username="u", password="p"))
    ['sasl_mechanism', 'sasl_plain_password', 'sasl_plain_username', 'security_protocol']
    """
    options: dict[str, Any] = {"security_protocol": security_protocol}
    if security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = create_ssl_context(
            cafile=str(ca_file) if ca_file is not None else None
        )
    if security_protocol.startswith("SASL"):
        options["sasl_mechanism"] = sasl_mechanism or "PLAIN"
        options["sasl_plain_username"] = username
        options["sasl_plain_password"] = password
    return options


class AssignmentTimeoutError(IngestError):
    """Partitions were assigned, and their offsets and state did not come back in time."""


async def bounded_assignment(
    work: Awaitable[None], *, timeout_s: float, what: str
) -> Exception | None:
    """Await an assignment's ``work`` (offsets, state, positions); what it failed with.

    aiokafka would log and swallow what a rebalance callback raises, and a store that never
    answers would hold the partitions forever: the caller keeps the error and raises it
    before it reads anything more. Past ``timeout_s``: :class:`AssignmentTimeoutError`.
    """
    try:
        async with asyncio.timeout(timeout_s):
            await work
    except TimeoutError:
        return AssignmentTimeoutError(
            f"{what} assigned, but their committed offsets and state did not come back "
            f"within {timeout_s:g} s; stopping so that the group gives them to another member"
        )
    except Exception as error:
        return error
    return None


class _FinishBeforeRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, source: KafkaSource) -> None:
        self._source = source

    async def on_partitions_revoked(self, revoked: Any) -> None:
        # A rebalance begins: nothing fetched from now on is processed before the
        # assignment has put the state and the positions in place.
        self._source._ready = self._source.on_assigned is None
        # Held only while a batch is read, processed and committed, never around the
        # first getmany; a batch still topping itself up stops (see KafkaSource._linger).
        self._source._revoking = True
        async with self._source._in_flight:
            self._source._revoking = False
            _log.info("partitions revoked after in-flight batch: %s", sorted(map(str, revoked)))
            if revoked and self._source.on_revoked is not None:
                try:
                    await self._source.on_revoked(sorted(revoked))
                except Exception as error:
                    self._source._failed = error

    async def on_partitions_assigned(self, assigned: Any) -> None:
        _log.info("partitions assigned: %s", sorted(map(str, assigned)))
        source = self._source
        consumer = source._consumer
        if source.on_assigned is None or consumer is None:
            return
        if not assigned:
            source._ready = True
            return
        # aiokafka may fetch the new partitions before and while this runs: such records
        # are dropped (see batches) and read again from the positions every partition is
        # given here (a seek also makes aiokafka drop what it buffered).
        async with source._in_flight:
            source._generation += 1
            source._ready = True
            # The next batch raises what it failed with.
            source._failed = await bounded_assignment(
                self._restore(consumer, source.on_assigned, sorted(assigned)),
                timeout_s=source.assign_timeout_s,
                what="partitions",
            )

    async def _restore(
        self, consumer: AIOKafkaConsumer, restore: OnAssigned, assigned: list[TopicPartition]
    ) -> None:
        """Restore the partitions' state; seek each where it resumes (or to its commit)."""
        committed = {tp: await consumer.committed(tp) for tp in assigned}
        seeks = await restore(committed)
        wanted = {TopicPartition(t, p): o for (t, p), o in seeks.items()}
        forward: dict[TopicPartition, int] = {}
        for tp in assigned:
            done = committed.get(tp)
            offset = wanted.get(tp, done)
            if tp in wanted and offset != done:
                _log.info("%s resumes at checkpoint offset %d", tp, offset)
                if done is None or wanted[tp] > done:
                    forward[tp] = wanted[tp]
            if offset is None:
                # A plain seek, at once: seek_to_beginning resets lazily, after records
                # fetched from elsewhere may already have been handed out.
                offset = (await consumer.beginning_offsets([tp]))[tp]
            # Seeking to where the consumer already is would fetch the same records
            # twice (aiokafka keeps the fetch already under way).
            if await consumer.position(tp) != offset:
                consumer.seek(tp, offset)
            self._source._next[tp] = offset
        if forward:
            # The restored state vouches for the records before these offsets (processed
            # and delivered; their commit was lost): the group's offsets catch up now. The
            # next batch would do it too, but a partition read to its end brings none.
            await self._source._commit(consumer, forward)


def _organization(headers: Sequence[tuple[str, bytes]]) -> str | None:
    for key, value in headers:
        if key == ORGANIZATION_HEADER and value:
            return value.decode("utf-8", errors="replace")
    return None


def records_frame(
    topic: str,
    partition: int,
    records: Sequence[Any],
    *,
    family: str | None,
    ministry: str | None,
) -> pl.DataFrame:
    """One partition's fetched records as raw record columns, without per-record rows.

    Parameters
    ----------
    topic, partition
        Where the records come from.
    records
        aiokafka ``ConsumerRecord`` objects (``offset``, ``value``, ``headers``), in offset
        order, at least one.
    family, ministry
        The topic's log family and ministry (:func:`ingest.sources.families.family_of_topic`).

    Returns
    -------
    polars.DataFrame
        ``family``, ``source``, ``origin`` (``topic/partition/offset``), ``raw`` (``Binary``),
        ``header_organization`` (header ``organization.id``), ``source_organization``: the
        input of :func:`ingest.sources.records.decode_records`.

    Examples
    --------
    >>> from aiokafka.structs import ConsumerRecord
    >>> def record(offset, value, headers=()):
    ...     return ConsumerRecord("logs.web.mef", 0, offset, 0, 0, None, value, None, -1,
    ...                           len(value), headers)
    >>> frame = records_frame("logs.web.mef", 0, [record(7, b"GET /"),
    ...                       record(9, b"GET /a", (("organization.id", b"mi"),))],
    ...                       family="web", ministry="mef")
    >>> frame.select("origin", "raw", "header_organization").rows()
    [('logs.web.mef/0/7', b'GET /', None), ('logs.web.mef/0/9', b'GET /a', 'mi')]
    """
    size = len(records)
    first, last = records[0].offset, records[-1].offset
    prefix = f"{topic}/{partition}/"
    if last - first + 1 == size:
        # Offsets only grow within a partition, so this span has no gap: a range.
        origins = [f"{prefix}{offset}" for offset in range(first, last + 1)]
    else:
        origins = [f"{prefix}{offset}" for offset in map(_offset, records)]
    headers = list(map(_headers, records))
    if any(headers):
        header = pl.Series([_organization(h) for h in headers], dtype=pl.String)
    else:
        header = _constant(None, size)
    return pl.DataFrame(
        {
            "family": _constant(family, size),
            "source": _constant(topic, size),
            "origin": pl.Series(origins, dtype=pl.String),
            "raw": pl.Series(list(map(_value, records)), dtype=pl.Binary),
            "header_organization": header,
            "source_organization": _constant(ministry, size),
        }
    )


def _constant(value: str | None, size: int) -> pl.Series:
    """``value`` ``size`` times, without a query: no wait for Polars' thread pool.

    The source builds its frames on the event loop while parse and detection keep the
    pool busy in worker threads; a query (``pl.repeat``, an expression) would queue there.
    """
    return pl.Series([value], dtype=pl.String).new_from_index(0, size)


class KafkaSource:
    """A consumer group member as a :class:`ingest.sources.Source`.

    Parameters
    ----------
    bootstrap_servers
        ``host:port[,host:port]``.
    topics
        Topics to subscribe to.
    group_id
        The consumer group; processes with the same id split the partitions.
    families
        Topic -> family, for topics not named ``logs.<family>[.<ministry>]``.
    max_records, timeout_ms
        Bounds of one ``getmany``: keep a batch well inside ``max_poll_interval_ms``.
    linger_ms
        After a ``getmany`` with records, fetch more for up to this long while the batch
        holds fewer than ``max_records`` (default :data:`LINGER_MS`; 0: one ``getmany``
        per batch), and for as long as a batch handed out before is not committed and
        the partitions hold records not read yet. A rebalance or ``stop`` ends the wait
        early.
    max_record_bytes
        Longer records are dead letters.
    stop
        Set it to end the batches after the current one.
    fetcher_steps
        Event-loop turns given to aiokafka's fetcher after each ``getmany`` so that its next
        fetch overlaps this batch's processing; 0 turns that off.
    on_assigned, on_revoked
        Rebalance callbacks for state kept outside Kafka (see :data:`OnAssigned`,
        :data:`OnRevoked`); None: nothing to do.
    assign_timeout_s
        Longest an assignment may take with ``on_assigned`` (default
        :data:`ASSIGN_TIMEOUT_S`); past it, :meth:`batches` raises
        :class:`AssignmentTimeoutError`.
    ticks
        Also yield an empty batch when a poll brought nothing, so that event time can
        release idle inputs while no record arrives (its ``busy`` names the partitions
        that still lag).
    options
        More ``AIOKafkaConsumer`` options (:func:`security_options`, ``client_id``,
        ``max_partition_fetch_bytes`` (default :data:`PARTITION_FETCH_BYTES`)...).
    """

    def __init__(
        self,
        *,
        bootstrap_servers: str,
        topics: Sequence[str],
        group_id: str,
        families: Mapping[str, str] | None = None,
        max_records: int = 50_000,
        timeout_ms: int = 500,
        linger_ms: int = LINGER_MS,
        max_record_bytes: int = 1 << 20,
        stop: asyncio.Event | None = None,
        fetcher_steps: int = FETCHER_STEPS,
        on_assigned: OnAssigned | None = None,
        on_revoked: OnRevoked | None = None,
        assign_timeout_s: float = ASSIGN_TIMEOUT_S,
        ticks: bool = False,
        **options: Any,
    ) -> None:
        self.ticks = ticks
        self.assign_timeout_s = assign_timeout_s
        self.on_assigned = on_assigned
        self.on_revoked = on_revoked
        self.topics = tuple(topics)
        self.families = dict(families or {})
        self.max_records = max_records
        self.timeout_ms = timeout_ms
        self.linger_ms = linger_ms
        self.max_record_bytes = max_record_bytes
        self.fetcher_steps = fetcher_steps
        self.stop = stop or asyncio.Event()
        self._options = {
            "bootstrap_servers": bootstrap_servers,
            "group_id": group_id,
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "max_partition_fetch_bytes": PARTITION_FETCH_BYTES,
            **options,
        }
        self._consumer: AIOKafkaConsumer | None = None
        self._in_flight = asyncio.Lock()
        self._flying = 0
        self._landed = asyncio.Event()
        self._landed.set()
        self._next: dict[TopicPartition, int] = {}
        self._failed: Exception | None = None
        self._revoking = False
        self._generation = 0
        # With an assignment callback, batches wait for it (state restored, positions set).
        self._ready = on_assigned is None

    async def start(self) -> None:
        """Join the group (called by :meth:`batches` when not called before)."""
        if self._consumer is not None:
            return
        self._consumer = AIOKafkaConsumer(**self._options)
        self._consumer.subscribe(self.topics, listener=_FinishBeforeRevoke(self))
        await self._consumer.start()

    async def batches(self) -> AsyncGenerator[SourceBatch, None]:
        """One batch per non-empty ``getmany``, until ``stop`` is set.

        A batch stays in flight until :meth:`commit`; the next one may be asked for before
        that. Closing the generator ends the flight of the batches not committed.

        Raises what a rebalance callback (``on_assigned``, ``on_revoked``) raised.
        """
        await self.start()
        consumer = self._consumer
        assert consumer is not None
        try:
            while not self.stop.is_set():
                fetched = await consumer.getmany(
                    timeout_ms=self.timeout_ms, max_records=self.max_records
                )
                if self._failed is not None:
                    # A rebalance callback failed: its state is not in place, read nothing more.
                    raise self._failed
                if not fetched and not self.ticks:
                    continue
                ready, generation = self._ready, self._generation
                await self._take_off()
                if self._failed is not None:
                    # It failed while this batch waited for it: no state for these records.
                    self._land()
                    raise self._failed
                if not (ready and self._ready and generation == self._generation):
                    # Fetched before the assignment put state and positions in place: the
                    # assignment positioned every partition again, so these are read again.
                    self._land()
                    continue
                try:
                    if fetched:
                        fetched = await self._linger(consumer, fetched, generation)
                        # The fetcher's next request goes out now, not at this batch's commit.
                        for _ in range(self.fetcher_steps):
                            await asyncio.sleep(0)
                        batch = self._batch(fetched)
                        # Its own partitions too: their records are not processed yet.
                        batch = replace(batch, busy=self._busy(delivered=fetched))
                    else:
                        batch = SourceBatch(busy=self._busy())
                except BaseException:
                    self._land()
                    raise
                yield batch
        finally:
            while self._flying:
                self._land()

    async def _take_off(self) -> None:
        """Put one more batch in flight (the first one takes the lock a rebalance waits for).

        While a rebalance waits for the batches in flight, a new one waits for the
        rebalance: after the last commit the listener has the lock first.
        """
        if self._flying and self._revoking:
            await self._landed.wait()
        if not self._flying:
            await self._in_flight.acquire()
        self._flying += 1
        self._landed.clear()

    async def _linger(
        self,
        consumer: AIOKafkaConsumer,
        fetched: Mapping[TopicPartition, list[Any]],
        generation: int,
    ) -> dict[TopicPartition, list[Any]]:
        """Top a fetch up to ``max_records`` with what arrives within ``linger_ms``.

        While a batch handed out before is still in flight, topping up goes on past
        ``linger_ms`` as long as the partitions hold records not read yet: the pipeline
        could not take this batch sooner anyway. Once a fetch brings nothing and none is
        left to read, the batch is handed out, so that it is parsed meanwhile.

        Called in flight (a rebalance waits for the batch), so the partitions cannot
        change under it; a pending rebalance or ``stop`` ends it at once. Records fetched
        once an assignment callback is pending are left out: the assignment positions
        every partition again, so they are read again.
        """
        merged = {tp: list(records) for tp, records in fetched.items()}
        count = sum(map(len, merged.values()))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.linger_ms / 1000
        while count < self.max_records and not (self.stop.is_set() or self._revoking):
            if self._flying > 1:
                left_ms = BUSY_POLL_MS
            else:
                left_ms = int((deadline - loop.time()) * 1000)
                if left_ms <= 0:
                    break
            more = await consumer.getmany(timeout_ms=left_ms, max_records=self.max_records - count)
            if self._failed is not None or not self._ready or generation != self._generation:
                break  # as in batches(): the next getmany raises, or reads these again
            if not more and self._flying > 1 and not self._busy(merged):
                # Caught up: nothing more is there to read, so the batch goes now and is
                # parsed while the one before it is delivered.
                break
            for tp, records in more.items():
                held = merged.setdefault(tp, [])
                # Read again after an assignment's seek (it may land after this batch's
                # first fetch): each offset once. Offsets grow, so the first one tells.
                last = held[-1].offset if held else -1
                fresh = records
                if records and records[0].offset <= last:
                    fresh = [r for r in records if r.offset > last]
                held.extend(fresh)
                count += len(fresh)
        return merged

    def _busy(
        self,
        held: Mapping[TopicPartition, list[Any]] | None = None,
        *,
        delivered: Mapping[TopicPartition, list[Any]] | None = None,
    ) -> tuple[str, ...]:
        """Assigned partitions with records not read yet (or not known to have none).

        ``held``: records fetched for a batch not handed out yet, read as far as they go.
        ``delivered``: records of the batch being handed out; their partitions are busy
        too (read to their end, yet not processed).
        """
        consumer = self._consumer
        if consumer is None:
            return ()
        busy = []
        for tp in sorted(consumer.assignment()):
            records = held.get(tp) if held else None
            read = records[-1].offset + 1 if records else self._next.get(tp, 0)
            high = consumer.highwater(tp)
            if high is None or high > read or (delivered and delivered.get(tp)):
                busy.append(f"{tp.topic}/{tp.partition}")
        return tuple(busy)

    def _batch(self, fetched: Mapping[TopicPartition, list[Any]]) -> SourceBatch:
        parts: list[pl.DataFrame] = []
        position: dict[Hashable, int] = {}
        for tp, delivered in fetched.items():
            expected = self._next.get(tp)
            records = delivered
            if records and expected is not None and records[0].offset < expected:
                # Delivered twice (a fetch under way across a seek): keep what is new.
                records = [r for r in delivered if r.offset >= expected]
            if not records:
                continue
            family, ministry = family_of_topic(tp.topic, self.families)
            parts.append(
                records_frame(tp.topic, tp.partition, records, family=family, ministry=ministry)
            )
            position[tp] = records[-1].offset + 1
            self._next[tp] = records[-1].offset + 1
        if not parts:
            return SourceBatch()
        frame = pl.concat(parts)
        good, dead = decode_records(frame, max_bytes=self.max_record_bytes)
        unknown = good.get_column("family").is_null()
        if unknown.any():
            lost = good.filter(unknown)
            reason = pl.format("no log family for topic {}", pl.col("source"))
            dead = pl.concat(
                [
                    dead,
                    lost.select(
                        "source",
                        "origin",
                        reason.alias("reason"),
                        pl.col("line").cast(pl.Binary).alias("raw"),
                    ),
                ]
            )
            good = good.filter(~unknown)
        return SourceBatch(good, dead, position)

    async def commit(self, batch: SourceBatch) -> None:
        """Commit the batch's next offsets on the partitions still assigned; end its flight.

        Batches are committed in the order they were handed out.
        """
        consumer = self._consumer
        try:
            if consumer is not None:
                assigned = consumer.assignment()
                offsets = {
                    tp: offset
                    for tp, offset in batch.position.items()
                    if isinstance(tp, TopicPartition) and tp in assigned
                }
                if offsets:
                    await self._commit(consumer, offsets)
        finally:
            self._land()

    @staticmethod
    async def _commit(consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as error:
            # The group moved on: the new owner resumes from the partitions' saved state
            # (commits it at once where it lies past this commit) and reads what follows.
            _log.warning(
                "commit failed (the group moved on): the partitions' next owner resumes "
                "from their last saved state and reads again what came after it: %s",
                error,
            )

    def _land(self) -> None:
        """One batch's flight ends; after the last one a waiting rebalance goes on."""
        if self._flying:
            self._flying -= 1
            if not self._flying:
                self._in_flight.release()
                self._landed.set()

    @property
    def assigned(self) -> bool:
        """Whether the group gave this consumer any partition yet."""
        return self._consumer is not None and bool(self._consumer.assignment())

    def lag(self) -> dict[str, int]:
        """Records behind the partition's end, per ``topic/partition`` (last fetch's view)."""
        consumer = self._consumer
        if consumer is None:
            return {}
        lags: dict[str, int] = {}
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            if high is not None:
                lags[f"{tp.topic}/{tp.partition}"] = max(high - self._next.get(tp, 0), 0)
        return lags

    async def close(self) -> None:
        """Leave the group."""
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None
