"""Enrich: asset inventory, threat intelligence, GeoIP and ATT&CK lookups.

Stage functions are pure frame-to-frame steps; the ``load_*`` / ``open_*`` functions are
the only I/O. :func:`tag_assets` and :func:`match_indicators` run on whole event batches,
the others on the few alert rows.
"""

from enrich.assets import tag_assets
from enrich.attack import AttackCatalog, attack_columns, load_attack, tag_attack
from enrich.errors import CatalogError, EnrichError, Rejected, SourceFileError
from enrich.geo import GeoReader, geoip, open_geoip
from enrich.intel import IndicatorSet, attach_indicators, load_indicators, match_indicators
from enrich.inventory import AssetInventory, build_inventory, load_assets

__all__ = [
    "AssetInventory",
    "AttackCatalog",
    "CatalogError",
    "EnrichError",
    "GeoReader",
    "IndicatorSet",
    "Rejected",
    "SourceFileError",
    "attach_indicators",
    "attack_columns",
    "build_inventory",
    "geoip",
    "load_assets",
    "load_attack",
    "load_indicators",
    "match_indicators",
    "open_geoip",
    "tag_assets",
    "tag_attack",
]
