"""Enrich: asset inventory, threat intelligence, GeoIP and ATT&CK lookups."""

__all__: list[str] = []
