"""A large process-creation frame for benchmarks, drawn from the endpoint sample's catalogue."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Final

import polars as pl

from samples.common import START
from samples.endpoint import attack_event, benign_process, utc_text
from samples.endpoint_attacks import ATTACKS

__all__ = ["PROCESS_FRAME_SCHEMA", "generate_process_frame"]

# fmt: off
PROCESS_FRAME_SCHEMA: Final = pl.Schema({
    "EventID": pl.Int64, "Channel": pl.String, "Computer": pl.String, "UtcTime": pl.String,
    "ProcessId": pl.Int64, "Image": pl.String, "OriginalFileName": pl.String,
    "CommandLine": pl.String, "CurrentDirectory": pl.String, "User": pl.String,
    "IntegrityLevel": pl.String, "Hashes": pl.String, "ParentProcessId": pl.Int64,
    "ParentImage": pl.String, "ParentCommandLine": pl.String,
})
# fmt: on
"""Columns and dtypes of :func:`generate_process_frame` (Sysmon EventID 1)."""

_POOL_SIZE: Final = 8192
_SUSPICIOUS_SHARE: Final = 0.001


def _draw(values: Sequence[int], n: int, seed: int) -> pl.Series:
    return pl.Series(values=list(values), dtype=pl.Int64).sample(
        n, with_replacement=True, seed=seed
    )


def generate_process_frame(rows: int, *, seed: int = 7) -> pl.DataFrame:
    """Build a process-creation frame for benchmarks, vectorised over rows.

    A fixed pool of benign events is rendered once, then rows are drawn from it with Polars;
    about 0.1% of rows, at random positions, are the seeded attack process creations.
    ``UtcTime`` rises row by row.

    Parameters
    ----------
    rows
        Number of rows, 0 or more.
    seed
        Seed of every draw; the same seed gives the same frame.

    Returns
    -------
    pl.DataFrame
        A frame with :data:`PROCESS_FRAME_SCHEMA`.

    Examples
    --------
    >>> frame = generate_process_frame(4, seed=1)
    >>> frame.shape, frame["EventID"].to_list()
    ((4, 15), [1, 1, 1, 1])
    >>> frame.schema == PROCESS_FRAME_SCHEMA
    True
    """
    if rows < 0:
        raise ValueError(f"rows must be 0 or more, got {rows}")
    rng = random.Random(seed)
    utc = utc_text(START)
    benign = [benign_process(rng, utc) for _ in range(_POOL_SIZE)]
    attacks = [attack_event(i, utc) for i, spec in enumerate(ATTACKS) if spec[1] == 1]
    pool = pl.from_dicts(benign + attacks, schema=PROCESS_FRAME_SCHEMA)
    # One gather from a single-chunk pool: concatenating and shuffling frames is far slower.
    picks = _draw(range(_POOL_SIZE), rows, seed)
    suspicious = round(rows * _SUSPICIOUS_SHARE)
    positions = pl.int_range(0, rows, eager=True).sample(suspicious, seed=seed + 1)
    picks.scatter(positions, _draw(range(_POOL_SIZE, pool.height), suspicious, seed + 1))
    frame = pool.select(pl.all().gather(picks))
    start_ms = int(START.timestamp() * 1000)
    elapsed_ms = _draw(range(5, 400), rows, seed + 2).cum_sum()
    return frame.with_columns(
        pl.from_epoch(pl.lit(start_ms + elapsed_ms), time_unit="ms")
        .dt.to_string("%Y-%m-%d %H:%M:%S%.3f")
        .alias("UtcTime"),
        pl.lit(_draw(range(1000, 40000, 4), rows, seed + 3)).alias("ProcessId"),
    )
