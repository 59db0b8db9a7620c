"""In-memory sources and dead-letter sinks, for tests and for callers that hold their data."""

from __future__ import annotations

from collections.abc import AsyncIterator, Hashable, Sequence
from dataclasses import dataclass, field

import polars as pl

from ingest.deadletter import DeadLetterUnavailableError
from ingest.sources.records import SourceBatch, decode_records, empty_dead

__all__ = ["ListDeadLetters", "MemorySource"]


@dataclass
class MemorySource:
    """Hands out the batches it was given and remembers which ones were committed.

    Examples
    --------
    >>> source = MemorySource.of_lines("web", ["GET /", "GET /a", "GET /b"], batch_size=2)
    >>> [b.records["origin"].to_list() for b in source.given]
    [['memory:1', 'memory:2'], ['memory:3']]
    """

    given: list[SourceBatch]
    committed: list[SourceBatch] = field(default_factory=list)
    closed: bool = False

    @classmethod
    def of_lines(
        cls,
        family: str,
        lines: Sequence[str | bytes],
        *,
        batch_size: int = 100_000,
        source: str = "memory",
        organization: str | None = None,
        max_record_bytes: int = 1 << 20,
    ) -> MemorySource:
        """Batches of ``lines`` of one family, with origins ``<source>:<line>``."""
        batches = []
        for start in range(0, len(lines), batch_size):
            chunk = [
                line.encode() if isinstance(line, str) else line
                for line in lines[start : start + batch_size]
            ]
            size = len(chunk)
            frame = pl.DataFrame(
                {
                    "family": [family] * size,
                    "source": [source] * size,
                    "origin": [f"{source}:{start + n + 1}" for n in range(size)],
                    "raw": pl.Series(chunk, dtype=pl.Binary),
                    "header_organization": pl.Series([organization] * size, dtype=pl.String),
                    "source_organization": pl.Series([None] * size, dtype=pl.String),
                }
            )
            good, dead = decode_records(frame, max_bytes=max_record_bytes)
            position: dict[Hashable, int] = {source: start + size}
            batches.append(SourceBatch(good, dead, position))
        return cls(batches)

    async def batches(self) -> AsyncIterator[SourceBatch]:
        """Yield the given batches in order."""
        for batch in self.given:
            yield batch

    async def commit(self, batch: SourceBatch) -> None:
        """Remember ``batch`` as committed."""
        self.committed.append(batch)

    async def close(self) -> None:
        """Mark the source closed."""
        self.closed = True


@dataclass
class ListDeadLetters:
    """Keeps every frame of dead letters it is given; ``fail_next`` writes raise first."""

    frames: list[pl.DataFrame] = field(default_factory=list)
    fail_next: int = 0
    closed: bool = False

    @property
    def dead(self) -> pl.DataFrame:
        """All dead letters so far, in one frame."""
        return pl.concat([empty_dead(), *self.frames])

    async def write(self, dead: pl.DataFrame) -> None:
        """Keep the dead letters in memory."""
        if self.fail_next > 0:
            self.fail_next -= 1
            raise DeadLetterUnavailableError("dead-letter list told to fail")
        if dead.height:
            self.frames.append(dead)

    async def close(self) -> None:
        """Mark the destination closed."""
        self.closed = True
