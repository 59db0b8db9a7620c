"""In-memory sinks and transports for tests and for callers that want what was sent."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from respond.errors import SinkUnavailableError
from respond.sinks import Delivery, SinkBatch

__all__ = ["ListSink", "MemoryTransport"]


@dataclass
class ListSink:
    """Keeps every batch it is given; alerts seen before count as duplicates.

    ``fail_next`` makes the next that many writes raise ``SinkUnavailableError``, the way a
    destination that is down would.
    """

    batches: list[SinkBatch] = field(default_factory=list)
    fail_next: int = 0
    closed: bool = False
    _seen: set[str] = field(default_factory=set)

    async def write(self, batch: SinkBatch) -> Delivery:
        """Keep the batch in memory and acknowledge it."""
        if self.fail_next > 0:
            self.fail_next -= 1
            raise SinkUnavailableError("list sink told to fail")
        self.batches.append(batch)
        ids = batch.alerts["_id"].to_list()
        fresh = [i for i in ids if i not in self._seen]
        self._seen.update(ids)
        return Delivery(written=len(fresh), duplicates=len(ids) - len(fresh))

    async def close(self) -> None:
        """Mark the sink closed."""
        self.closed = True


@dataclass
class MemoryTransport:
    """A webhook transport that keeps every request and answers with scripted statuses.

    Examples
    --------
    >>> import asyncio
    >>> transport = MemoryTransport(answers=[429])
    >>> [asyncio.run(transport.send("http://hook", {"text": "hi"})) for _ in range(2)]
    [429, 200]
    >>> transport.sent
    [('http://hook', {'text': 'hi'}), ('http://hook', {'text': 'hi'})]
    """

    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)

    async def send(self, url: str, json: Mapping[str, Any]) -> int:
        """Record the request; answer with the next status (200 once none are left)."""
        self.sent.append((url, dict(json)))
        return self.answers.pop(0) if self.answers else 200
