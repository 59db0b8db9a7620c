"""The asset inventory: which ministry, system, criticality and contact own an address.

The inventory is a CSV file with one asset per line::

    network,host,ministry_id,ministry_name,system,criticality,contact
    10.10.0.0/16,*.mef.gov.kh,mef,Ministry of Economy and Finance,,medium,soc@mef.gov.kh
    10.10.101.0/24,fmis.mef.gov.kh,mef,Ministry of Economy and Finance,FMIS,critical,...

``network`` is an IPv4 CIDR, ``host`` a host name (``*.domain`` for every name under that
domain); a line needs at least one of them. ``criticality`` is ``low``, ``medium``,
``high`` or ``critical``. Lines that break these rules are kept out of the table as
:class:`enrich.errors.Rejected` entries with the reason.

Networks may nest (a ministry's /16 holds its systems' /24s); the most specific one wins.
:func:`build_inventory` therefore cuts the networks into disjoint address ranges, each
labelled with the most specific network that holds it, so that one sorted as-of join
finds the answer for any number of networks.
"""

from __future__ import annotations

import csv
import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import polars as pl

from enrich.errors import Rejected, SourceFileError

__all__ = [
    "ASSET_FIELDS",
    "CRITICALITIES",
    "INVENTORY_COLUMNS",
    "AssetInventory",
    "build_inventory",
    "load_assets",
]

INVENTORY_COLUMNS: Final = (
    "network",
    "host",
    "ministry_id",
    "ministry_name",
    "system",
    "criticality",
    "contact",
)
"""The header of an inventory CSV file, in this order."""

ASSET_FIELDS: Final = ("ministry.id", "ministry.name", "system", "criticality", "contact")
"""What an inventory entry says about an asset (the fields of the ``asset`` struct)."""

CRITICALITIES: Final = ("low", "medium", "high", "critical")
"""Allowed criticality values, from least to most critical."""

_HOST: Final = re.compile(r"^(\*\.)?[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*$")
_ASSET: Final = pl.Struct({name: pl.String() for name in ASSET_FIELDS})


@dataclass(frozen=True, slots=True)
class AssetInventory:
    """Lookup tables built from an inventory.

    Attributes
    ----------
    ranges
        Disjoint IPv4 ranges: ``start`` and ``end`` (``UInt32``, inclusive) and ``asset``
        (a struct of :data:`ASSET_FIELDS`), sorted by ``start``.
    hosts
        ``name`` (lower case, without ``*.``), ``wildcard`` (the entry was ``*.name``) and
        ``asset``.
    rejected
        Inventory lines kept out of the tables, with the reason.
    """

    ranges: pl.DataFrame
    hosts: pl.DataFrame
    rejected: tuple[Rejected, ...] = ()


def load_assets(path: Path) -> AssetInventory:
    """Read an inventory CSV file (see the module docstring for its columns).

    Raises
    ------
    SourceFileError
        The file cannot be read or its header is not :data:`INVENTORY_COLUMNS`.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SourceFileError(f"{path}: cannot read the asset inventory: {error}") from error
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if header is None or tuple(cell.strip() for cell in header) != INVENTORY_COLUMNS:
        raise SourceFileError(f"{path}: the header must be {','.join(INVENTORY_COLUMNS)}")
    rows = ((f"line {number}", row) for number, row in enumerate(reader, start=2) if row)
    return build_inventory(rows, source=str(path))


def build_inventory(
    rows: Iterable[tuple[str, list[str]]], *, source: str = "inventory"
) -> AssetInventory:
    """Validate inventory rows and build the lookup tables.

    Parameters
    ----------
    rows
        ``(position, cells)`` pairs, cells in the order of :data:`INVENTORY_COLUMNS`.
    source
        Named in the rejected entries.

    Examples
    --------
    >>> inventory = build_inventory([
    ...     ("line 2", ["10.0.0.0/8", "", "moi", "Interior", "", "medium", ""]),
    ...     ("line 3", ["10.1.0.0/16", "", "mef", "Finance", "FMIS", "critical", ""]),
    ...     ("line 4", ["10.1.0.0/33", "", "mef", "Finance", "", "low", ""]),
    ... ])
    >>> inventory.ranges.select("start", "end", pl.col("asset").struct.field("system"))
    shape: (3, 3)
    ┌───────────┬───────────┬────────┐
    │ start     ┆ end       ┆ system │
    │ ---       ┆ ---       ┆ ---    │
    │ u32       ┆ u32       ┆ str    │
    ╞═══════════╪═══════════╪════════╡
    │ 167772160 ┆ 167837695 ┆ null   │
    │ 167837696 ┆ 167903231 ┆ FMIS   │
    │ 167903232 ┆ 184549375 ┆ null   │
    └───────────┴───────────┴────────┘
    >>> print(inventory.rejected[0])
    inventory:line 4: network: invalid IPv4 network '10.1.0.0/33': 10.1.0.0/33,,mef,Finance,,low,
    """
    networks: dict[ipaddress.IPv4Network, tuple[str, dict[str, str | None]]] = {}
    hosts: dict[str, tuple[str, dict[str, str | None]]] = {}
    rejected: list[Rejected] = []
    for position, cells in rows:
        text = ",".join(cells)[:200]
        problem, network, host, asset = _validate(cells)
        if problem is None and network is not None and network in networks:
            problem = f"network: {network} is already defined on {networks[network][0]}"
        if problem is None and host is not None and host in hosts:
            problem = f"host: {host} is already defined on {hosts[host][0]}"
        if problem is not None:
            rejected.append(Rejected(source, position, text, problem))
            continue
        if network is not None:
            networks[network] = (position, asset)
        if host is not None:
            hosts[host] = (position, asset)
    return AssetInventory(
        ranges=_flatten({net: asset for net, (_, asset) in networks.items()}),
        hosts=pl.DataFrame(
            {
                "name": [name.removeprefix("*.") for name in hosts],
                "wildcard": [name.startswith("*.") for name in hosts],
                "asset": [asset for _, asset in hosts.values()],
            },
            schema={"name": pl.String(), "wildcard": pl.Boolean(), "asset": _ASSET},
        ),
        rejected=tuple(rejected),
    )


def _validate(
    cells: list[str],
) -> tuple[str | None, ipaddress.IPv4Network | None, str | None, dict[str, str | None]]:
    """The first problem of one row (or None), its network, host and asset fields."""
    empty: dict[str, str | None] = {}
    if len(cells) != len(INVENTORY_COLUMNS):
        return f"expected {len(INVENTORY_COLUMNS)} columns, got {len(cells)}", None, None, empty
    network_text, host_text, ministry_id, ministry_name, system, criticality, contact = (
        cell.strip() for cell in cells
    )
    network: ipaddress.IPv4Network | None = None
    if network_text:
        try:
            parsed = ipaddress.ip_network(network_text)
        except ValueError:
            return f"network: invalid IPv4 network {network_text!r}", None, None, empty
        if not isinstance(parsed, ipaddress.IPv4Network):
            return f"network: IPv6 networks are not supported ({network_text})", None, None, empty
        network = parsed
    host = host_text.lower().rstrip(".") or None
    if host is not None and not _HOST.match(host):
        return f"host: invalid host name {host_text!r}", None, None, empty
    if network is None and host is None:
        return "a line needs a network or a host", None, None, empty
    if not ministry_id:
        return "ministry_id is empty", None, None, empty
    if criticality.lower() not in CRITICALITIES:
        allowed = "|".join(CRITICALITIES)
        return f"criticality: {criticality!r} is not one of {allowed}", None, None, empty
    values = (ministry_id.lower(), ministry_name, system, criticality.lower(), contact)
    asset = {field: value or None for field, value in zip(ASSET_FIELDS, values, strict=True)}
    return None, network, host, asset


def _flatten(networks: Mapping[ipaddress.IPv4Network, dict[str, str | None]]) -> pl.DataFrame:
    """Cut nested networks into disjoint ranges labelled with the most specific network.

    CIDR blocks either nest or do not overlap at all, so a sweep in address order with a
    stack of the blocks that hold the current address gives each gap its innermost owner.
    """
    starts: list[int] = []
    ends: list[int] = []
    assets: list[dict[str, str | None]] = []

    def emit(start: int, end: int, asset: dict[str, str | None]) -> None:
        if start <= end:
            starts.append(start)
            ends.append(end)
            assets.append(asset)

    order = sorted(networks, key=lambda net: (int(net.network_address), -net.num_addresses))
    stack: list[tuple[int, dict[str, str | None]]] = []
    cursor = 0
    for net in order:
        first, last = int(net.network_address), int(net.broadcast_address)
        while stack and stack[-1][0] < first:
            end, asset = stack.pop()
            emit(cursor, end, asset)
            cursor = end + 1
        if stack:
            emit(cursor, first - 1, stack[-1][1])
        cursor = first
        stack.append((last, networks[net]))
    while stack:
        end, asset = stack.pop()
        emit(cursor, end, asset)
        cursor = end + 1
    return pl.DataFrame(
        {"start": starts, "end": ends, "asset": assets},
        schema={"start": pl.UInt32(), "end": pl.UInt32(), "asset": _ASSET},
    )
