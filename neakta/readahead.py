"""Read ahead: fetch and prepare the next batches while the one in hand is processed.

:func:`read_ahead` turns a source's batches into ``(batch, prepared)`` pairs. With
``ahead`` = 0 each batch is prepared when it is asked for, in turn; with ``ahead`` = N a
task keeps reading: it takes up to N batches beyond the one in hand from the source and
prepares them (the pipeline parses them, in a worker thread), so fetching and parsing the
next batch overlap the detection and delivery of this one. Pairs come out in the
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
    ready: asyncio.Queue[_Ready[_T] | _End] = asyncio.Queue()
    slots = asyncio.Semaphore(ahead)

    async def read() -> None:
        try:
            async with contextlib.aclosing(batches):  # type: ignore[type-var]
                while True:
                    await slots.acquire()
                    try:
                        batch = await anext(batches)
                    except StopAsyncIteration:
                        break
                    ready.put_nowait(_Ready(batch, await prepare(batch)))
        except Exception as error:
            ready.put_nowait(_End(error))
        else:
            ready.put_nowait(_End())

    reader = asyncio.create_task(read(), name="neakta-read-ahead")
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
