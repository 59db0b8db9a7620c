"""In-memory sinks for tests and for callers that want the batches themselves."""

from __future__ import annotations

from dataclasses import dataclass, field

from respond.errors import SinkUnavailableError
from respond.sinks import Delivery, SinkBatch

__all__ = ["ListSink"]


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
        if self.fail_next > 0:
            self.fail_next -= 1
            raise SinkUnavailableError("list sink told to fail")
        self.batches.append(batch)
        ids = batch.alerts["_id"].to_list()
        fresh = [i for i in ids if i not in self._seen]
        self._seen.update(ids)
        return Delivery(written=len(fresh), duplicates=len(ids) - len(fresh))

    async def close(self) -> None:
        self.closed = True
