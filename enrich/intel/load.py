"""Threat-intelligence indicators: loaded from plain CSV and STIX 2.1 bundles.

Every loader returns an :class:`IndicatorSet`: the indicators as a frame of
:data:`INDICATOR_SCHEMA`, normalized so that matching is plain equality (addresses in
canonical form, domains and hashes in lower case), and the entries it had to refuse.

CSV files have the header ``type,value,source,confidence,description`` (more columns
are ignored); ``type`` is one of :data:`INDICATOR_TYPES`, ``confidence`` an integer
from 0 to 100 or empty.
"""

from __future__ import annotations

import csv
import ipaddress
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import polars as pl

from enrich.errors import Rejected, SourceFileError
from enrich.intel.stix import PatternError, parse_pattern

__all__ = [
    "INDICATOR_SCHEMA",
    "INDICATOR_TYPES",
    "IndicatorSet",
    "build_indicators",
    "combine_indicators",
    "load_indicators",
    "load_indicators_csv",
    "load_stix_bundle",
    "normalize",
]

INDICATOR_TYPES: Final = ("ipv4", "cidr", "domain", "url", "md5", "sha1", "sha256")
"""Indicator types neakta matches."""

INDICATOR_SCHEMA: Final[dict[str, pl.DataType]] = {
    "type": pl.String(),
    "value": pl.String(),
    "source": pl.String(),
    "confidence": pl.Int32(),
    "description": pl.String(),
    "id": pl.String(),
}
"""Columns of :attr:`IndicatorSet.indicators`."""

_HASH_LENGTHS: Final = {"md5": 32, "sha1": 40, "sha256": 64}
_DOMAIN: Final = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*$")
_HEX: Final = re.compile(r"^[0-9a-f]+$")


@dataclass(frozen=True, slots=True)
class IndicatorSet:
    """Indicators ready for :func:`enrich.intel.match.match_indicators`, and what was refused."""

    indicators: pl.DataFrame
    rejected: tuple[Rejected, ...] = ()


def normalize(kind: str, value: str) -> tuple[str, str]:
    """The canonical ``(type, value)`` of an indicator, or ValueError with the reason.

    Examples
    --------
    >>> normalize("ipv4", "198.51.100.0/24")
    ('cidr', '198.51.100.0/24')
    >>> normalize("domain", "*.Bad.Example.")
    ('domain', 'bad.example')
    """
    kind, value = kind.strip().lower(), value.strip()
    if kind in {"ipv4", "cidr"}:
        network = ipaddress.ip_network(value, strict=False)
        if not isinstance(network, ipaddress.IPv4Network):
            raise ValueError(f"IPv6 indicators are not supported ({value})")
        if network.prefixlen == 32:
            return "ipv4", str(network.network_address)
        return "cidr", str(network)
    if kind == "domain":
        domain = value.lower().removeprefix("*.").rstrip(".")
        if not _DOMAIN.match(domain):
            raise ValueError(f"invalid domain {value!r}")
        return "domain", domain
    if kind == "url":
        if "://" not in value or any(char.isspace() for char in value):
            raise ValueError(f"invalid URL {value!r} (scheme://... without spaces)")
        return "url", value
    if kind in _HASH_LENGTHS:
        digest = value.lower()
        if len(digest) != _HASH_LENGTHS[kind] or not _HEX.match(digest):
            raise ValueError(f"invalid {kind} {value!r}: {_HASH_LENGTHS[kind]} hex digits")
        return kind, digest
    raise ValueError(f"unknown indicator type {kind!r} (one of {', '.join(INDICATOR_TYPES)})")


def build_indicators(
    entries: Iterable[tuple[str, str, str, str, str | None, str | None, str | None]],
    *,
    source: str = "indicators",
) -> IndicatorSet:
    """Validate ``(position, type, value, source, confidence, description, id)`` entries.

    Examples
    --------
    >>> found = build_indicators([
    ...     ("line 2", "ipv4", "198.51.100.7", "feed", "80", "scanner", None),
    ...     ("line 3", "md5", "xyz", "feed", None, None, None),
    ... ])
    >>> found.indicators.select("type", "value", "confidence").rows()
    [('ipv4', '198.51.100.7', 80)]
    >>> found.rejected[0].reason
    "invalid md5 'xyz': 32 hex digits"
    """
    rows: list[dict[str, Any]] = []
    rejected: list[Rejected] = []
    seen: set[tuple[str, str, str]] = set()
    for position, raw_kind, raw_value, origin, confidence, description, identifier in entries:
        text = f"{raw_kind},{raw_value}"[:200]
        try:
            kind, value = normalize(raw_kind, raw_value)
            score = int(confidence) if confidence not in (None, "") else None
        except ValueError as error:
            rejected.append(Rejected(source, position, text, str(error)))
            continue
        if score is not None and not 0 <= score <= 100:
            rejected.append(Rejected(source, position, text, "confidence must be 0..100"))
            continue
        if (kind, value, origin) in seen:
            continue
        seen.add((kind, value, origin))
        rows.append(
            {
                "type": kind,
                "value": value,
                "source": origin or source,
                "confidence": score,
                "description": description or None,
                "id": identifier or None,
            }
        )
    frame = pl.DataFrame(rows, schema=INDICATOR_SCHEMA)
    return IndicatorSet(frame, tuple(rejected))


def combine_indicators(sets: Iterable[IndicatorSet]) -> IndicatorSet:
    """One set from several feeds (rows and rejections kept in order)."""
    collected = list(sets)
    frames = [found.indicators for found in collected]
    frame = pl.concat(frames) if frames else pl.DataFrame(schema=INDICATOR_SCHEMA)
    return IndicatorSet(
        frame.unique(["type", "value", "source"], keep="first", maintain_order=True),
        tuple(entry for found in collected for entry in found.rejected),
    )


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SourceFileError(f"{path}: cannot read the indicators: {error}") from error


def load_indicators_csv(path: Path) -> IndicatorSet:
    """Read ``type,value,source,confidence,description`` lines (header required)."""
    reader = csv.DictReader(_read(path).splitlines())
    if not {"type", "value"} <= set(reader.fieldnames or ()):
        raise SourceFileError(f"{path}: the header needs at least the columns type,value")
    entries = (
        (
            f"line {reader.line_num}",
            row.get("type") or "",
            row.get("value") or "",
            row.get("source") or path.stem,
            row.get("confidence"),
            row.get("description"),
            None,
        )
        for row in reader
    )
    return build_indicators(entries, source=str(path))


def load_stix_bundle(path: Path) -> IndicatorSet:
    """Read the ``indicator`` objects of a STIX 2.1 bundle (other objects are context).

    The provider is the name of the ``identity`` the indicator's ``created_by_ref`` points
    to when the bundle holds it, else the file name. Revoked indicators and patterns
    outside :func:`enrich.intel.stix.parse_pattern`'s subset are rejected with the reason.
    """
    try:
        bundle = json.loads(_read(path))
    except json.JSONDecodeError as error:
        raise SourceFileError(f"{path}: not JSON: {error}") from error
    objects = bundle.get("objects") if isinstance(bundle, dict) else None
    if not isinstance(objects, list):
        raise SourceFileError(f"{path}: not a STIX bundle (no 'objects' list)")
    names = {
        item.get("id"): item.get("name")
        for item in objects
        if isinstance(item, dict) and item.get("type") == "identity"
    }
    entries: list[tuple[str, str, str, str, str | None, str | None, str | None]] = []
    rejected: list[Rejected] = []
    for number, item in enumerate(objects):
        if not isinstance(item, dict) or item.get("type") != "indicator":
            continue
        position, pattern = f"objects[{number}]", str(item.get("pattern", ""))
        reason = None
        if item.get("revoked") is True:
            reason = "revoked"
        elif item.get("pattern_type", "stix") != "stix":
            reason = f"pattern_type {item.get('pattern_type')!r} is not stix"
        else:
            try:
                pairs = parse_pattern(pattern)
            except PatternError as error:
                reason = f"pattern: {error}"
        if reason is not None:
            rejected.append(Rejected(str(path), position, pattern[:200], reason))
            continue
        provider = str(names.get(item.get("created_by_ref")) or path.stem)
        confidence = item.get("confidence")
        description = item.get("description") or item.get("name")
        entries.extend(
            (
                position,
                kind,
                value,
                provider,
                None if confidence is None else str(confidence),
                None if description is None else str(description),
                str(item.get("id", "")),
            )
            for kind, value in pairs
        )
    built = build_indicators(entries, source=str(path))
    return IndicatorSet(built.indicators, (*rejected, *built.rejected))


def load_indicators(paths: Iterable[Path]) -> IndicatorSet:
    """Load every file (``.json``: STIX bundle, otherwise CSV) into one set."""
    return combine_indicators(
        load_stix_bundle(path) if path.suffix.lower() == ".json" else load_indicators_csv(path)
        for path in paths
    )
