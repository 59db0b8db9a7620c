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

A replay never writes an alert twice: the sink reads the ids already in the file when it
opens and keeps them in memory (about 100 bytes per alert). An incident is written again
only when its document changed. A pair cut short by a crash is cut off when the file is
opened again.

:class:`NdjsonAlertWriter` writes alerts alone, one nested ECS document per line with its
``_id`` first (to a file or to stdout). Its file is the acknowledgement: ``write`` returns
after the lines are flushed to the operating system; when the file already exists its ids
are read first, so a replay reports the alerts it already holds as duplicates.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any, Final, TextIO

import orjson
import polars as pl

from respond.documents import iter_documents
from respond.errors import SinkUnavailableError
from respond.sinks import DEAD_DOCUMENT_SCHEMA, Delivery, SinkBatch

__all__ = [
    "DEFAULT_ALERT_INDEX",
    "DEFAULT_INCIDENT_INDEX",
    "NdjsonAlertWriter",
    "NdjsonSink",
    "read_alert_ids",
]

DEFAULT_ALERT_INDEX: Final = "logs-neakta.alerts-default"
DEFAULT_INCIDENT_INDEX: Final = "neakta-incidents"


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_NAIVE_UTC)


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
        self.alert_ids: set[str] = set()
        self._incidents: dict[str, bytes] = {}
        path.parent.mkdir(parents=True, exist_ok=True)
        self._load()
        self._file = path.open("ab")

    def _load(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        lines = data.split(b"\n")
        good = 0
        for action_line, document in zip(lines[0::2], lines[1::2], strict=False):
            try:
                action = orjson.loads(action_line)
                orjson.loads(document)
                (kind, meta), *_ = action.items()
                identifier = str(meta["_id"])
            except (orjson.JSONDecodeError, ValueError, KeyError, TypeError, AttributeError):
                break
            if kind == "create":
                self.alert_ids.add(identifier)
            else:
                self._incidents[identifier] = document
            good += len(action_line) + len(document) + 2
        if good > len(data):  # the last pair lacks only its final newline
            with self.path.open("ab") as file:
                file.write(b"\n")
        elif good < len(data):
            with self.path.open("r+b") as file:
                file.truncate(good)

    async def write(self, batch: SinkBatch) -> Delivery:
        """Append the alerts not yet in the file and the incidents that changed."""
        chunks: list[bytes] = []
        dead: list[tuple[str, str, str, str]] = []
        fresh: set[str] = set()
        total = 0
        if batch.alerts.height:
            for identifier, document in iter_documents(batch.alerts):
                total += 1
                if identifier in self.alert_ids or identifier in fresh:
                    continue
                try:
                    text = _dumps(document)
                except orjson.JSONEncodeError as error:
                    reason = f"not JSON: {error}"
                    dead.append((identifier, self.alert_index, reason, repr(document)[:2000]))
                    continue
                fresh.add(identifier)
                action = {"create": {"_index": self.alert_index, "_id": identifier}}
                chunks += [_dumps(action), b"\n", text, b"\n"]
        changed: dict[str, bytes] = {}
        if batch.incidents.height and "incident.id" in batch.incidents.columns:
            for identifier, document in iter_documents(batch.incidents):
                text = _dumps(document)
                if self._incidents.get(identifier) == text:
                    continue
                changed[identifier] = text
                action = {"index": {"_index": self.incident_index, "_id": identifier}}
                chunks += [_dumps(action), b"\n", text, b"\n"]
        if chunks:
            try:
                await asyncio.to_thread(self._append, b"".join(chunks))
            except OSError as error:
                raise SinkUnavailableError(f"cannot append to {self.path}: {error}") from error
        self.alert_ids |= fresh
        self._incidents.update(changed)
        dead_frame = pl.DataFrame(dead, schema=DEAD_DOCUMENT_SCHEMA, orient="row")
        written = len(fresh)
        return Delivery(written=written, duplicates=total - written - len(dead), dead=dead_frame)

    def _append(self, data: bytes) -> None:
        end = self._file.tell()
        try:
            self._file.write(data)
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError:
            self._file.truncate(end)  # no half pair in front of the next batch
            raise

    async def close(self) -> None:
        """Close the file."""
        self._file.close()


def read_alert_ids(path: Path) -> set[str]:
    """The ``_id`` of every complete alert line of an NDJSON alert file (none if absent)."""
    if not path.exists():
        return set()
    ids: set[str] = set()
    for line in path.read_bytes().splitlines():
        try:
            document = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue  # a line cut short by a crash: its alert is written again
        if isinstance(document, dict) and isinstance(document.get("_id"), str):
            ids.add(document["_id"])
    return ids


def _cut_short(path: Path) -> bool:
    """Whether the file's last line lacks its newline."""
    if not path.exists() or path.stat().st_size == 0:
        return False
    with path.open("rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) != b"\n"


class NdjsonAlertWriter:
    """An :class:`respond.sinks.AlertSink` appending alerts to NDJSON (``-``: stdout).

    Parameters
    ----------
    target
        A file path, or ``"-"`` for standard output.
    fsync
        Also ask the OS to put the lines on disk before acknowledging.
    """

    def __init__(self, target: str | Path, *, fsync: bool = False, stdout: TextIO | None = None):
        self.target = target
        self.fsync = fsync
        self._stdout = stdout or sys.stdout
        self._file: TextIO | None = None
        self._seen: set[str] | None = None

    def _open(self) -> TextIO:
        if self._file is None:
            if str(self.target) == "-":
                self._file = self._stdout
                self._seen = set()
            else:
                path = Path(self.target)
                path.parent.mkdir(parents=True, exist_ok=True)
                self._seen = read_alert_ids(path)
                cut_short = _cut_short(path)
                self._file = path.open("a", encoding="utf-8")
                if cut_short:
                    # Keep a line cut short by a crash on its own line.
                    self._file.write("\n")
        return self._file

    async def write(self, batch: SinkBatch) -> Delivery:
        """Append the batch's new alerts; report those already in the file as duplicates."""
        handle = self._open()
        seen = self._seen if self._seen is not None else set()
        lines = []
        duplicates = 0
        for identifier, document in iter_documents(batch.alerts):
            if identifier in seen:
                duplicates += 1
                continue
            seen.add(identifier)
            lines.append(orjson.dumps({"_id": identifier, **document}, default=str).decode())
        if lines:
            handle.write("\n".join(lines) + "\n")
            handle.flush()
            if self.fsync and handle is not self._stdout:
                os.fsync(handle.fileno())
        return Delivery(written=len(lines), duplicates=duplicates)

    async def close(self) -> None:
        """Close the file (standard output stays open)."""
        if self._file is not None and self._file is not self._stdout:
            self._file.close()
        self._file = None
