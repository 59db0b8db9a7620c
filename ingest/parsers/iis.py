"""IIS W3C extended logs: space-separated columns named by a ``#Fields:`` directive."""

import polars as pl

from ingest.parsers.result import MESSAGE, POSITION, REASON
from ingest.parsers.timestamps import parse_iso8601

__all__ = ["FIELDS_DIRECTIVE", "iis_events"]

FIELDS_DIRECTIVE = "#Fields:"
_TOKENS = "_tokens"
FIELDS = "_fields"
MISMATCH = "IIS line does not match its #Fields directive"

# W3C field -> ECS column, for the fields copied as they are.
_PLAIN = {
    "c-ip": "source.ip",
    "s-ip": "destination.ip",
    "cs-username": "user.name",
    "cs-method": "http.request.method",
    "cs-uri-stem": "url.path",
    "cs-uri-query": "url.query",
    "cs(Referer)": "http.request.referrer",
    "cs-host": "url.domain",
    "s-computername": "host.name",
}
_INTEGERS: dict[str, tuple[str, pl.DataType]] = {
    "s-port": ("destination.port", pl.Int32()),
    "sc-status": ("http.response.status_code", pl.Int32()),
    "sc-bytes": ("http.response.body.bytes", pl.Int64()),
    "cs-bytes": ("http.request.bytes", pl.Int64()),
}


def _columns(names: list[str]) -> list[pl.Expr]:
    """Expressions that read one ``#Fields:`` layout."""
    tokens = pl.col(_TOKENS)

    def field(name: str) -> pl.Expr:
        if name not in names:
            return pl.lit(None, dtype=pl.String)
        value = tokens.list.get(names.index(name), null_on_oob=True)
        return pl.when(value != "-").then(value)

    columns = [field(w3c).alias(ecs) for w3c, ecs in _PLAIN.items() if w3c in names]
    columns += [
        field(w3c).cast(dtype, strict=False).alias(ecs)
        for w3c, (ecs, dtype) in _INTEGERS.items()
        if w3c in names
    ]
    stem, query = field("cs-uri-stem"), field("cs-uri-query")
    status = field("sc-status").cast(pl.Int32, strict=False)
    date_text = pl.concat_str(field("date"), pl.lit("T"), field("time"))
    timestamp = parse_iso8601(date_text)
    reason = (
        pl.when(tokens.list.len() != len(names))
        .then(pl.lit(MISMATCH))
        .when(field("c-ip").is_null())
        .then(pl.lit("missing source.ip"))
        .when(date_text.is_not_null() & timestamp.is_null())
        .then(pl.lit("invalid timestamp"))
    )
    return [
        *columns,
        timestamp.alias("@timestamp"),
        pl.when(query.is_null())
        .then(stem)
        .otherwise(pl.concat_str(stem, pl.lit("?"), query))
        .alias("url.original"),
        field("cs-version").str.strip_prefix("HTTP/").alias("http.version"),
        field("cs(User-Agent)")
        .str.replace_all("+", " ", literal=True)
        .alias("user_agent.original"),
        (field("time-taken").cast(pl.Int64, strict=False) * 1_000_000).alias("event.duration"),
        pl.when(status < 400)
        .then(pl.lit("success"))
        .when(status >= 400)
        .then(pl.lit("failure"))
        .alias("event.outcome"),
        pl.lit("web.iis").alias("event.dataset"),
        pl.lit("iis").alias("event.module"),
        pl.col(REASON).fill_null(reason),
    ]


def iis_events(frame: pl.DataFrame) -> pl.DataFrame:
    """Normalize IIS lines, each read with the ``#Fields:`` layout in its ``_fields``.

    A line whose column count differs from its layout, or without a client address, is
    marked dead. IIS writes times in UTC; ``time-taken`` (milliseconds) becomes
    ``event.duration`` in nanoseconds, and the ``+`` that IIS writes for spaces in the
    user agent is turned back into spaces.

    Examples
    --------
    >>> from ingest.parsers.result import ORIGINAL, number_lines
    >>> frame = number_lines(pl.Series(["2024-01-02 03:04:05 10.0.0.9 GET /a q=1 200 15"]))
    >>> frame = frame.with_columns(
    ...     pl.col(ORIGINAL).alias(MESSAGE),
    ...     pl.lit("date time c-ip cs-method cs-uri-stem cs-uri-query sc-status time-taken")
    ...     .alias(FIELDS))
    >>> row = iis_events(frame).row(0, named=True)
    >>> row["url.original"], row["event.duration"], row["@timestamp"].isoformat()
    ('/a?q=1', 15000000, '2024-01-02T03:04:05+00:00')
    """
    layouts = frame.get_column(FIELDS).unique(maintain_order=True).drop_nulls().to_list()
    # Lazily, so that fields read more than once (the date, the status) are read once.
    parts = [
        frame.lazy()
        .filter(pl.col(FIELDS) == layout)
        .with_columns(pl.col(MESSAGE).str.strip_chars().str.split(" ").alias(_TOKENS))
        .with_columns(_columns(layout.split()))
        .collect()
        for layout in layouts
    ]
    if not parts:
        return frame
    if len(parts) == 1:
        return parts[0].drop(FIELDS, _TOKENS)
    # Several layouts (inputs): back into line order.
    return pl.concat(parts, how="diagonal_relaxed").sort(POSITION).drop(FIELDS, _TOKENS)
