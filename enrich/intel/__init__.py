"""Threat intelligence: indicators loaded, matched against events, attached to alerts.

* :mod:`enrich.intel.load`: indicators from plain CSV and STIX 2.1 bundles
  (:class:`IndicatorSet`);
* :mod:`enrich.intel.stix`: the STIX 2.1 pattern subset those bundles may use;
* :mod:`enrich.intel.match`: which event rows hold which indicator (a detection of its own);
* :mod:`enrich.intel.attach`: indicator hits attached to alerts as ``threat.enrichments``.
"""

from enrich.intel.attach import attach_indicators
from enrich.intel.load import IndicatorSet, build_indicators, load_indicators
from enrich.intel.match import match_indicators
from enrich.intel.stix import PatternError, parse_pattern

__all__ = [
    "IndicatorSet",
    "PatternError",
    "attach_indicators",
    "build_indicators",
    "load_indicators",
    "match_indicators",
    "parse_pattern",
]
