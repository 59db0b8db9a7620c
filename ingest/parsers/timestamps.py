"""Timestamp expressions shared by the parsers; every result is UTC, microseconds.

A string that does not parse becomes null; the parsers decide whether that makes the
line a dead letter.
"""

from datetime import UTC, datetime, timedelta

import polars as pl

from ingest.schema import TIMESTAMP

__all__ = [
    "parse_bsd",
    "parse_clf",
    "parse_clf_fixed",
    "parse_epoch_millis",
    "parse_iso8601",
    "representable",
]

_ISO_FORMAT = "%Y-%m-%dT%H:%M:%S%.f%#z"
_HAS_OFFSET = r"(?:Z|z|[+-]\d{2}:?\d{2})$"
_CLF_LOCAL = "%d/%b/%Y:%H:%M:%S"
_EARLIEST = datetime(1, 1, 1, tzinfo=UTC)
_LATEST = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


def representable(instant: pl.Expr) -> pl.Expr:
    """Null for instants outside years 1-9999, which Python, JSON and Elasticsearch reject.

    A forwarder can write year ``0000``, or ``0001-01-01`` with an eastern offset; such
    a line is kept as a dead letter rather than failing the batch downstream.

    Examples
    --------
    >>> s = pl.Series(["0001-01-01T00:30:00+01:00", "2024-01-01T00:00:00Z"])
    >>> pl.select(parse_iso8601(pl.lit(s))).to_series().to_list()  # doctest: +ELLIPSIS
    [None, datetime.datetime(2024, 1, 1, 0, 0, tzinfo=...)]
    """
    return pl.when(instant.is_between(pl.lit(_EARLIEST), pl.lit(_LATEST))).then(instant)


def parse_iso8601(text: pl.Expr) -> pl.Expr:
    """ISO 8601 / RFC 3339 date-times; a space may replace the ``T``; no offset is UTC.

    Examples
    --------
    >>> s = pl.Series(["2003-10-11T22:14:15.003Z", "2019-03-18 16:57:38.123", "-"])
    >>> pl.select(parse_iso8601(pl.lit(s))).to_series().to_list()  # doctest: +ELLIPSIS
    [datetime.datetime(2003, 10, 11, 22, 14, 15, 3000, ...), ..., None]
    """
    with_t = text.str.replace(r"^(\d{4}-\d{2}-\d{2}) ", "${1}T")
    zoned = pl.when(with_t.str.contains(_HAS_OFFSET)).then(with_t).otherwise(with_t + "Z")
    return representable(zoned.str.strptime(TIMESTAMP, _ISO_FORMAT, strict=False))


def parse_bsd(text: pl.Expr, *, year: int) -> pl.Expr:
    """RFC 3164 ``Mmm dd hh:mm:ss`` stamps, which carry no year and no zone: taken as UTC.

    Examples
    --------
    >>> pl.select(parse_bsd(pl.lit("Oct  1 22:14:15"), year=2024)).item()
    datetime.datetime(2024, 10, 1, 22, 14, 15, tzinfo=zoneinfo.ZoneInfo(key='UTC'))
    """
    dated = pl.concat_str(pl.lit(str(year)), text, separator=" ")
    naive = dated.str.strptime(pl.Datetime("us"), "%Y %b %d %H:%M:%S", strict=False)
    return representable(naive.dt.replace_time_zone("UTC"))


def parse_clf(text: pl.Expr) -> pl.Expr:
    """Common Log Format stamps, ``10/Oct/2000:13:55:36 -0700``.

    Examples
    --------
    >>> pl.select(parse_clf(pl.lit("10/Oct/2000:13:55:36 -0700"))).item()
    datetime.datetime(2000, 10, 10, 20, 55, 36, tzinfo=zoneinfo.ZoneInfo(key='UTC'))
    """
    return representable(text.str.strptime(TIMESTAMP, "%d/%b/%Y:%H:%M:%S %z", strict=False))


def parse_clf_fixed(text: pl.Expr) -> pl.Expr:
    """:func:`parse_clf` for stamps in the exact layout nginx and Apache write, else null.

    For ``dd/Mon/yyyy:HH:MM:SS +hhmm`` the local time and the offset are read apart: a
    zone-naive parse of the first 20 characters is several times faster than a parse
    that includes ``%z``. A stamp in any other layout is null here; callers read those
    few with :func:`parse_clf`. Where this gives a value, :func:`parse_clf` gives the same.

    Examples
    --------
    >>> s = pl.Series(["10/Oct/2000:13:55:36 -0700", "31/Feb/2000:13:55:36 -0700"])
    >>> pl.select(parse_clf_fixed(pl.lit(s))).to_series().to_list()  # doctest: +ELLIPSIS
    [datetime.datetime(2000, 10, 10, 20, 55, 36, tzinfo=...), None]
    """
    local = text.str.slice(0, 20).str.strptime(pl.Datetime("us"), _CLF_LOCAL, strict=False)
    signed = text.str.slice(21, 5).cast(pl.Int64, strict=False)
    magnitude = signed.abs()
    minutes = signed.sign() * (magnitude // 100 * 60 + magnitude % 100)
    shaped = (
        (text.str.len_bytes() == 26)
        & (text.str.slice(20, 1) == " ")
        & text.str.slice(21, 1).is_in(["+", "-"])
        & (magnitude < 2400)
        & (magnitude % 100 < 60)
    )
    instant = (local - pl.duration(minutes=minutes)).dt.replace_time_zone("UTC")
    return pl.when(shaped).then(representable(instant))


def parse_epoch_millis(text: pl.Expr) -> pl.Expr:
    """Milliseconds since the Unix epoch, as digits.

    Examples
    --------
    >>> pl.select(parse_epoch_millis(pl.lit("1557513467369"))).item()
    datetime.datetime(2019, 5, 10, 18, 37, 47, 369000, tzinfo=zoneinfo.ZoneInfo(key='UTC'))
    """
    millis = text.cast(pl.Int64, strict=False)
    # Bounded before the conversion to microseconds, which would wrap around silently.
    bounded = pl.when(millis.is_between(_millis(_EARLIEST), _millis(_LATEST))).then(millis)
    instant = pl.from_epoch(bounded, time_unit="ms").cast(pl.Datetime("us"))
    return instant.dt.replace_time_zone("UTC")


def _millis(instant: datetime) -> int:
    return (instant - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
