"""nginx/Apache access lines in common or combined log format.

``$remote_addr - $remote_user [$time_local] "$request" $status $bytes "$referer" "$ua"``

Two readings give the same columns. The fast one cuts the line at its double quotes and
spaces (``str.split_exact``), which needs no regex capture groups; it is used for every
line whose pieces check out. The remaining lines (an escaped ``\\"`` inside a field, a
space inside the request target, a request that is not ``METHOD target HTTP/x``) are
read with one regex with named groups.
"""

import polars as pl

from ingest.parsers.result import MESSAGE, REASON
from ingest.parsers.timestamps import parse_clf, parse_clf_fixed

__all__ = ["DETECT", "PIECES", "clf_events", "match_clf"]

DETECT = (
    r"^(?<client>\S+) \S+ (?<user>\S+) \[(?<time>[^\]]+)\] "
    r'"(?<request>(?:[^"\\]|\\.)*)" (?<status>\d{3}) (?<bytes>\d+|-)'
    r'(?: "(?<referrer>(?:[^"\\]|\\.)*)" "(?<agent>(?:[^"\\]|\\.)*)")?'
)
"""The full regex reading, also what makes a line common/combined format."""

_REQUEST = r"^(?<method>[A-Za-z]+) (?<target>.+?)(?: HTTP/(?<version>\d+(?:\.\d+)?))?$"
_PIECES = ("client", "user", "time", "method", "target", "version", "status", "bytes")
_TEXT = ("referrer", "agent")
PIECES = (*_PIECES, *_TEXT, "_clf")
"""Columns :func:`match_clf` adds to a working frame."""


def _field(struct: str, index: int) -> pl.Expr:
    return pl.col(struct).struct.field(f"field_{index}")


def _split_reading(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Cut lines at quotes and spaces; ``_ok`` says whether the cut line is well formed.

    Lazily: the optimizer drops the pieces no column needs and runs the cuts in parallel.
    """
    message = pl.col(MESSAGE)
    quoted = frame.select(
        message.str.split_exact('"', 6).alias("q"),
        message.str.contains('\\"', literal=True).alias("escaped"),
    )
    combined = _field("q", 4) == " "
    common = _field("q", 3).is_null() & _field("q", 2).is_not_null()
    cut = quoted.select(
        _field("q", 0).str.split_exact(" ", 4).alias("h"),
        _field("q", 1).str.split_exact(" ", 2).alias("r"),
        _field("q", 2).str.split_exact(" ", 3).alias("s"),
        _field("q", 3).alias("referrer"),
        _field("q", 5).alias("agent"),
        (~pl.col("escaped") & (combined | common)).alias("shape_ok"),
    )
    stamp = pl.concat_str(_field("h", 3), _field("h", 4), separator=" ")
    pieces = cut.select(
        _field("h", 0).alias("client"),
        _field("h", 2).alias("user"),
        stamp.alias("time"),
        _field("r", 0).alias("method"),
        _field("r", 1).alias("target"),
        _field("r", 2).alias("version"),
        _field("s", 1).alias("status"),
        _field("s", 2).alias("bytes"),
        "referrer",
        "agent",
        "shape_ok",
        (_field("s", 0) == "").alias("status_ok"),
        (_field("s", 3).is_null() | (_field("s", 3) == "")).alias("tail_ok"),
    )
    version = pl.col("version")
    checks = (
        pl.col("shape_ok")
        & pl.col("status_ok")
        & pl.col("tail_ok")
        & pl.col("time").str.starts_with("[")
        & pl.col("time").str.ends_with("]")
        & (pl.col("status").str.len_bytes() == 3)
        & pl.col("status").cast(pl.Int32, strict=False).is_not_null()
        & ((pl.col("bytes") == "-") | pl.col("bytes").cast(pl.Int64, strict=False).is_not_null())
        & pl.col("target").is_not_null()
        & (version.is_null() | version.str.starts_with("HTTP/"))
    )
    return pieces.select(
        *(name for name in _PIECES if name not in ("time", "version")),
        *_TEXT,
        pl.col("time").str.slice(1).str.strip_suffix("]"),
        version.str.strip_prefix("HTTP/"),
        checks.fill_null(False).alias("_ok"),
    ).select(*_PIECES, *_TEXT, "_ok")


def _regex_reading(frame: pl.DataFrame) -> pl.DataFrame:
    """Read lines with the full regex; pieces are null where it does not match."""
    matched = frame.select(pl.col(MESSAGE).str.extract_groups(DETECT).alias("m")).unnest("m")
    request = matched.select(pl.col("request").str.extract_groups(_REQUEST).alias("r"))
    return pl.concat([matched.drop("request"), request.unnest("r")], how="horizontal").select(
        *_PIECES, *_TEXT
    )


def match_clf(frame: pl.DataFrame) -> pl.DataFrame:
    """Add the pieces of each line's common/combined reading to a working frame.

    ``_clf`` is true where the line is in common or combined log format; the pieces
    (``client``, ``user``, ``time``, ``method``, ``target``, ``version``, ``status``,
    ``bytes``, ``referrer``, ``agent``) are raw strings, ``-`` included.
    """
    split = _split_reading(frame.lazy()).collect().with_row_index("_i")
    ok = split.get_column("_ok")
    pieces = split.drop("_ok")
    if not ok.all():
        retry = _regex_reading(frame.filter(~ok)).with_columns(split.get_column("_i").filter(~ok))
        pieces = pl.concat(
            [pieces.filter(ok), retry.select(pieces.columns)], how="vertical_relaxed"
        ).sort("_i")
    return pl.concat([frame, pieces.drop("_i")], how="horizontal").with_columns(
        pl.col("client").is_not_null().alias("_clf")
    )


def _dash_null(name: str) -> pl.Expr:
    """Access logs write a missing value as ``-``."""
    return pl.when(pl.col(name) != "-").then(pl.col(name))


def clf_events(frame: pl.DataFrame) -> pl.DataFrame:
    """Normalize matched common/combined lines (see :func:`match_clf`) to web columns.

    Examples
    --------
    >>> from ingest.parsers.result import ORIGINAL, number_lines
    >>> line = ('1.2.3.4 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif?x=1 HTTP/1.0" '
    ...         '200 2326 "http://ref/" "Mozilla/4.08"')
    >>> frame = number_lines(pl.Series([line])).with_columns(pl.col(ORIGINAL).alias(MESSAGE))
    >>> row = clf_events(match_clf(frame)).row(0, named=True)
    >>> row["url.path"], row["url.query"], row["http.response.status_code"], row["user.name"]
    ('/a.gif', 'x=1', 200, 'frank')
    >>> row["@timestamp"].isoformat()
    '2000-10-10T20:55:36+00:00'
    """
    status = pl.col("status").cast(pl.Int32, strict=False)
    parts = pl.col("target").str.splitn("?", 2)
    # Lazily, so that expressions used more than once (the status) are computed once.
    events = frame.lazy().with_columns(
        parse_clf_fixed(pl.col("time")).alias("@timestamp"),
        pl.col("client").alias("source.ip"),
        _dash_null("user").alias("user.name"),
        pl.col("method").alias("http.request.method"),
        pl.col("version").alias("http.version"),
        pl.col("target").alias("url.original"),
        parts.struct.field("field_0").alias("url.path"),
        parts.struct.field("field_1").alias("url.query"),
        status.alias("http.response.status_code"),
        pl.col("bytes").cast(pl.Int64, strict=False).alias("http.response.body.bytes"),
        _dash_null("referrer").alias("http.request.referrer"),
        _dash_null("agent").alias("user_agent.original"),
        pl.when(status < 400)
        .then(pl.lit("success"))
        .otherwise(pl.lit("failure"))
        .alias("event.outcome"),
        pl.lit("web.access").alias("event.dataset"),
    )
    reason = pl.when(pl.col("@timestamp").is_null()).then(pl.lit("invalid timestamp"))
    return (
        _with_odd_stamps(events.collect())
        .with_columns(pl.col(REASON).fill_null(reason))
        .drop(PIECES)
    )


def _with_odd_stamps(events: pl.DataFrame) -> pl.DataFrame:
    """Read the stamps the fixed-layout reading left null with the general one."""
    odd = events.select(pl.col("@timestamp").is_null() & pl.col("time").is_not_null()).to_series()
    if not odd.any():
        return events
    rows = odd.arg_true()
    stamps = events.get_column("@timestamp").scatter(
        rows, events.filter(odd).select(parse_clf(pl.col("time"))).to_series()
    )
    return events.with_columns(stamps)
