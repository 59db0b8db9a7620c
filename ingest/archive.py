"""An archive of parsed events: Parquet files partitioned by family and day, for backtests.

Layout (Hive partitions, so ``polars.scan_parquet(..., hive_partitioning=True)`` prunes by
path)::

    DIR/family=web/day=2026-11-25/part-<run>-<n>.parquet

The pipeline hands each batch's parsed events of one family to :meth:`ParquetArchive.write`
(the :class:`EventArchive` protocol); rows go to the day of their ``@timestamp`` (UTC). A
batch that is processed again after a restart (it was archived but not committed) is
written again; every row keeps its ``event.id``, which is the same both times, so readers
drop the repeats (:func:`scan_archive` does). Day folders older than ``retention_days``
are removed when the archive opens and whenever a write reaches a new day.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Protocol

import polars as pl

__all__ = [
    "DAY_COLUMN",
    "FAMILY_COLUMN",
    "EventArchive",
    "ParquetArchive",
    "archived_families",
    "scan_archive",
]

FAMILY_COLUMN = "family"
DAY_COLUMN = "day"
_STAMP = "@timestamp"


class EventArchive(Protocol):
    """Where the pipeline keeps each batch's parsed events."""

    def write(self, family: str, events: pl.DataFrame) -> None:
        """Keep one family's parsed events of one batch."""


class ParquetArchive:
    """Parsed events as Parquet files under ``root``, one folder per family and day.

    Parameters
    ----------
    root
        The archive folder (created if missing).
    retention_days
        Days kept, today included; older day folders are removed. 0 keeps everything.
    clock
        Gives "now" (UTC): today's date for retention, and the day of rows without a stamp.
    """

    def __init__(
        self,
        root: Path,
        *,
        retention_days: int = 0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.root = root
        self.retention_days = retention_days
        self.clock = clock
        self._run = uuid.uuid4().hex[:12]
        self._written = 0
        self._pruned_on: date | None = None
        root.mkdir(parents=True, exist_ok=True)
        self.prune()

    def write(self, family: str, events: pl.DataFrame) -> None:
        """Append ``events`` of ``family``: one file per day the rows fall on."""
        today = self.clock().date()
        if today != self._pruned_on:
            self.prune()
        if not events.height:
            return
        days = (
            events.get_column(_STAMP).dt.date().fill_null(today)
            if _STAMP in events.columns
            else pl.repeat(today, events.height, eager=True)
        )
        keyed = events.with_columns(days.alias(DAY_COLUMN))
        for (day,), part in keyed.group_by(DAY_COLUMN, maintain_order=True):
            folder = self.root / f"{FAMILY_COLUMN}={family}" / f"{DAY_COLUMN}={day}"
            folder.mkdir(parents=True, exist_ok=True)
            self._written += 1
            name = f"part-{self._run}-{self._written:08d}.parquet"
            tmp = folder / f".{name}.tmp"
            part.drop(DAY_COLUMN).write_parquet(tmp, compression="zstd")
            tmp.replace(folder / name)

    def prune(self) -> list[Path]:
        """Remove day folders older than the retention; return them."""
        today = self.clock().date()
        self._pruned_on = today
        if self.retention_days <= 0:
            return []
        oldest = today - timedelta(days=self.retention_days - 1)
        removed = []
        for folder in sorted(self.root.glob(f"{FAMILY_COLUMN}=*/{DAY_COLUMN}=*")):
            try:
                day = date.fromisoformat(folder.name.split("=", 1)[1])
            except ValueError:
                continue
            if day < oldest:
                shutil.rmtree(folder)
                removed.append(folder)
        return removed


def archived_families(root: Path) -> list[str]:
    """The families the archive holds events of."""
    return sorted(p.name.split("=", 1)[1] for p in root.glob(f"{FAMILY_COLUMN}=*") if p.is_dir())


def scan_archive(
    root: Path,
    family: str,
    *,
    since: date | None = None,
    until: date | None = None,
) -> pl.LazyFrame | None:
    """One family's archived events (with a ``day`` column), lazily; None if there are none.

    Only the folders of the wanted days are read (Hive partition pruning), and only the
    columns a query selects. Repeats of one event (a batch archived twice) are kept; drop
    them with ``unique`` on ``event.id`` where that matters.
    """
    folder = root / f"{FAMILY_COLUMN}={family}"
    if not any(folder.glob(f"{DAY_COLUMN}=*/*.parquet")):
        return None
    frame = pl.scan_parquet(
        folder / "**" / "*.parquet",
        hive_partitioning=True,
        hive_schema={FAMILY_COLUMN: pl.String(), DAY_COLUMN: pl.Date()},
        missing_columns="insert",
    )
    if since is not None:
        frame = frame.filter(pl.col(DAY_COLUMN) >= since)
    if until is not None:
        frame = frame.filter(pl.col(DAY_COLUMN) <= until)
    return frame
