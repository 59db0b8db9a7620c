"""The event archive: Parquet partitioned by family and day, with retention."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl

from ingest.archive import ParquetArchive, archived_families, scan_archive

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


def _events(*days: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "@timestamp": [datetime(2026, 11, d, 8, tzinfo=UTC) for d in days],
            "event.id": [f"id{i}" for i in range(len(days))],
            "url.query": [f"q{d}" for d in days],
        }
    )


def _files(root: Path) -> list[str]:
    return sorted(p.parent.relative_to(root).as_posix() for p in root.rglob("*.parquet"))


def test_rows_go_to_the_folder_of_their_family_and_day(tmp_path: Path) -> None:
    archive = ParquetArchive(tmp_path, clock=lambda: NOW)
    archive.write("web", _events(24, 25, 25))
    archive.write("firewall", _events(26))
    archive.write("web", _events()[:0])
    assert _files(tmp_path) == [
        "family=firewall/day=2026-11-26",
        "family=web/day=2026-11-24",
        "family=web/day=2026-11-25",
    ]
    assert archived_families(tmp_path) == ["firewall", "web"]
    web = scan_archive(tmp_path, "web", since=date(2026, 11, 25))
    assert web is not None
    assert web.select("url.query", "family", "day").collect().rows() == [
        ("q25", "web", date(2026, 11, 25)),
        ("q25", "web", date(2026, 11, 25)),
    ]
    assert scan_archive(tmp_path, "endpoint") is None


def test_rows_without_a_stamp_go_to_today(tmp_path: Path) -> None:
    archive = ParquetArchive(tmp_path, clock=lambda: NOW)
    stampless = pl.lit(None, pl.Datetime("us", "UTC")).alias("@timestamp")
    archive.write("web", _events(24).with_columns(stampless))
    assert _files(tmp_path) == ["family=web/day=2026-11-26"]


def test_retention_removes_older_days(tmp_path: Path) -> None:
    ParquetArchive(tmp_path, clock=lambda: NOW).write("web", _events(20, 24, 25, 26))
    later = ParquetArchive(tmp_path, retention_days=2, clock=lambda: NOW)
    assert _files(tmp_path) == ["family=web/day=2026-11-25", "family=web/day=2026-11-26"]
    assert later.prune() == []


def test_a_new_day_prunes_while_writing(tmp_path: Path) -> None:
    now = [NOW]
    archive = ParquetArchive(tmp_path, retention_days=1, clock=lambda: now[0])
    archive.write("web", _events(26))
    now[0] = datetime(2026, 11, 27, tzinfo=UTC)
    archive.write("web", _events(27))
    assert _files(tmp_path) == ["family=web/day=2026-11-27"]
