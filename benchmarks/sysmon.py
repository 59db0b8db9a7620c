"""Sysmon process creations where no two events are alike, as a collector ships them.

:func:`samples.generate_process_frame` draws its events from a pool of 8,192, so
about 3% of its rows are distinct: good for showing what evaluating repeated rows once
saves, poor as a headline. Here every event has its own hashes, logon id, process GUIDs,
process ids, computer, file version, temp paths and GUIDs in its command line, and the
~60 populated fields of an NXLog-style Sysmon record (``Message`` holds the rendered
event text). Images, command lines, users and parents still come from the endpoint
catalogue, attacks included (about 0.1% of rows), so SigmaHQ's rules find real matches.
"""

from __future__ import annotations

import random
from pathlib import Path

import polars as pl

from samples import generate_process_frame

__all__ = ["generate_sysmon_frame", "sysmon_lines", "write_sysmon_ndjson"]

_DESCRIPTIONS = ("Windows Command Processor", "Microsoft Word", "Console Window Host")
_COMPANIES = ("Microsoft Corporation", "Google LLC", "Mozilla Corporation")


def _hex(rng: random.Random, rows: int, width: int) -> pl.Series:
    """``rows`` random upper-case hex strings of ``width`` digits."""
    blob = rng.randbytes(rows * width // 2).hex().upper()
    return pl.Series([blob[i : i + width] for i in range(0, rows * width, width)])


def _guid(hexes: pl.Expr) -> pl.Expr:
    """A ``{8-4-4-4-12}`` GUID from 32 hex digits."""
    return pl.concat_str(
        pl.lit("{"),
        hexes.str.slice(0, 8),
        pl.lit("-"),
        hexes.str.slice(8, 4),
        pl.lit("-"),
        hexes.str.slice(12, 4),
        pl.lit("-"),
        hexes.str.slice(16, 4),
        pl.lit("-"),
        hexes.str.slice(20, 12),
        pl.lit("}"),
    )


def generate_sysmon_frame(rows: int, *, seed: int = 7) -> pl.DataFrame:
    """Sysmon EventID 1 records, every row distinct (deterministic for a seed).

    >>> frame = generate_sysmon_frame(1000, seed=1)
    >>> frame.height == frame.unique().height == frame["CommandLine"].n_unique()
    True
    >>> frame.width >= 60
    True
    """
    rng = random.Random(seed)
    base = generate_process_frame(rows, seed=seed)
    noise = pl.DataFrame(
        {
            "md5": _hex(rng, rows, 32),
            "sha": _hex(rng, rows, 64),
            "imp": _hex(rng, rows, 32),
            "guid": _hex(rng, rows, 32),
            "pguid": _hex(rng, rows, 32),
            "lguid": _hex(rng, rows, 32),
            "tmp": _hex(rng, rows, 32),
            "logon": _hex(rng, rows, 6),
            "n": pl.Series([rng.randrange(1 << 30) for _ in range(rows)], dtype=pl.Int64),
        }
    )
    row = pl.int_range(pl.len(), dtype=pl.Int64)
    user = pl.col("User").str.split("\\").list.last()
    temp = pl.concat_str(
        pl.lit("C:\\Users\\"),
        user,
        pl.lit("\\AppData\\Local\\Temp\\"),
        pl.col("tmp").str.slice(0, 8),
    )
    frame = pl.concat([base, noise], how="horizontal").with_columns(
        # Every command line names its own temp file or GUID.
        pl.when(pl.col("n") % 2 == 0)
        .then(pl.concat_str("CommandLine", pl.lit(" "), temp, pl.lit(".tmp")))
        .otherwise(pl.concat_str("CommandLine", pl.lit(" /id "), _guid(pl.col("tmp"))))
        .alias("CommandLine"),
        pl.concat_str(pl.lit("WS"), (pl.col("n") % 1_000_000).cast(pl.String).str.zfill(6)).alias(
            "Computer"
        ),
        (pl.col("n") % 60_000 + 4).alias("ProcessId"),
        (pl.col("n") // 7 % 60_000 + 4).alias("ParentProcessId"),
        pl.concat_str(
            pl.lit("MD5="), "md5", pl.lit(",SHA256="), "sha", pl.lit(",IMPHASH="), "imp"
        ).alias("Hashes"),
    )
    meta = {
        "EventTime": pl.col("UtcTime").str.slice(0, 19),
        "Hostname": pl.col("Computer"),
        "Keywords": pl.lit("-9223372036854775808"),
        "EventType": pl.lit("INFO"),
        "SeverityValue": pl.lit(2),
        "Severity": pl.lit("INFO"),
        "SourceName": pl.lit("Microsoft-Windows-Sysmon"),
        "ProviderGuid": pl.lit("{5770385F-C22A-43E0-BF4C-06F5698FFBD9}"),
        "Version": pl.lit(5),
        "Task": pl.lit(1),
        "OpcodeValue": pl.lit(0),
        "RecordNumber": row + 1_000_000,
        "SourceProcessID": pl.col("n") % 9000 + 1000,
        "SourceThreadID": pl.col("n") % 7000 + 2000,
        "Domain": pl.lit("NT AUTHORITY"),
        "AccountName": pl.lit("SYSTEM"),
        "UserID": pl.lit("S-1-5-18"),
        "AccountType": pl.lit("User"),
        "Category": pl.lit("Process Create (rule: ProcessCreate)"),
        "Opcode": pl.lit("Info"),
        "RuleName": pl.lit("-"),
        "ProcessGuid": _guid(pl.col("guid")),
        "FileVersion": pl.concat_str(
            pl.lit("10.0."),
            (pl.col("n") % 30_000).cast(pl.String),
            pl.lit("."),
            (pl.col("n") // 30_000 % 5_000).cast(pl.String),
        ),
        "Description": pl.lit(_DESCRIPTIONS[0]),
        "Product": pl.lit("Microsoft® Windows® Operating System"),
        "Company": pl.lit(_COMPANIES[0]),
        "LogonGuid": _guid(pl.col("lguid")),
        "LogonId": pl.concat_str(pl.lit("0x"), pl.col("logon").str.to_lowercase()),
        "TerminalSessionId": pl.col("n") % 4,
        "ParentProcessGuid": _guid(pl.col("pguid")),
        "ParentUser": pl.lit("NT AUTHORITY\\SYSTEM"),
        "EventReceivedTime": pl.col("UtcTime").str.slice(0, 19),
        "SourceModuleName": pl.lit("in_sysmon"),
        "SourceModuleType": pl.lit("im_msvistalog"),
        "Level": pl.lit(4),
        "Execution_ProcessID": pl.col("n") % 5000 + 2000,
        "Execution_ThreadID": pl.col("n") % 9000 + 3000,
        "EventRecordID": row + 5_000_000,
        "Provider_Name": pl.lit("Microsoft-Windows-Sysmon"),
        "Security_UserID": pl.lit("S-1-5-18"),
        "TimeCreated": pl.col("UtcTime"),
        "Task_Name": pl.lit("Process Create (rule: ProcessCreate)"),
        "MD5": pl.col("md5"),
        "SHA256": pl.col("sha"),
        "IMPHASH": pl.col("imp"),
    }
    frame = frame.with_columns(value.alias(name) for name, value in meta.items())
    message = pl.concat_str(
        [
            pl.lit("Process Create:\r\nRuleName: -\r\nUtcTime: "),
            pl.col("UtcTime"),
            pl.lit("\r\nProcessGuid: "),
            pl.col("ProcessGuid"),
            pl.lit("\r\nProcessId: "),
            pl.col("ProcessId").cast(pl.String),
            pl.lit("\r\nImage: "),
            pl.col("Image"),
            pl.lit("\r\nCommandLine: "),
            pl.col("CommandLine"),
            pl.lit("\r\nUser: "),
            pl.col("User"),
            pl.lit("\r\nHashes: "),
            pl.col("Hashes"),
        ]
    )
    return frame.with_columns(message.alias("Message")).drop(noise.columns).rechunk()


def sysmon_lines(frame: pl.DataFrame) -> list[bytes]:
    """The frame's rows as NDJSON lines (what a collector ships to Kafka)."""
    return [line.encode() for line in frame.write_ndjson().splitlines()]


def write_sysmon_ndjson(rows: int, path: Path, *, seed: int = 7, chunk: int = 100_000) -> Path:
    """Write ``rows`` events to ``path`` as NDJSON, a chunk at a time (bounded memory)."""
    with path.open("wb") as out:
        for start in range(0, rows, chunk):
            frame = generate_sysmon_frame(min(chunk, rows - start), seed=seed + start)
            frame.write_ndjson(out)
    return path


def parsed_sysmon_frame(rows: int, *, seed: int = 7, chunk: int = 50_000) -> pl.DataFrame:
    """``rows`` events as ``neakta run`` detects on them: the lines parsed to ECS columns."""
    from ingest.sources.parsing import parse_records

    parts = []
    for start in range(0, rows, chunk):
        lines = sysmon_lines(generate_sysmon_frame(min(chunk, rows - start), seed=seed + start))
        # The raw record columns a Kafka source gives (one partition, offsets from start).
        records = pl.DataFrame({"line": lines}, schema={"line": pl.Binary()}).select(
            pl.lit("endpoint").alias("family"),
            pl.lit("logs.endpoint").alias("source"),
            pl.format("logs.endpoint/0/{}", pl.int_range(start, start + len(lines))).alias(
                "origin"
            ),
            pl.col("line").cast(pl.String),
            pl.lit(None, dtype=pl.String).alias("header_organization"),
            pl.lit(None, dtype=pl.String).alias("source_organization"),
        )
        parts.append(parse_records(records, year=2026).events["endpoint"])
    return pl.concat(parts, how="diagonal_relaxed").rechunk()
