"""Alerts as NDJSON: one JSON document per alert, appended to a file or written to stdout.

Each line is the alert's nested ECS document with its ``_id`` first. The file is the
acknowledgement: :meth:`NdjsonAlertWriter.write` returns after the lines are flushed to the
operating system, so a process killed afterwards loses nothing that was committed. When
the file already exists its ids are read first, so a replay after a restart reports the
alerts it already holds as duplicates instead of writing them again.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TextIO

import orjson

from respond.documents import iter_documents
from respond.sinks import Delivery, SinkBatch

__all__ = ["NdjsonAlertWriter", "read_alert_ids"]


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
        if self._file is not None and self._file is not self._stdout:
            self._file.close()
        self._file = None
