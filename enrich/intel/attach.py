"""Attach indicator hits to alerts as ECS ``threat.enrichments``.

Runs on the few alert rows, after :func:`enrich.intel.match.match_indicators` found which event
rows hold which indicators.
"""

from __future__ import annotations

from typing import Final

import polars as pl

__all__ = ["attach_indicators"]

_ECS_TYPES: Final = {
    "ipv4": "ipv4-addr",
    "cidr": "ipv4-addr",
    "domain": "domain-name",
    "url": "url",
    "md5": "file",
    "sha1": "file",
    "sha256": "file",
}


def _confidence(score: pl.Expr) -> pl.Expr:
    """STIX 0-100 confidence to ECS's words (the STIX None/Low/Med/High scale)."""
    return (
        pl.when(score.is_null())
        .then(pl.lit("Not Specified"))
        .when(score == 0)
        .then(pl.lit("None"))
        .when(score < 30)
        .then(pl.lit("Low"))
        .when(score < 70)
        .then(pl.lit("Medium"))
        .otherwise(pl.lit("High"))
    )


def attach_indicators(
    alerts: pl.DataFrame, hits: pl.DataFrame, *, row: str = "row"
) -> pl.DataFrame:
    """Add ECS ``threat.enrichments`` (a list per alert) from :func:`match_indicators` hits.

    ``alerts[row]`` is the event row each alert came from (the ``row`` of the detection
    matches). Each enrichment holds ``indicator`` (``type`` in ECS words, ``name`` (the
    value), ``ip``, ``url.full``, ``url.domain``, ``file.hash.*``, ``provider``,
    ``confidence``, ``description``) and ``matched`` (``atomic``, ``field``, ``type``:
    ``indicator_match_rule``). Alerts without a hit get null.

    Examples
    --------
    >>> from enrich.intel.load import build_indicators
    >>> from enrich.intel.match import match_indicators
    >>> intel = build_indicators([("1", "ipv4", "198.51.100.7", "feed", "90", None, None)])
    >>> events = pl.DataFrame({"source.ip": ["10.0.0.1", "198.51.100.7"]})
    >>> hits = match_indicators(events, intel.indicators)
    >>> alerts = pl.DataFrame({"row": [0, 1], "rule.id": ["r1", "r1"]})
    >>> enriched = attach_indicators(alerts, hits)
    >>> enriched.get_column("threat.enrichments").to_list()[1][0]["indicator"]["ip"]
    '198.51.100.7'
    >>> enriched.get_column("threat.enrichments").to_list()[0] is None
    True
    """
    kind, value = pl.col("indicator.type"), pl.col("indicator.value")

    def only(*types: str) -> pl.Expr:
        return pl.when(kind.is_in(types)).then(value)

    enrichment = pl.struct(
        pl.struct(
            kind.replace_strict(_ECS_TYPES, default=None).alias("type"),
            value.alias("name"),
            only("ipv4", "cidr").alias("ip"),
            pl.struct(only("url").alias("full"), only("domain").alias("domain")).alias("url"),
            pl.struct(
                pl.struct(
                    only("md5").alias("md5"),
                    only("sha1").alias("sha1"),
                    only("sha256").alias("sha256"),
                ).alias("hash")
            ).alias("file"),
            pl.col("indicator.source").alias("provider"),
            _confidence(pl.col("indicator.confidence")).alias("confidence"),
            pl.col("indicator.description").alias("description"),
        ).alias("indicator"),
        pl.struct(
            pl.col("matched.atomic").alias("atomic"),
            pl.col("matched.field").alias("field"),
            pl.lit("indicator_match_rule").alias("type"),
        ).alias("matched"),
    ).alias("threat.enrichments")
    grouped = (
        hits.with_columns(pl.col("row").cast(pl.Int64))
        .group_by("row", maintain_order=True)
        .agg(enrichment)
        .rename({"row": "_hit_row"})
    )
    keys = alerts.select(pl.col(row).cast(pl.Int64).alias("_hit_row"))
    joined = keys.join(grouped, on="_hit_row", how="left", maintain_order="left")
    return alerts.with_columns(joined.get_column("threat.enrichments"))
