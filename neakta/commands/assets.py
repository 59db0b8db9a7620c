"""``neakta assets lookup|check``: ask the asset inventory who owns an address or host.

The lookups the pipeline uses are built by :func:`neakta.wiring.enrichment_from_settings`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

import polars as pl

from enrich import (
    load_assets,
    tag_assets,
)
from enrich.inventory import ASSET_FIELDS
from neakta.settings import Settings

__all__ = ["SAMPLE_ASSETS", "register"]

SAMPLE_ASSETS = Path(__file__).resolve().parents[2] / "enrich" / "data" / "assets.csv"
"""The bundled sample inventory of Cambodia's ministries."""


def cmd_lookup(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    inventory = load_assets(args.assets)
    values: list[str] = args.values
    events = pl.DataFrame({"host.name": values, "host.ip": values})
    tagged = tag_assets(events, inventory)
    fields = [f"neakta.host.{field}" for field in ASSET_FIELDS]
    found = 0
    for value, row in zip(values, tagged.select(fields).iter_rows(), strict=True):
        if row[0] is None:
            print(f"{value}\tnot in the inventory", file=out)
            continue
        found += 1
        print("\t".join([value, *(cell or "-" for cell in row)]), file=out)
    return 0 if found == len(values) else 1


def cmd_check(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    inventory = load_assets(args.assets)
    for entry in inventory.rejected:
        print(entry, file=out)
    print(
        f"{inventory.ranges.height} address ranges, {inventory.hosts.height} host names, "
        f"{len(inventory.rejected)} lines rejected",
        file=out,
    )
    return 1 if inventory.rejected else 0


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], settings: Settings
) -> None:
    """Add ``neakta assets lookup`` and ``neakta assets check``."""
    assets = commands.add_parser("assets", help="query the asset inventory")
    verbs = assets.add_subparsers(dest="assets_command", required=True)
    default = settings.enrich.assets or SAMPLE_ASSETS
    lookup = verbs.add_parser(
        "lookup", help="ministry, system, criticality and contact of IPv4 addresses or hosts"
    )
    lookup.add_argument("values", nargs="+", help="IPv4 addresses or host names")
    check = verbs.add_parser("check", help="report the inventory lines that are rejected")
    for parser in (lookup, check):
        parser.add_argument(
            "--assets",
            type=Path,
            default=default,
            help="inventory CSV (env NEAKTA_ENRICH__ASSETS; default: the bundled sample)",
        )
    lookup.set_defaults(handler=cmd_lookup)
    check.set_defaults(handler=cmd_check)
