"""Sources: where raw records come from (Kafka topics, files), batch by batch.

A source is anything with the :class:`Source` protocol; the pipeline asks it for
batches, and commits each batch once the batch's results are written.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from ingest.sources.families import family_of_file, family_of_line, family_of_topic
from ingest.sources.files import FileSource, expand_paths
from ingest.sources.records import (
    FAMILIES,
    RECORD_SCHEMA,
    SourceBatch,
    decode_records,
    empty_dead,
    empty_records,
)

__all__ = [
    "FAMILIES",
    "RECORD_SCHEMA",
    "FileSource",
    "Source",
    "SourceBatch",
    "decode_records",
    "empty_dead",
    "empty_records",
    "expand_paths",
    "family_of_file",
    "family_of_line",
    "family_of_topic",
]


class Source(Protocol):
    """Batches of records, and a way to say a batch is done with."""

    def batches(self) -> AsyncIterator[SourceBatch]:
        """Bounded batches, in order; ends when the source is exhausted or stopped."""
        ...

    async def commit(self, batch: SourceBatch) -> None:
        """Record that ``batch`` (and everything before it) has been fully processed."""
        ...

    async def close(self) -> None:
        """Release the source (a Kafka consumer leaves its group)."""
        ...
