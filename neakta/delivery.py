"""Delivering a batch: each destination offered it until it acknowledges (backpressure).

A destination that raises a *retriable* error (``retriable = True``, as
:class:`respond.errors.SinkUnavailableError` and aiokafka's errors have) gets the same
batch again after a growing pause; any other error is raised. Setting ``stop`` during a
pause ends the wait with :class:`PipelineStoppedError`: the batch is not committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import ClassVar, TypeVar

from respond.sinks import AlertSink, Delivery, SinkBatch

__all__ = ["PipelineStoppedError", "deliver", "write_all"]

_log = logging.getLogger("neakta.pipeline")
_T = TypeVar("_T")


class PipelineStoppedError(Exception):
    """The run was stopped while a batch waited for a destination; it was not committed.

    Attributes
    ----------
    retriable
        True: the batch was not committed, so a later run reads it again.
    """

    retriable: ClassVar[bool] = True


async def deliver(
    what: str,
    write: Callable[[], Awaitable[_T]],
    *,
    backoff: float,
    max_backoff: float,
    stop: asyncio.Event,
) -> _T:
    """``write()`` until it returns, pausing ``backoff`` (doubled up to ``max_backoff``)."""
    pause = backoff
    while True:
        try:
            return await write()
        except Exception as error:
            if not getattr(error, "retriable", False):
                raise
            _log.warning("%s unavailable, retrying in %.1f s: %s", what, pause, error)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), pause)
        if stop.is_set():
            raise PipelineStoppedError(f"stopped while {what} was unavailable")
        pause = min(pause * 2, max_backoff)


async def write_all(
    sinks: Sequence[AlertSink],
    output: SinkBatch,
    retry: Callable[[str, Callable[[], Awaitable[Delivery]]], Awaitable[Delivery]],
) -> tuple[int, int]:
    """Write ``output`` to every sink at once, each through ``retry`` (see :func:`deliver`).

    The store and the export file each write in a thread of their own; a sink's failure is
    raised once every other one has finished. Returns the most documents written, and
    duplicates, any sink counted.
    """
    settled = await asyncio.gather(
        *(retry(type(sink).__name__, partial(sink.write, output)) for sink in sinks),
        return_exceptions=True,
    )
    deliveries: list[Delivery] = []
    for delivery in settled:
        if isinstance(delivery, BaseException):
            raise delivery
        deliveries.append(delivery)
    written = max((d.written for d in deliveries), default=0)
    duplicates = max((d.duplicates for d in deliveries), default=0)
    return written, duplicates
