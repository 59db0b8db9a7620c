"""Ingest: sources, decoding and parsing of ministries' logs into normalised frames."""

__all__: list[str] = []
