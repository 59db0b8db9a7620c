"""Web server access logs: nginx/Apache common and combined formats, and IIS W3C."""

from collections.abc import Mapping

import polars as pl

from ingest.parsers.clf import PIECES, clf_events, match_clf
from ingest.parsers.iis import FIELDS, FIELDS_DIRECTIVE, iis_events
from ingest.parsers.result import (
    MESSAGE,
    ORIGINAL,
    REASON,
    ParseResult,
    finish,
    number_lines,
    reject,
    with_syslog,
)
from ingest.schema import WEB_SCHEMA

__all__ = ["parse_web"]

UNRECOGNIZED = "unrecognized web format"

# Everything split_syslog would strip starts like this, so lines without it can skip it.
_FRAMED = (
    r"^(?:<\d{1,3}>|[A-Z][a-z]{2} [ \d]?\d \d{2}:\d{2}:\d{2} "
    r"|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})"
)


def _with_messages(frame: pl.DataFrame, *, year: int) -> pl.DataFrame:
    """Strip syslog framing where a line has one; only pay for it when one does."""
    framed = frame.select(pl.col(ORIGINAL).str.contains(_FRAMED).any()).item()
    if framed:
        return with_syslog(frame, year=year).with_columns(
            pl.col("log.syslog.hostname").alias("host.name")
        )
    return frame.with_columns(pl.col(ORIGINAL).alias(MESSAGE))


_INPUT = "_input"


def parse_web(
    lines: pl.Series,
    *,
    year: int,
    iis_fields: str | Mapping[str, str] | None = None,
    inputs: pl.Series | None = None,
) -> ParseResult:
    """Parse a batch of web server access log lines into ECS web events.

    Recognises nginx/Apache common and combined log format (optionally in syslog
    framing) and IIS W3C extended logs. IIS columns are those of the last ``#Fields:``
    directive above the line; ``#`` directive lines are neither events nor dead
    letters. A batch may hold several directives.

    Parameters
    ----------
    lines
        Raw lines, one per row.
    year
        The year of RFC 3164 syslog stamps, which carry none.
    iis_fields
        The ``#Fields:`` directive in force before the batch's first line (without the
        ``#Fields:`` prefix), for batches that start in the middle of an IIS file; with
        ``inputs``, one per input.
    inputs
        Which input (topic partition, file) each line comes from: directives then apply
        to the lines of their own input only, and ``layouts`` of the result gives the
        directive in force at the end of the batch per input.

    Returns
    -------
    ParseResult
        ``events`` with the columns of :data:`ingest.schema.WEB_SCHEMA`, and ``dead``
        with the rejected lines.

    Examples
    --------
    >>> lines = pl.Series([
    ...     '1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /x?q=1 HTTP/1.0" 200 2326',
    ...     "#Fields: date time c-ip cs-method cs-uri-stem cs-uri-query sc-status",
    ...     "2024-01-02 03:04:05 10.0.0.9 POST /login - 401",
    ... ])
    >>> parse_web(lines, year=2024).events.select(
    ...     "source.ip", "url.path", "url.query", "http.response.status_code")
    shape: (2, 4)
    ┌───────────┬──────────┬───────────┬───────────────────────────┐
    │ source.ip ┆ url.path ┆ url.query ┆ http.response.status_code │
    │ ---       ┆ ---      ┆ ---       ┆ ---                       │
    │ str       ┆ str      ┆ str       ┆ i32                       │
    ╞═══════════╪══════════╪═══════════╪═══════════════════════════╡
    │ 1.2.3.4   ┆ /x       ┆ q=1       ┆ 200                       │
    │ 10.0.0.9  ┆ /login   ┆ null      ┆ 401                       │
    └───────────┴──────────┴───────────┴───────────────────────────┘
    """
    frame = _with_messages(number_lines(lines), year=year)
    message = pl.col(MESSAGE)
    pending = pl.col(REASON).is_null()
    has_directives = frame.select(message.str.starts_with("#").any()).item()
    layouts: dict[str, str] = {}
    if inputs is not None:
        frame = frame.with_columns(inputs.cast(pl.String).fill_null("").alias(_INPUT))
    if has_directives or iis_fields:
        fields: pl.Expr = pl.when(message.str.starts_with(FIELDS_DIRECTIVE)).then(
            message.str.slice(len(FIELDS_DIRECTIVE)).str.strip_chars()
        )
        if inputs is None:
            carried = pl.lit(iis_fields if isinstance(iis_fields, str) else None, pl.String)
            fields = fields.forward_fill()
        else:
            mapping = dict(iis_fields) if isinstance(iis_fields, Mapping) else {}
            carried = pl.col(_INPUT).replace_strict(mapping, default=None, return_dtype=pl.String)
            fields = fields.forward_fill().over(_INPUT)
        frame = frame.with_columns(
            fields.fill_null(carried).alias(FIELDS),
            message.str.starts_with("#").fill_null(False).alias("_directive"),
        )
        if inputs is not None:
            layouts = {
                name: layout
                for name, layout in frame.group_by(_INPUT)
                .agg(pl.col(FIELDS).drop_nulls().last())
                .iter_rows()
                if layout is not None
            }
        frame = frame.filter(~pl.col("_directive"))
    frame = match_clf(frame)
    is_clf = frame.select(pending & pl.col("_clf")).to_series()
    if is_clf.all():
        parts = [clf_events(frame)]
        rest = frame.clear().drop(PIECES)
    else:
        parts = [clf_events(frame.filter(is_clf))]
        rest = frame.filter(~is_clf).drop(PIECES)
        parts.append(rest.filter(~pending))
        rest = rest.filter(pending)
    if FIELDS in rest.columns:
        known = pl.col(FIELDS).is_not_null()
        parts.append(iis_events(rest.filter(known)))
        rest = rest.filter(~known)
    parts.append(reject(rest, UNRECOGNIZED))
    parts = [
        part.with_columns(
            pl.lit("event").alias("event.kind"),
            pl.lit("web").alias("event.category"),
            pl.lit("access").alias("event.type"),
        )
        for part in parts
    ]
    result = finish(parts, WEB_SCHEMA)
    return ParseResult(result.events, result.dead, layouts) if layouts else result
