"""Match events against threat-intelligence indicators (a detection of its own).

:func:`match_indicators` says which event rows hold which indicator, in which field.
Matching is equality after normalization. Each field is probed once per row against the
indicators' keys (a hash lookup; for domains, each distinct name's parent names), and only
the rows that pass are gathered and joined to the indicators:

* ``ipv4`` indicators match the address exactly; ``cidr`` indicators match every address
  inside the network (all CIDRs that hold it, each a hit: one probe per prefix length);
* ``domain`` indicators match the domain itself and every name under it
  (``bad.example`` matches ``cdn.bad.example``, not ``notbad.example``), whatever the
  case of ASCII letters, a trailing dot ignored;
* ``url`` indicators match the URL exactly (case-sensitive: paths are);
* hashes match case-insensitively;
* a list column (ECS arrays such as ``host.ip``) is searched by its first element.

What the indicators need (their numbering, networks, keys) is prepared once per indicator
table and kept with it, and a column null throughout a batch is not searched: each batch
costs what its own values cost. Domains are looked up by their parent names, with no
pattern search over the whole set: Polars builds an Aho-Corasick automaton at every call,
and for 25,000 domain indicators that was about 0.1 s a column and batch, whatever the
batch held.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
    prepared = _prepared(indicators)
    parts: list[pl.DataFrame] = []
    for kind, columns in fields.items():
        wanted = prepared.wanted(kind)
        if wanted is None:
            continue
        for column in columns:
            if column not in events.columns:
                continue
            values = string_column(events, column)
            if values.null_count() == values.len():
                continue  # a null holds no indicator
            if kind == "ip":
                parts.extend(_ip_hits(values, column, prepared.networks))
            elif kind == "domain":
                parts.append(_domain_hits(values, column, wanted, prepared.domain_sizes))
            else:
                keys = values if kind == "url" else values.str.to_lowercase()
                parts.append(_hits(values, column, keys, wanted))
    hits = pl.concat(parts) if parts else pl.DataFrame(schema=_PARTS)
    return (
        hits.join(prepared.table, on="id_")
        .drop("id_")
        .select(list(HIT_SCHEMA))
        .sort("row", "matched.field", "indicator.type", "indicator.value", "indicator.source")
    )


@dataclass(frozen=True)
class _Prepared:
    """An indicator table as matching reads it: numbered, split by kind, networks worked out."""

    table: pl.DataFrame
    """Every indicator under ``indicator.*`` names, with its number ``id_``."""
    by_kind: dict[str, pl.DataFrame]
    """Per kind of :data:`DEFAULT_FIELDS` that has any: ``key`` (the value) and ``id_``."""
    networks: list[pl.DataFrame]
    """The address indicators, one frame per prefix length: ``key`` (the masked network
    as a number), ``id_``, and the mask in ``mask``."""
    domain_sizes: tuple[int, ...]
    """How many labels the domain indicators have, each size once."""

    @classmethod
    def of(cls, indicators: pl.DataFrame) -> _Prepared:
        missing = [name for name in INDICATOR_SCHEMA if name not in indicators.columns]
        if missing:
            raise CatalogError(f"the indicators lack the columns {', '.join(missing)}")
        numbered = indicators.select(
            pl.col(name).cast(dtype) for name, dtype in INDICATOR_SCHEMA.items()
        ).with_row_index("id_")
        by_kind = {}
        for kind in ("ip", "domain", "url", "md5", "sha1", "sha256"):
            types = ("ipv4", "cidr") if kind == "ip" else (kind,)
            wanted = numbered.filter(pl.col("type").is_in(types))
            if not wanted.is_empty():
                by_kind[kind] = wanted.select(pl.col("value").alias("key"), "id_", "type")
        # How many labels the domains have: a name is looked up by its parents of those sizes.
        domain_sizes: tuple[int, ...] = ()
        if "domain" in by_kind:
            dots = by_kind["domain"].get_column("key").str.count_matches(".", literal=True)
            domain_sizes = tuple(size + 1 for size in dots.unique().sort().to_list())
        networks = []
        if "ip" in by_kind:
            located = by_kind["ip"].with_columns(
                prefix=pl.when(pl.col("type") == "cidr")
                .then(pl.col("key").str.split("/").list.get(1).cast(pl.Int64))
                .otherwise(32),
                network=ip.ipv4_to_numeric(pl.col("key").str.split("/").list.first()).cast(
                    pl.Int64
                ),
            )
            for prefix in located.get_column("prefix").unique().sort().to_list():
                mask = (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF
                same = located.filter(pl.col("prefix") == prefix)
                networks.append(
                    same.select(pl.col("network").alias("key"), "id_").with_columns(
                        mask=pl.lit(mask, dtype=pl.Int64)
                    )
                )
        table = numbered.rename({name: f"indicator.{name}" for name in INDICATOR_SCHEMA})
        return cls(table, by_kind, networks, domain_sizes)

    def wanted(self, kind: str) -> pl.DataFrame | None:
        """The indicators of ``kind`` (``key``, ``id_``), or None where there are none."""
        return self.by_kind.get(kind)


# The indicator tables prepared last, by identity: a run matches every batch against the
# same table (a reload brings another). Each entry holds its table, so its id stays its own.
# Batches may be matched from several threads: the lock keeps the entries consistent.
_KEPT: dict[int, tuple[pl.DataFrame, _Prepared]] = {}
_KEEP: Final = 2
_KEPT_LOCK: Final = threading.Lock()


def _prepared(indicators: pl.DataFrame) -> _Prepared:
    """:class:`_Prepared` of ``indicators``, worked out once per table."""
    with _KEPT_LOCK:
        kept = _KEPT.get(id(indicators))
        if kept is not None and kept[0] is indicators:
            return kept[1]
        prepared = _Prepared.of(indicators)
        while len(_KEPT) >= _KEEP:
            del _KEPT[next(iter(_KEPT))]
        _KEPT[id(indicators)] = (indicators, prepared)
        return prepared


_PARTS: Final = {
    "row": pl.UInt32(),
    "matched.field": pl.String(),
    "matched.atomic": pl.String(),
    "id_": pl.UInt32(),
}


def _hits(values: pl.Series, column: str, keys: pl.Series, wanted: pl.DataFrame) -> pl.DataFrame:
    """Rows whose key is the ``key`` of a ``wanted`` indicator, joined to its ``id_``.

    The membership test runs on every row (a hash probe into the indicator keys); only the
    rows that pass are gathered and joined.
    """
    rows = keys.is_in(wanted.get_column("key").implode()).arg_true()
    found = pl.DataFrame(
        {"row": rows, "atomic": values.gather(rows), "key": keys.gather(rows)},
        schema={"row": pl.UInt32(), "atomic": pl.String(), "key": keys.dtype},
    )
    return found.join(wanted.select("key", "id_"), on="key").select(
        "row",
        pl.lit(column).alias("matched.field"),
        pl.col("atomic").alias("matched.atomic"),
        "id_",
    )


def _ip_hits(values: pl.Series, column: str, networks: list[pl.DataFrame]) -> list[pl.DataFrame]:
    """Address hits: per prefix length of the indicators, the masked address is looked up."""
    number = pl.select(ip.ipv4_to_numeric(values.str.strip_chars())).to_series().cast(pl.Int64)
    return [_hits(values, column, number & same.get_column("mask")[0], same) for same in networks]


def _domain_hits(
    values: pl.Series, column: str, wanted: pl.DataFrame, sizes: Sequence[int]
) -> pl.DataFrame:
    """Names equal to or under an indicator domain, up to ASCII case and a final dot.

    Each distinct name gives its parent names of as many labels as some indicator domain
    has (``a.b.bad.example`` gives ``bad.example`` where an indicator has two labels), and
    all of them are joined with the indicators at once: the work follows the batch's
    names, not the number of indicators, and a name of any depth is looked up.
    """
    rows = values.is_not_null().arg_true()
    atomic = values.gather(rows)
    names = pl.DataFrame({"atomic": atomic.unique()}).with_columns(
        labels=pl.col("atomic")
        # Only ASCII letters fold here: the Kelvin sign is the one character beyond ASCII
        # that lower-cases to an ASCII letter.
        .str.replace_all(_KELVIN, "\ufffd", literal=True)
        .str.to_lowercase()
        .str.strip_chars()
        .str.strip_chars_end(".")
        .str.split(".")
    )
    parents = pl.concat(
        [
            names.filter(pl.col("labels").list.len() >= size).select(
                "atomic", pl.col("labels").list.slice(-size).list.join(".").alias("key")
            )
            for size in sizes
        ],
        how="vertical",
    )
    keyed = parents.join(wanted.select("key", "id_"), on="key").select("atomic", "id_")
    found = pl.DataFrame(
        {"row": rows, "atomic": atomic}, schema={"row": pl.UInt32(), "atomic": pl.String()}
    )
    return found.join(keyed, on="atomic").select(
        "row",
        pl.lit(column).alias("matched.field"),
        pl.col("atomic").alias("matched.atomic"),
        pl.col("id_").cast(pl.UInt32),
    )


_KELVIN: Final = "\u212a"
