"""Tag events with the asset that owns their host, source and destination.

For each side (``host``, ``source``, ``destination``) the owner is looked up by, in this
order: the exact host name, the most specific network holding the address, then the
most specific ``*.domain`` entry whose domain ends the host name.

Every lookup yields a row number into one table of assets (the inventory's ranges, then
its hosts) and the output columns are gathered from that table at the end. Addresses are
parsed to integers in Rust and found with one binary search over the disjoint ranges
(``search_sorted``), so the cost per event does not depend on the number of networks
and needs neither a sort of the events nor a join. Host names are resolved once per
distinct name.
"""

from __future__ import annotations

from typing import Final

import polars as pl
import polars_iptools as ip

from enrich.columns import string_column
from enrich.inventory import ASSET_FIELDS, AssetInventory

__all__ = ["SIDES", "asset_columns", "tag_assets"]

SIDES: Final[dict[str, tuple[str, str]]] = {
    "host": ("host.name", "host.ip"),
    "source": ("source.domain", "source.ip"),
    "destination": ("destination.domain", "destination.ip"),
}
"""Side -> (host name column, IPv4 address column) read from the events."""

_MAX_LABELS: Final = 16


def asset_columns(prefix: str) -> list[str]:
    """The output columns of one side, e.g. ``neakta.source.ministry.id``...

    Examples
    --------
    >>> asset_columns("neakta.host")
    ['neakta.host.ministry.id', 'neakta.host.ministry.name', 'neakta.host.system', \
'neakta.host.criticality', 'neakta.host.contact']
    """
    return [f"{prefix}.{field}" for field in ASSET_FIELDS]


def tag_assets(events: pl.DataFrame, inventory: AssetInventory) -> pl.DataFrame:
    """Add the owning asset of each side, the primary asset and the organization.

    Adds ``neakta.<side>.ministry.id``, ``.ministry.name``, ``.system``, ``.criticality``
    and ``.contact`` for the sides host, source and destination (null where nothing
    matched or the input column is absent); ``neakta.asset.*`` with the same fields and
    ``neakta.asset.side``, copied from the first side that matched in the order host,
    destination, source (the target of a connection before its origin); and fills
    ``organization.id`` / ``organization.name`` from the primary asset where they are null.

    Examples
    --------
    >>> from enrich.inventory import build_inventory
    >>> inventory = build_inventory([
    ...     ("line 2", ["10.10.0.0/16", "*.mef.gov.kh", "mef", "Economy", "", "medium", ""]),
    ...     ("line 3", ["10.10.101.0/24", "fmis.mef.gov.kh", "mef", "Economy", "FMIS",
    ...                 "critical", "fmis@mef.gov.kh"]),
    ... ])
    >>> events = pl.DataFrame({
    ...     "host.name": ["ws-1.mef.gov.kh", None, None],
    ...     "source.ip": ["10.10.3.4", "203.0.113.9", "10.10.3.4"],
    ...     "destination.ip": ["8.8.8.8", "10.10.101.7", "bad"],
    ... })
    >>> tagged = tag_assets(events, inventory)
    >>> tagged.select("neakta.asset.side", "neakta.asset.system", "neakta.asset.criticality",
    ...               "organization.id")
    shape: (3, 4)
    ┌───────────────────┬─────────────────────┬──────────────────────────┬─────────────────┐
    │ neakta.asset.side ┆ neakta.asset.system ┆ neakta.asset.criticality ┆ organization.id │
    │ ---               ┆ ---                 ┆ ---                      ┆ ---             │
    │ str               ┆ str                 ┆ str                      ┆ str             │
    ╞═══════════════════╪═════════════════════╪══════════════════════════╪═════════════════╡
    │ host              ┆ null                ┆ medium                   ┆ mef             │
    │ destination       ┆ FMIS                ┆ critical                 ┆ mef             │
    │ source            ┆ null                ┆ medium                   ┆ mef             │
    └───────────────────┴─────────────────────┴──────────────────────────┴─────────────────┘
    """
    ranges, hosts = inventory.ranges, inventory.hosts
    table = pl.concat([ranges.get_column("asset"), hosts.get_column("asset")]).struct.unnest()
    offset = ranges.height
    found: dict[str, pl.Series] = {}
    for side, (name_column, ip_column) in SIDES.items():
        by_name, by_domain = _match_names(string_column(events, name_column), hosts, offset)
        by_ip = _match_ips(string_column(events, ip_column), ranges)
        found[side] = pl.select(pl.coalesce(by_name, by_ip, by_domain)).to_series()
    order = ("host", "destination", "source")
    found["asset"] = pl.select(pl.coalesce([found[side] for side in order])).to_series()
    matched_side = pl.select(
        pl.coalesce([pl.when(found[s].is_not_null()).then(pl.lit(s)) for s in order])
    ).to_series()
    added: list[pl.Series] = []
    for name, index in found.items():
        prefix = f"neakta.{name}"
        added.extend(
            table.get_column(field).gather(index).alias(column)
            for field, column in zip(ASSET_FIELDS, asset_columns(prefix), strict=True)
        )
    added.append(matched_side.alias("neakta.asset.side"))
    tagged = events.with_columns(added)
    organization = {
        "organization.id": "neakta.asset.ministry.id",
        "organization.name": "neakta.asset.ministry.name",
    }
    return tagged.with_columns(
        (
            pl.coalesce(pl.col(target), pl.col(origin))
            if target in events.columns
            else pl.col(origin)
        ).alias(target)
        for target, origin in organization.items()
    )


def _match_ips(addresses: pl.Series, ranges: pl.DataFrame) -> pl.Series:
    """Row of the range holding each address (null: none, or not an IPv4 address)."""
    number = pl.select(ip.ipv4_to_numeric(addresses)).to_series()
    starts = ranges.get_column("start")
    if starts.is_empty():
        return pl.repeat(None, addresses.len(), dtype=pl.UInt32(), eager=True)
    position = starts.search_sorted(number.fill_null(0), side="right").cast(pl.Int64) - 1
    inside = position.clip(0).cast(pl.UInt32())
    ends = ranges.get_column("end").gather(inside)
    return pl.select(
        pl.when(number.is_not_null() & (position >= 0) & (number <= ends)).then(inside)
    ).to_series()


def _match_names(names: pl.Series, hosts: pl.DataFrame, offset: int) -> tuple[pl.Series, pl.Series]:
    """Rows (``offset`` + host row) of exact names and of the most specific ``*.domain``."""
    distinct = (
        pl.DataFrame({"raw": names.unique()})
        .drop_nulls()
        .with_columns(name=pl.col("raw").str.to_lowercase().str.strip_chars_end("."))
    )
    entries = hosts.with_row_index("index", offset=offset).select("name", "wildcard", "index")
    exact = distinct.join(entries.filter(~pl.col("wildcard")), on="name").select("raw", "index")
    domains = entries.filter(pl.col("wildcard")).select(pl.col("name").alias("suffix"), "index")
    labels = distinct.with_columns(labels=pl.col("name").str.split("."))
    deepest = min(_MAX_LABELS, int(labels.select(pl.col("labels").list.len().max()).item() or 0))
    suffixes = [
        labels.filter(pl.col("labels").list.len() > depth).select(
            "raw",
            pl.lit(depth).alias("depth"),
            pl.col("labels").list.slice(depth).list.join(".").alias("suffix"),
        )
        for depth in range(1, deepest)
    ]
    by_domain = (
        pl.concat(suffixes)
        .join(domains, on="suffix")
        .sort("depth")
        .unique("raw", keep="first")
        .select("raw", "index")
        if suffixes
        else exact.clear()
    )
    return _map_back(names, exact), _map_back(names, by_domain)


def _map_back(values: pl.Series, found: pl.DataFrame) -> pl.Series:
    """``found.index`` for each of ``values`` (null where it has none)."""
    if found.is_empty():
        return pl.repeat(None, values.len(), dtype=pl.UInt32(), eager=True)
    return values.replace_strict(
        found.get_column("raw"), found.get_column("index"), default=None, return_dtype=pl.UInt32()
    )
