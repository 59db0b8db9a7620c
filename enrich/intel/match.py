"""Match events against threat-intelligence indicators (a detection of its own).

:func:`match_indicators` says which event rows hold which indicator, in which field.
Matching is equality after normalization. Each field is probed once per row against the
indicators' keys (a hash lookup, or one Aho-Corasick pass for domains), and only the rows
that pass are gathered and joined to the indicators:

* ``ipv4`` indicators match the address exactly; ``cidr`` indicators match every address
  inside the network (all CIDRs that hold it, each a hit: one probe per prefix length);
* ``domain`` indicators match the domain itself and every name under it
  (``bad.example`` matches ``cdn.bad.example``, not ``notbad.example``), case-insensitively,
  a trailing dot ignored;
* ``url`` indicators match the URL exactly (case-sensitive: paths are);
* hashes match case-insensitively;
* a list column (ECS arrays such as ``host.ip``) is searched by its first element.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

import polars as pl
import polars_iptools as ip

from enrich.columns import string_column
from enrich.errors import CatalogError
from enrich.intel.load import INDICATOR_SCHEMA

__all__ = ["DEFAULT_FIELDS", "HIT_SCHEMA", "match_indicators"]

DEFAULT_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "ip": ("source.ip", "destination.ip", "host.ip"),
    "domain": ("url.domain", "dns.question.name", "destination.domain", "source.domain"),
    "url": ("url.original", "url.full"),
    "md5": ("process.hash.md5", "file.hash.md5"),
    "sha1": ("process.hash.sha1", "file.hash.sha1"),
    "sha256": ("process.hash.sha256", "file.hash.sha256"),
}
"""Kind of indicator (``ip`` covers ipv4 and cidr) -> event columns it is looked for in."""

HIT_SCHEMA: Final[dict[str, pl.DataType]] = {
    "row": pl.UInt32(),
    "matched.field": pl.String(),
    "matched.atomic": pl.String(),
    **{f"indicator.{name}": dtype for name, dtype in INDICATOR_SCHEMA.items()},
}
"""Columns of :func:`match_indicators`' result."""

_MAX_LABELS: Final = 16


def match_indicators(
    events: pl.DataFrame,
    indicators: pl.DataFrame,
    *,
    fields: Mapping[str, Sequence[str]] = DEFAULT_FIELDS,
) -> pl.DataFrame:
    """Every (event row, indicator) pair where a field of the row holds the indicator.

    Parameters
    ----------
    events
        Any frame; columns named in ``fields`` that it lacks are skipped.
    indicators
        :attr:`enrich.intel.load.IndicatorSet.indicators`.
    fields
        Which columns to search per kind of indicator.

    Returns
    -------
    pl.DataFrame
        :data:`HIT_SCHEMA`, sorted by row, field and indicator.

    Raises
    ------
    CatalogError
        ``indicators`` lacks a column of :data:`enrich.intel.load.INDICATOR_SCHEMA`.

    Examples
    --------
    >>> from enrich.intel.load import build_indicators
    >>> intel = build_indicators([
    ...     ("1", "cidr", "203.0.113.0/24", "feed", "70", None, None),
    ...     ("2", "domain", "bad.example", "feed", None, None, None),
    ... ]).indicators
    >>> events = pl.DataFrame({
    ...     "source.ip": ["10.0.0.1", "10.0.0.2"],
    ...     "destination.ip": ["203.0.113.5", "192.0.2.1"],
    ...     "dns.question.name": [None, "CDN.Bad.Example."],
    ... })
    >>> match_indicators(events, intel).select(
    ...     "row", "matched.field", "matched.atomic", "indicator.value").rows()
    [(0, 'destination.ip', '203.0.113.5', '203.0.113.0/24'), \
(1, 'dns.question.name', 'CDN.Bad.Example.', 'bad.example')]
    """
    missing = [name for name in INDICATOR_SCHEMA if name not in indicators.columns]
    if missing:
        raise CatalogError(f"the indicators lack the columns {', '.join(missing)}")
    parts: list[pl.DataFrame] = []
    numbered = indicators.select(
        pl.col(name).cast(dtype) for name, dtype in INDICATOR_SCHEMA.items()
    ).with_row_index("id_")
    for kind, columns in fields.items():
        types = ("ipv4", "cidr") if kind == "ip" else (kind,)
        wanted = numbered.filter(pl.col("type").is_in(types))
        if wanted.is_empty():
            continue
        for column in columns:
            if column not in events.columns:
                continue
            values = string_column(events, column)
            if kind == "ip":
                parts.extend(_ip_hits(values, column, wanted))
            elif kind == "domain":
                parts.append(_domain_hits(values, column, wanted))
            else:
                keys = values if kind == "url" else values.str.to_lowercase()
                parts.append(_hits(values, column, keys, wanted.get_column("value"), wanted))
    hits = pl.concat(parts) if parts else pl.DataFrame(schema=_PARTS)
    table = numbered.rename({name: f"indicator.{name}" for name in INDICATOR_SCHEMA})
    return (
        hits.join(table, on="id_")
        .drop("id_")
        .select(list(HIT_SCHEMA))
        .sort("row", "matched.field", "indicator.type", "indicator.value", "indicator.source")
    )


_PARTS: Final = {
    "row": pl.UInt32(),
    "matched.field": pl.String(),
    "matched.atomic": pl.String(),
    "id_": pl.UInt32(),
}


def _hits(
    values: pl.Series, column: str, keys: pl.Series, wanted_keys: pl.Series, wanted: pl.DataFrame
) -> pl.DataFrame:
    """Rows whose key is one of ``wanted_keys``, joined to the ids of those indicators.

    The membership test runs on every row (a hash probe into the few indicator keys);
    only the rows that pass are gathered and joined.
    """
    rows = keys.is_in(wanted_keys.implode()).arg_true()
    found = pl.DataFrame(
        {"row": rows, "atomic": values.gather(rows), "key": keys.gather(rows)},
        schema={"row": pl.UInt32(), "atomic": pl.String(), "key": keys.dtype},
    )
    ids = pl.DataFrame({"key": wanted_keys, "id_": wanted.get_column("id_")})
    return found.join(ids, on="key").select(
        "row",
        pl.lit(column).alias("matched.field"),
        pl.col("atomic").alias("matched.atomic"),
        "id_",
    )


def _ip_hits(values: pl.Series, column: str, wanted: pl.DataFrame) -> list[pl.DataFrame]:
    """Address hits: per prefix length of the indicators, the masked address is looked up."""
    number = pl.select(ip.ipv4_to_numeric(values.str.strip_chars())).to_series().cast(pl.Int64)
    networks = wanted.with_columns(
        prefix=pl.when(pl.col("type") == "cidr")
        .then(pl.col("value").str.split("/").list.get(1).cast(pl.Int64))
        .otherwise(32),
        network=ip.ipv4_to_numeric(pl.col("value").str.split("/").list.first()).cast(pl.Int64),
    )
    found = []
    for prefix in networks.get_column("prefix").unique().sort().to_list():
        mask = (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF
        same = networks.filter(pl.col("prefix") == prefix)
        found.append(_hits(values, column, number & mask, same.get_column("network"), same))
    return found


def _domain_hits(values: pl.Series, column: str, wanted: pl.DataFrame) -> pl.DataFrame:
    """Names equal to or under an indicator domain.

    One multi-pattern pass over every row finds the candidates (rows that contain an
    indicator domain anywhere); only their distinct names are split into parent domains
    and joined exactly.
    """
    patterns = wanted.get_column("value")
    candidate = values.str.contains_any(patterns.to_list(), ascii_case_insensitive=True)
    rows = candidate.fill_null(False).arg_true()
    atomic = values.gather(rows)
    labels = pl.DataFrame({"atomic": atomic.unique()}).with_columns(
        labels=pl.col("atomic")
        .str.to_lowercase()
        .str.strip_chars()
        .str.strip_chars_end(".")
        .str.split(".")
    )
    deepest = min(_MAX_LABELS, int(labels.select(pl.col("labels").list.len().max()).item() or 0))
    domains = wanted.select(pl.col("value").alias("key"), "id_")
    keyed = (
        pl.concat(
            [
                labels.filter(pl.col("labels").list.len() > depth)
                .select("atomic", pl.col("labels").list.slice(depth).list.join(".").alias("key"))
                .join(domains, on="key")
                .select("atomic", "id_")
                for depth in range(deepest)
            ],
            how="vertical",
        )
        if deepest
        else pl.DataFrame(schema={"atomic": pl.String(), "id_": pl.UInt32()})
    )
    found = pl.DataFrame(
        {"row": rows, "atomic": atomic}, schema={"row": pl.UInt32(), "atomic": pl.String()}
    )
    return found.join(keyed, on="atomic").select(
        "row",
        pl.lit(column).alias("matched.field"),
        pl.col("atomic").alias("matched.atomic"),
        pl.col("id_").cast(pl.UInt32),
    )
