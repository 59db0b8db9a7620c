"""Read log files as batches of records: raw lines, NDJSON, gzip, Parquet, directories.

Each file is read in bounded chunks and split into lines; a batch holds at most
``batch_size`` records, so memory stays bounded whatever the file size. A line's origin
is ``path:line`` (lines counted from 1, blank lines counted but not records). Parquet
files give one record per row: the text of the first of the columns ``event.original``,
``message``, ``raw`` or ``line`` that exists, else the row as a JSON object. A directory
stands for its files (recursively, sorted, hidden files skipped). ``follow=True`` keeps
reading files as they grow, like ``tail -f``, until ``stop`` is set.

The family of each file comes from :func:`ingest.sources.families.family_of_file` unless
one is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
from collections.abc import AsyncIterator, Hashable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

import polars as pl

from ingest.sources.families import family_of_file
from ingest.sources.records import SourceBatch, decode_records

__all__ = ["LINE_COLUMNS", "FileSource", "expand_paths"]

LINE_COLUMNS = ("event.original", "message", "raw", "line")
"""Parquet columns taken as a row's text, first present wins."""

_CHUNK = 8 << 20
_FIELDS = b"#Fields:"


def expand_paths(paths: Sequence[str | Path]) -> list[Path]:
    """Files named, and the files under directories named (sorted, no hidden files).

    Examples
    --------
    >>> expand_paths([])
    []
    """
    files: list[Path] = []
    for given in map(Path, paths):
        if given.is_dir():
            files.extend(
                p
                for p in sorted(given.rglob("*"))
                if p.is_file() and not any(part.startswith(".") for part in p.parts)
            )
        else:
            files.append(given)
    return files


class _Lines:
    """Complete lines of one file, read in chunks; remembers how far it got."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.number = 0
        self.tail = b""
        self.file: BinaryIO = path.open("rb")
        self.handle: BinaryIO | gzip.GzipFile = self.file
        if path.suffix == ".gz":
            self.handle = gzip.GzipFile(fileobj=self.file, mode="rb")

    def read(self, *, final: bool) -> Iterator[tuple[int, list[bytes]]]:
        """Chunks of (first line number, lines); a last partial line only when ``final``."""
        while True:
            chunk = self.handle.read(_CHUNK)
            if not chunk:
                break
            lines = (self.tail + chunk).split(b"\n")
            self.tail = lines.pop()
            yield self._take(lines)
        if final and self.tail:
            lines, self.tail = [self.tail], b""
            yield self._take(lines)

    def _take(self, lines: list[bytes]) -> tuple[int, list[bytes]]:
        first = self.number + 1
        self.number += len(lines)
        return first, lines

    def close(self) -> None:
        self.handle.close()
        self.file.close()


class FileSource:
    """Log files as a :class:`ingest.sources.Source`.

    Parameters
    ----------
    paths
        Files and directories.
    family
        The family of every file; guessed per file when ``None``.
    follow
        Keep reading the files as they grow until ``stop`` is set.
    batch_size
        Most records per batch.
    max_record_bytes
        Longer records are dead letters.
    poll_interval
        Seconds between looks at a followed file that has not grown.
    stop
        Set it to end the batches (``follow`` mode) after the current one.
    """

    def __init__(
        self,
        paths: Sequence[str | Path],
        *,
        family: str | None = None,
        follow: bool = False,
        batch_size: int = 100_000,
        max_record_bytes: int = 1 << 20,
        poll_interval: float = 0.2,
        stop: asyncio.Event | None = None,
    ) -> None:
        self.paths = expand_paths(paths)
        self.family = family
        self.follow = follow
        self.batch_size = batch_size
        self.max_record_bytes = max_record_bytes
        self.poll_interval = poll_interval
        self.stop = stop or asyncio.Event()
        self.committed: dict[Hashable, int] = {}
        self._fields: dict[str, pl.DataFrame] = {}

    @property
    def inputs(self) -> list[str]:
        """Every file this source will read (inputs of event time, known from the start).

        Without ``follow``, each file's last batch names it in ``SourceBatch.ended``.
        """
        return [str(path) for path in self.paths]

    async def batches(self) -> AsyncIterator[SourceBatch]:  # noqa: C901 (one read loop)
        """Batches of records, file after file (then round the growing files if following)."""
        readers: list[tuple[_Lines, str]] = []
        current: _Lines | None = None
        try:
            for path in self.paths:
                if path.suffix == ".parquet":
                    batches = list(self._parquet(path)) or [SourceBatch()]
                    for batch in batches[:-1]:
                        yield batch
                    yield replace(batches[-1], ended=(str(path),))
                    continue
                reader = _Lines(path)
                current = reader
                family = self.family
                pending: list[bytes] = []
                first = 1
                for start, lines in reader.read(final=not self.follow):
                    if family is None:
                        head = next((line for line in lines if line.strip()), None)
                        family = family_of_file(path, head) if head is not None else None
                    if not pending:
                        first = start
                    pending.extend(lines)
                    # Strictly more: the last batch of a file is yielded below, naming its end.
                    while len(pending) > self.batch_size:
                        take, pending = pending[: self.batch_size], pending[self.batch_size :]
                        yield self._batch(path, family or "firewall", first, take)
                        first += len(take)
                if pending:
                    batch = self._batch(path, family or "firewall", first, pending)
                    yield batch if self.follow else replace(batch, ended=(str(path),))
                elif not self.follow:
                    yield SourceBatch(ended=(str(path),))
                if self.follow:
                    readers.append((reader, family or ""))
                else:
                    reader.close()
                current = None
                await asyncio.sleep(0)
            while self.follow and not self.stop.is_set():
                grew = False
                for reader, known in readers:
                    for start, lines in reader.read(final=False):
                        grew = True
                        family = known or family_of_file(reader.path, lines[0] if lines else None)
                        yield self._batch(reader.path, family, start, lines)
                if not grew:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.stop.wait(), self.poll_interval)
        finally:
            # Also the file in hand when the consumer stopped early.
            if current is not None and all(current is not r for r, _ in readers):
                current.close()
            for reader, _ in readers:
                reader.close()

    def _batch(self, path: Path, family: str, first: int, lines: list[bytes]) -> SourceBatch:
        name = str(path)
        size = len(lines)
        numbers = pl.int_range(first, first + size, dtype=pl.Int64, eager=True)
        frame = pl.DataFrame(
            {
                "family": pl.repeat(family, size, dtype=pl.String, eager=True),
                "source": pl.repeat(name, size, dtype=pl.String, eager=True),
                "origin": numbers.cast(pl.String),
                "raw": pl.Series(lines, dtype=pl.Binary),
                "header_organization": pl.repeat(None, size, dtype=pl.String, eager=True),
                "source_organization": pl.repeat(None, size, dtype=pl.String, eager=True),
            }
        )
        frame = frame.with_columns((pl.lit(name + ":") + pl.col("origin")).alias("origin")).filter(
            ~pl.col("raw").is_in(pl.Series([b"", b"\r"], dtype=pl.Binary).implode())
        )
        if family == "web":
            frame = self._with_iis_fields(name, frame)
        good, dead = decode_records(frame, max_bytes=self.max_record_bytes)
        good = good.with_columns(pl.col("line").str.strip_suffix("\r"))
        return SourceBatch(good, dead, {name: first + size - 1})

    def _with_iis_fields(self, name: str, frame: pl.DataFrame) -> pl.DataFrame:
        """Carry an IIS file's ``#Fields:`` directive into the batches after the one it is in.

        The directive (with its own origin) goes in front of the batch; the web parser
        reads it as a directive, neither an event nor a dead letter.
        """
        directives = frame.filter(pl.col("raw").bin.starts_with(_FIELDS))
        carried = self._fields.get(name)
        if directives.height:
            self._fields[name] = directives.tail(1)
        starts_with_one = frame.height > 0 and frame["raw"][0].startswith(_FIELDS)
        if carried is None or starts_with_one:
            return frame
        return pl.concat([carried, frame])

    def _parquet(self, path: Path) -> Iterator[SourceBatch]:
        table = pl.read_parquet(path)
        column = next((c for c in LINE_COLUMNS if c in table.columns), None)
        for offset in range(0, max(table.height, 1), self.batch_size):
            part = table.slice(offset, self.batch_size)
            if part.height == 0:
                return
            if column is not None:
                raw = part.get_column(column).cast(pl.String).cast(pl.Binary)
                lines = raw.to_list()
            else:
                lines = part.write_ndjson().encode().splitlines()
            family = self.family or family_of_file(path, lines[0] if lines else None)
            yield self._batch(path, family, offset + 1, lines)

    async def commit(self, batch: SourceBatch) -> None:
        """Remember how far each file was processed (files have no offsets to store)."""
        self.committed.update(batch.position)

    async def close(self) -> None:
        """Nothing to release: files are closed as they are finished."""
