"""IIS ``#Fields:`` directives carried from one batch into the next.

IIS writes its ``#Fields:`` directive once, at the top of each log file; a web batch that
starts after it would not know how to read its IIS lines. A source keeps the last
directive of each file (:class:`ingest.sources.FileSource`) or partition
(:class:`ingest.sources.kafka.KafkaSource`) and puts it in front of that stream's next
batch with :func:`carry_directive`; the web parser reads it as a directive, neither an
event nor a dead letter.
"""

from __future__ import annotations

from typing import Final

import polars as pl

__all__ = ["IIS_FIELDS", "carry_directive"]

IIS_FIELDS: Final = b"#Fields:"
"""How an IIS ``#Fields:`` directive record starts."""


def carry_directive(
    frame: pl.DataFrame, carried: pl.DataFrame | None
) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """One web partition's records with the ``#Fields:`` directive carried in front.

    Parameters
    ----------
    frame
        :func:`records_frame` rows of one partition.
    carried
        The partition's last directive row from earlier batches, or None.

    Returns
    -------
    tuple
        The rows (the carried directive first unless they start with their own), and the
        directive to carry into the next batch.

    Examples
    --------
    >>> rows = lambda *raw: pl.DataFrame({"origin": [f"t/0/{n}" for n in range(len(raw))],
    ...                                   "raw": list(raw)})
    >>> first, carried = carry_directive(rows(b"#Fields: date time", b"2024-01-01 00:00:00"), None)
    >>> later, carried = carry_directive(rows(b"2024-01-01 00:00:01"), carried)
    >>> later["raw"].to_list()
    [b'#Fields: date time', b'2024-01-01 00:00:01']
    """
    directives = frame.filter(pl.col("raw").bin.starts_with(IIS_FIELDS))
    latest = directives.tail(1) if directives.height else carried
    if carried is None or (frame.height and frame["raw"][0].startswith(IIS_FIELDS)):
        return frame, latest
    return pl.concat([carried, frame]), latest
