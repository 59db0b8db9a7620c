"""Read ahead: fetch and prepare the next batches while the one in hand is processed.

:func:`read_ahead` turns a source's batches into ``(batch, prepared)`` pairs. With
``ahead`` = 0 each batch is prepared when it is asked for, in turn; with ``ahead`` = N a
task keeps reading: it takes up to N batches beyond the one in hand from the source and
prepares them (the pipeline parses them, in a worker thread), so fetching and parsing the
next batch overlap the detection and delivery of this one, and fetching the batch after
it overlaps that parse (one batch more is taken from the source: it waits to be parsed,
so at most N + 1 are held beyond the one in hand). Pairs come out in the
source's order; what the reading task raises comes out after the pairs before it. When the
consumer stops early, the task is cancelled and the source's iterator closed: batches read
ahead and not committed are read again by the next reader (a Kafka consumer commits only
what was processed).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from ingest.sources import SourceBatch

__all__ = ["read_ahead"]

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class _End:
    """The source ended (``error`` None) or raised ``error``."""

    error: Exception | None = None


@dataclass(frozen=True, slots=True)
class _Ready(Generic[_T]):
    batch: SourceBatch
    prepared: _T


async def read_ahead(
    batches: AsyncIterator[SourceBatch],
    prepare: Callable[[SourceBatch], Awaitable[_T]],
    *,
    ahead: int,
) -> AsyncGenerator[tuple[SourceBatch, _T], None]:
    """Each batch with what ``prepare`` made of it, preparing up to ``ahead`` in advance.

    Parameters
    ----------
    batches
        The source's batches (an async generator: it is closed when this one is).
    prepare
        Awaited once per batch, in order.
    ahead
        Batches taken from the source and prepared beyond the one in hand; 0: none.

    Examples
    --------
    >>> async def numbers():
    ...     for n in range(3):
    ...         yield SourceBatch(position={"n": n})
    >>> async def double(batch):
    ...     return batch.position["n"] * 2
    >>> async def pairs():
    ...     return [p async for _, p in read_ahead(numbers(), double, ahead=1)]
    >>> asyncio.run(pairs())
    [0, 2, 4]
    """
    if ahead <= 0:
        async with contextlib.aclosing(batches):  # type: ignore[type-var]
            async for batch in batches:
                yield batch, await prepare(batch)
        return
    reading = _Reading(batches, prepare, ahead)
    reader = asyncio.create_task(reading.read(), name="neakta-read-ahead")
    ready, slots = reading.ready, reading.slots
    try:
        while True:
            item = await ready.get()
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
            # The reader may take the next batch while this one is processed.
            slots.release()
            yield item.batch, item.prepared
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader


class _Reading(Generic[_T]):
    """Two tasks: one takes batches from the source, the other prepares them in turn.

    At most ``ahead`` batches are prepared (or being prepared) beyond the one in hand, and
    at most one more is taken from the source and waits to be prepared: the source is
    read while the batch before it is prepared.
    """

    def __init__(
        self,
        batches: AsyncIterator[SourceBatch],
        prepare: Callable[[SourceBatch], Awaitable[_T]],
        ahead: int,
    ) -> None:
        self.batches = batches
        self.prepare = prepare
        self.ready: asyncio.Queue[_Ready[_T] | _End] = asyncio.Queue()
        self.slots = asyncio.Semaphore(ahead)
        self._fetched: asyncio.Queue[SourceBatch | _End] = asyncio.Queue()
        self._room = asyncio.Semaphore(1)

    async def fetch(self) -> None:
        """Take the source's batches, one at a time once the one before is being prepared."""
        try:
            async with contextlib.aclosing(self.batches):  # type: ignore[type-var]
                while True:
                    await self._room.acquire()
                    try:
                        batch = await anext(self.batches)
                    except StopAsyncIteration:
                        break
                    self._fetched.put_nowait(batch)
        except Exception as error:
            self._fetched.put_nowait(_End(error))
        else:
            self._fetched.put_nowait(_End())

    async def read(self) -> None:
        """Prepare the fetched batches in order while there is a free slot."""
        fetcher = asyncio.create_task(self.fetch(), name="neakta-fetch-ahead")
        try:
            while True:
                await self.slots.acquire()
                batch = await self._fetched.get()
                if isinstance(batch, _End):
                    self.ready.put_nowait(batch)
                    return
                self._room.release()  # the next batch is read while this one is prepared
                try:
                    prepared = await self.prepare(batch)
                except Exception as error:
                    self.ready.put_nowait(_End(error))
                    return
                self.ready.put_nowait(_Ready(batch, prepared))
        finally:
            fetcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await fetcher
