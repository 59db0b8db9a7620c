"""Alerts and incidents appended to a file in Elasticsearch's bulk format.

Each document is two lines, an action and the nested document, so the file loads as is::

    curl -H 'Content-Type: application/x-ndjson' -XPOST 'https://es:9200/_bulk' \\
         --data-binary @alerts.ndjson

    {"create":{"_index":"logs-neakta.alerts-default","_id":"3bc2a2af..."}}
    {"@timestamp":"2026-01-01T10:00:00+00:00","event":{"kind":"alert",...},...}
    {"index":{"_index":"neakta-incidents","_id":"inc-42ccf909..."}}
    {"incident":{"id":"inc-42ccf909...","state":"open","alert_count":2,...},...}

Alerts use ``create`` (a data stream takes only ``create``; a second ``create`` of the same
``_id`` is refused with 409, so loading the file twice duplicates nothing). Incidents use
``index``: each change of an incident is a new pair and the last one wins.

A replay never writes an alert twice, and an incident is written again only when its
document changed: the sink keeps the file's alert ids and a digest of each incident's last
document on disk beside it (``alerts.ndjson.ids``, :mod:`respond.alert_ids`), so its
memory does not grow with the file, and when it opens it reads only the pairs appended
since the index last covered the file (in pieces, never the whole file at once). A pair
cut short by a crash is cut off when the file is opened again.

:class:`NdjsonAlertWriter` writes alerts alone, one nested ECS document per line with its
``_id`` first (to a file or to stdout). Its file is the acknowledgement: ``write`` returns
after the lines are flushed to the operating system. The file's ids are kept on disk
beside it (``alerts.ndjson.ids``, :mod:`respond.alert_ids`), so a replay reports the
alerts the file already holds as duplicates, a writer's memory does not grow with the file,
and a writer started again reads only the lines appended since. Several processes may
append to one file or one standard output (``neakta run --processes``): a batch's lines go
in under a POSIX lock on it, so no two batches interleave, and after a line a crashed
process cut short the next batch starts on a line of its own. Under that lock a writer
first takes in the ids of the lines appended since the index last covered the file, so an
alert another process already wrote is not written again (on standard output, which
cannot be read back, only the latest :data:`STDOUT_IDS` ids this process wrote are known,
in memory, so that memory stays flat over a long run).
"""

from __future__ import annotations

import asyncio
import fcntl
import io
import os
import sqlite3
import stat
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from hashlib import blake2b
from pathlib import Path
from typing import Any, Final, TextIO

import orjson
import polars as pl

from respond.alert_ids import AlertIdIndex, alert_ids_path, line_ids
from respond.documents import documents
from respond.encoded import encoded_rows
from respond.errors import SinkUnavailableError
from respond.json_bytes import kept_dumps
from respond.sinks import DEAD_DOCUMENT_SCHEMA, Delivery, SinkBatch

__all__ = [
    "DEFAULT_ALERT_INDEX",
    "DEFAULT_INCIDENT_INDEX",
    "STDOUT_IDS",
    "NdjsonAlertWriter",
    "NdjsonSink",
    "read_alert_ids",
]

DEFAULT_ALERT_INDEX: Final = "logs-neakta.alerts-default"
DEFAULT_INCIDENT_INDEX: Final = "neakta-incidents"


def _digest(document: bytes) -> bytes:
    """A digest of a document: what the bulk export remembers of each incident."""
    return blake2b(document, digest_size=16).digest()


def _dumps(value: Any) -> bytes:
    # Kept: a batch's pieces are joined once all are made (see respond.json_bytes).
    return kept_dumps(value, option=orjson.OPT_NAIVE_UTC)


@dataclass
class _Pairs:
    """What one batch appends (``chunks``) and what it adds to the sink's index."""

    chunks: list[bytes] = field(default_factory=list)
    dead: list[tuple[str, str, str, str]] = field(default_factory=list)
    fresh: set[str] = field(default_factory=set)
    changed: dict[str, bytes] = field(default_factory=dict)
    total: int = 0


def _encoded(
    frame: pl.DataFrame, *, strict: bool = False
) -> Iterator[tuple[str, bytes | tuple[str, str]]]:
    """Each row's ``_id`` and its document as ``_dumps`` writes it.

    A document orjson refuses gives why and the start of its ``repr`` instead; with
    ``strict``, orjson's error is raised.
    """
    texts = encoded_rows(frame, naive_utc=True)
    if texts is not None:
        ids = frame.get_column("_id").to_list()
        yield from zip(ids, (text.encode() for text in texts.to_list()), strict=True)
        return
    for identifier, document in documents(frame):
        try:
            yield identifier, _dumps(document)
        except orjson.JSONEncodeError as error:
            if strict:
                raise
            yield identifier, (f"not JSON: {error}", repr(document)[:2000])


class NdjsonSink:
    """An :class:`respond.sinks.AlertSink` appending bulk-format pairs to one file.

    Parameters
    ----------
    path
        The file (created with its folder; an existing file is appended to).
    alert_index, incident_index
        The ``_index`` of the action lines.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "alerts.ndjson"
    >>> sink = NdjsonSink(path)
    >>> frame = pl.DataFrame({"_id": ["a1", "a1"], "event.kind": ["alert", "alert"]})
    >>> asyncio.run(sink.write(SinkBatch(alerts=frame))).written
    1
    >>> asyncio.run(sink.close())
    >>> print(path.read_text(), end="")
    {"create":{"_index":"logs-neakta.alerts-default","_id":"a1"}}
    {"event":{"kind":"alert"}}
    """

    def __init__(
        self,
        path: Path,
        *,
        alert_index: str = DEFAULT_ALERT_INDEX,
        incident_index: str = DEFAULT_INCIDENT_INDEX,
    ) -> None:
        self.path = path
        self.alert_index = alert_index
        self.incident_index = incident_index
        path.parent.mkdir(parents=True, exist_ok=True)
        # Read too: the index's catch-up reads the file through this handle.
        self._file = path.open("a+b")
        # The file's alert ids and each incident's last document's digest.
        self._index = AlertIdIndex(alert_ids_path(path))
        try:
            self._catch_up()
        except BaseException:
            self._index.close()
            self._file.close()
            raise

    def _catch_up(self) -> None:
        """Take in the pairs the index does not cover yet; mend a pair a crash cut short.

        When the sink opens, and before each batch: pairs appended whose ids the index
        could not take in (it failed after the write) are known before a batch is
        delivered again.
        """
        descriptor = self._file.fileno()  # the file appended to, read through its handle
        start = self._index.resume(descriptor)
        if start is None:
            return
        size = os.fstat(descriptor).st_size
        ids, digests = self._read_pairs(_file_lines(descriptor, start, size), start, size)
        self._index.add(ids, descriptor, digests=digests, anew=start == 0)

    def _read_pairs(
        self, lines: Iterator[bytes], start: int, size: int
    ) -> tuple[list[str], dict[str, bytes]]:
        """The alert ids and incident digests of the pairs from byte ``start`` on.

        The file is cut after the last whole pair, or given the newline its last pair
        lacks.
        """
        ids: list[str] = []
        digests: dict[str, bytes] = {}
        good = start
        for action_line, document in zip(lines, lines, strict=False):
            try:
                action = orjson.loads(action_line)
                orjson.loads(document)
                (kind, meta), *_ = action.items()
                identifier = str(meta["_id"])
            except (orjson.JSONDecodeError, ValueError, KeyError, TypeError, AttributeError):
                break
            if kind == "create":
                ids.append(identifier)
            else:
                digests[identifier] = _digest(document)
            good += len(action_line) + len(document) + 2
        if good > size:  # the last pair lacks only its final newline
            self._file.write(b"\n")
            self._file.flush()
        elif good < size:
            self._file.truncate(good)
        return ids, digests

    async def write(self, batch: SinkBatch) -> Delivery:
        """Append the alerts not yet in the file and the incidents that changed."""
        # The pairs are built off the event loop (mostly in Polars' engine).
        try:
            pairs = await asyncio.to_thread(self._pairs, batch)
            if pairs.chunks:
                await asyncio.to_thread(self._append, b"".join(pairs.chunks), pairs)
        except (OSError, sqlite3.Error) as error:
            raise SinkUnavailableError(f"cannot append to {self.path}: {error}") from error
        dead_frame = pl.DataFrame(pairs.dead, schema=DEAD_DOCUMENT_SCHEMA, orient="row")
        written = len(pairs.fresh)
        return Delivery(
            written=written, duplicates=pairs.total - written - len(pairs.dead), dead=dead_frame
        )

    def _pairs(self, batch: SinkBatch) -> _Pairs:
        """The pairs to append for the alerts not yet in the file and the changed incidents."""
        pairs = _Pairs()
        self._catch_up()
        if batch.alerts.height:
            held = self._index.known(batch.alerts.get_column("_id").cast(pl.String).to_list())
            for identifier, text in _encoded(batch.alerts):
                pairs.total += 1
                if identifier in held or identifier in pairs.fresh:
                    continue
                if not isinstance(text, bytes):
                    pairs.dead.append((identifier, self.alert_index, *text))
                    continue
                pairs.fresh.add(identifier)
                action = {"create": {"_index": self.alert_index, "_id": identifier}}
                pairs.chunks += [_dumps(action), b"\n", text, b"\n"]
        if batch.incidents.height and "incident.id" in batch.incidents.columns:
            ids = batch.incidents.get_column("_id").cast(pl.String).unique().to_list()
            written = self._index.digests(ids)
            for identifier, text in _encoded(batch.incidents, strict=True):
                if not isinstance(text, bytes):  # strict: orjson's error was raised
                    continue
                digest = _digest(text)
                if pairs.changed.get(identifier, written.get(identifier)) == digest:
                    continue
                pairs.changed[identifier] = digest
                action = {"index": {"_index": self.incident_index, "_id": identifier}}
                pairs.chunks += [_dumps(action), b"\n", text, b"\n"]
        return pairs

    def _append(self, data: bytes, pairs: _Pairs) -> None:
        """Append the pairs, on disk before the index says the file holds them."""
        end = os.fstat(self._file.fileno()).st_size
        try:
            self._file.write(data)
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError:
            self._file.truncate(end)  # no half pair in front of the next batch
            raise
        self._index.add(pairs.fresh, self._file.fileno(), digests=pairs.changed)

    async def close(self) -> None:
        """Close the file and its index."""
        self._file.close()
        self._index.close()


def _alert_lines(alerts: pl.DataFrame, seen: set[str]) -> tuple[str | pl.DataFrame, int, int]:
    """The lines of the alerts not in ``seen`` (added to it), how many, and the others.

    A line is ``{"_id": ..., **document}`` as orjson writes it, one per alert: as text
    (each line ends with a newline), or a one-column frame of the lines (see :func:`_put`).
    """
    texts = encoded_rows(alerts, naive_utc=False) if alerts.height else None
    if texts is None:
        lines = []
        duplicates = 0
        for identifier, document in documents(alerts):
            if identifier in seen:
                duplicates += 1
                continue
            seen.add(identifier)
            lines.append(orjson.dumps({"_id": identifier, **document}, default=str).decode())
        return "".join(line + "\n" for line in lines), len(lines), duplicates
    keep: list[bool] = []
    for identifier in alerts.get_column("_id").to_list():
        keep.append(identifier not in seen)
        seen.add(identifier)
    written = sum(keep)
    if not written:
        return "", 0, len(keep)
    body = pl.col("document")
    # '{"_id":"..."' then the document's members, or its end when it has none.
    head = pl.struct(pl.col("_id")).struct.json_encode().str.head(-1)
    members = pl.concat_str(pl.lit(","), body.str.slice(1))
    line = pl.concat_str(head, pl.when(body == "{}").then(pl.lit("}")).otherwise(members))
    frame = pl.DataFrame({"_id": alerts.get_column("_id"), "document": texts, "keep": keep})
    return frame.filter("keep").select(line), written, len(keep) - written


def _put(handle: TextIO, lines: str | pl.DataFrame) -> None:
    """Write text, or a frame's lines each ended by a newline, to ``handle``.

    A frame goes as UTF-8 bytes straight to the handle's binary buffer where that writes
    the same bytes as the text would (UTF-8, no newline translation); JSON lines hold no
    newline and need no quoting, so CSV without quotes writes them as they are.
    """
    if isinstance(lines, str):
        handle.write(lines)
        return
    buffer = getattr(handle, "buffer", None)
    encoding = str(getattr(handle, "encoding", "")).lower().replace("-", "")
    if buffer is None or encoding != "utf8" or os.linesep != "\n":
        handle.write(lines.write_csv(include_header=False, quote_style="never"))
        return
    handle.flush()
    lines.write_csv(buffer, include_header=False, quote_style="never")


@contextmanager
def _appending(handle: TextIO) -> Iterator[None]:
    """Hold a POSIX lock on ``handle``'s file (or pipe) while a batch's lines go in.

    Other processes appending to the same file, or writing to the same standard output,
    wait for the lock (a ``flock`` lock would not do: processes started with one standard
    output share it). Where the file's last line lacks its newline (a writer killed
    mid-line), one is written first. A handle with no descriptor, or whose file takes no
    lock, is written to as it is.
    """
    try:
        descriptor = handle.fileno()
    except (OSError, ValueError, io.UnsupportedOperation):
        yield
        return
    handle.flush()
    try:
        fcntl.lockf(descriptor, fcntl.LOCK_EX)
    except OSError:
        yield
        return
    try:
        if _ends_mid_line(descriptor):
            handle.write("\n")
        yield
    finally:
        handle.flush()
        fcntl.lockf(descriptor, fcntl.LOCK_UN)


def _ends_mid_line(descriptor: int) -> bool:
    """Whether the regular file open at ``descriptor`` ends without a newline.

    Only a file open for reading too can tell (standard output sent to a file cannot).
    """
    info = os.fstat(descriptor)
    if not stat.S_ISREG(info.st_mode) or info.st_size == 0:
        return False
    try:
        return os.pread(descriptor, 1, info.st_size - 1) != b"\n"
    except OSError:
        return False


def read_alert_ids(path: Path) -> set[str]:
    """The ``_id`` of every complete alert line of an NDJSON alert file (none if absent)."""
    if not path.exists():
        return set()
    with path.open("rb") as file:
        return set(line_ids(_file_lines(file.fileno(), 0, os.fstat(file.fileno()).st_size)))


# An alert file is read in pieces of at most this many bytes.
_READ_BYTES: Final = 64 << 20


def _file_lines(descriptor: int, start: int, end: int) -> Iterator[bytes]:
    """The lines between bytes ``start`` and ``end`` of a file, without their newlines.

    Read in pieces of at most :data:`_READ_BYTES`, so a large file is never in memory
    whole. As ``bytes.split`` gives them: the last one is what follows the last newline
    (empty where the range ends with one).
    """
    rest = b""
    while start < end:
        chunk = os.pread(descriptor, min(_READ_BYTES, end - start), start)
        if not chunk:
            break
        start += len(chunk)
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        yield from lines
    yield rest


STDOUT_IDS: Final = 200_000
"""Alert ids a writer to standard output remembers, the latest ones (about 25 MB)."""


class _RecentIds:
    """The latest ``size`` alert ids written, for output that cannot be read back.

    >>> recent = _RecentIds(2)
    >>> recent.add(["a", "b", "c"])
    >>> sorted(recent.known(["a", "b", "c"]))
    ['b', 'c']
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._ids: set[str] = set()
        self._order: deque[str] = deque()

    def known(self, ids: list[str]) -> set[str]:
        """Those of ``ids`` among the latest written."""
        return {i for i in ids if i in self._ids}

    def add(self, ids: Iterable[str]) -> None:
        """Remember ``ids``, just written; forget the oldest beyond ``size``."""
        for identifier in ids:
            if identifier not in self._ids:
                self._ids.add(identifier)
                self._order.append(identifier)
        while len(self._order) > self.size:
            self._ids.discard(self._order.popleft())


class NdjsonAlertWriter:
    """An :class:`respond.sinks.AlertSink` appending alerts to NDJSON (``-``: stdout).

    Parameters
    ----------
    target
        A file path, or ``"-"`` for standard output.
    fsync
        Also ask the OS to put the lines on disk before acknowledging.
    stdout
        Standard output (default :data:`sys.stdout`).
    remember
        On standard output, how many of the latest ids written are kept to leave out an
        alert written again (a file's ids are all kept, on disk beside it).
    """

    def __init__(
        self,
        target: str | Path,
        *,
        fsync: bool = False,
        stdout: TextIO | None = None,
        remember: int = STDOUT_IDS,
    ):
        self.target = target
        self.fsync = fsync
        self._stdout = stdout or sys.stdout
        self._file: TextIO | None = None
        self._index: AlertIdIndex | None = None  # the file's ids (None for stdout)
        self._recent = _RecentIds(remember)  # on stdout, which cannot be read back

    def _open(self) -> TextIO:
        if self._file is None:
            if str(self.target) == "-":
                self._file = self._stdout
            else:
                path = Path(self.target)
                path.parent.mkdir(parents=True, exist_ok=True)
                # Opened for reading too: before each batch, under the lock, the ids of the
                # lines appended since (by this process or others sharing the file) are
                # read, and a line cut short by a crash is ended first (_appending).
                self._file = path.open("a+", encoding="utf-8")
                self._index = AlertIdIndex(alert_ids_path(path))
        return self._file

    async def write(self, batch: SinkBatch) -> Delivery:
        """Append the batch's new alerts; report those already in the file as duplicates."""
        # Off the event loop: the file's ids are read, and the lines are built and written
        # here (mostly in Polars' engine, see :mod:`respond.encoded`).
        return await asyncio.to_thread(self._write, batch.alerts)

    def _write(self, alerts: pl.DataFrame) -> Delivery:
        if not alerts.height:
            return Delivery(written=0, duplicates=0)
        handle = self._open()
        # Built before the lock is taken (kept for the frame): other writers wait less.
        encoded_rows(alerts, naive_utc=False)
        index = self._index if handle is not self._stdout else None
        ids = alerts.get_column("_id").to_list()
        with _appending(handle):
            if index is not None:
                # The lock is held: no line is being written, and one without its newline
                # was cut short by a crash (no JSON: its alert is written again).
                index.catch_up(handle.fileno(), _file_lines)
                held = index.known(ids)
            else:
                held = self._recent.known(ids)
            seen = set(held)
            lines, written, duplicates = _alert_lines(alerts, seen)
            if written:
                _put(handle, lines)
                handle.flush()
                if self.fsync and index is not None:
                    # On disk before the index says the file holds them.
                    os.fsync(handle.fileno())
                if index is not None:
                    index.add(seen - held, handle.fileno())
                else:
                    self._recent.add(i for i in ids if i not in held)  # in their order
        return Delivery(written=written, duplicates=duplicates)

    async def close(self) -> None:
        """Close the file (standard output stays open)."""
        if self._file is not None and self._file is not self._stdout:
            self._file.close()
        if self._index is not None:
            self._index.close()
        self._file = None
        self._index = None
