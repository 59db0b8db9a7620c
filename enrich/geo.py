"""GeoIP for alerts: country, city, location and autonomous system of public addresses.

Lookups go through a :class:`GeoReader` (``maxminddb.Reader`` is one) once per distinct
address, because alerts are few. Only globally routable addresses are looked up:
private, loopback, link-local, shared (100.64.0.0/10), documentation and other reserved
addresses get nothing, whatever the database says. GeoIP is optional: without a reader
:func:`geoip` returns the alerts unchanged.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final, Protocol

import maxminddb
import polars as pl

from enrich.columns import string_column
from enrich.errors import SourceFileError

__all__ = ["GEO_FIELDS", "GeoReader", "geoip", "open_geoip"]


class GeoReader(Protocol):
    """What :func:`geoip` needs from a database: one record (a mapping) per address."""

    def get(self, ip_address: str, /) -> object:
        """The record for ``ip_address``, or None."""
        ...


GEO_FIELDS: Final[dict[str, pl.DataType]] = {
    "geo.continent_name": pl.String(),
    "geo.country_iso_code": pl.String(),
    "geo.country_name": pl.String(),
    "geo.region_name": pl.String(),
    "geo.city_name": pl.String(),
    "geo.location": pl.Struct({"lat": pl.Float64(), "lon": pl.Float64()}),
    "as.number": pl.Int64(),
    "as.organization.name": pl.String(),
}
"""Added per address column ``<side>.ip``, as ``<side>.<field>``."""


def open_geoip(path: Path | None) -> maxminddb.Reader | None:
    """Open a MaxMind database, or None when no path is configured.

    Raises
    ------
    SourceFileError
        The file is missing or is not a MaxMind database.
    """
    if path is None:
        return None
    try:
        return maxminddb.open_database(str(path))
    except (OSError, ValueError, maxminddb.InvalidDatabaseError) as error:
        raise SourceFileError(f"{path}: cannot open the GeoIP database: {error}") from error


def _name(record: Mapping[str, object], key: str) -> str | None:
    part = record.get(key)
    names = part.get("names") if isinstance(part, Mapping) else None
    english = names.get("en") if isinstance(names, Mapping) else None
    return english if isinstance(english, str) else None


def _describe(record: object) -> dict[str, object]:
    """The GEO_FIELDS of one City/Country/ASN record (absent parts stay None)."""
    found: dict[str, object] = dict.fromkeys(GEO_FIELDS)
    if not isinstance(record, Mapping):
        return found
    country = record.get("country")
    subdivisions = record.get("subdivisions")
    location = record.get("location")
    found["geo.continent_name"] = _name(record, "continent")
    found["geo.country_name"] = _name(record, "country")
    if isinstance(country, Mapping) and isinstance(country.get("iso_code"), str):
        found["geo.country_iso_code"] = country["iso_code"]
    if isinstance(subdivisions, list) and subdivisions and isinstance(subdivisions[0], Mapping):
        found["geo.region_name"] = _name({"s": subdivisions[0]}, "s")
    found["geo.city_name"] = _name(record, "city")
    if isinstance(location, Mapping):
        lat, lon = location.get("latitude"), location.get("longitude")
        if isinstance(lat, int | float) and isinstance(lon, int | float):
            found["geo.location"] = {"lat": float(lat), "lon": float(lon)}
    number = record.get("autonomous_system_number")
    if isinstance(number, int):
        found["as.number"] = number
    organization = record.get("autonomous_system_organization")
    if isinstance(organization, str):
        found["as.organization.name"] = organization
    return found


def _is_public(text: str) -> bool:
    try:
        return ipaddress.ip_address(text.strip()).is_global
    except ValueError:
        return False


def geoip(
    alerts: pl.DataFrame,
    reader: GeoReader | None,
    *,
    asn_reader: GeoReader | None = None,
    columns: Sequence[str] = ("source.ip", "destination.ip"),
) -> pl.DataFrame:
    """Add ``<side>.geo.*`` and ``<side>.as.*`` (see :data:`GEO_FIELDS`) for public addresses.

    Parameters
    ----------
    alerts
        The alert rows (few); columns in ``columns`` that it lacks are skipped.
    reader
        A City (or Country) database; None with no ``asn_reader`` means no GeoIP at all.
    asn_reader
        An optional ASN database, for ``as.number`` / ``as.organization.name`` when the
        City database has none.

    Examples
    --------
    >>> class Table:
    ...     def get(self, ip_address: str) -> object:
    ...         return {"country": {"iso_code": "GB", "names": {"en": "United Kingdom"}},
    ...                 "location": {"latitude": 51.5, "longitude": -0.1}}
    >>> alerts = pl.DataFrame({"source.ip": ["81.2.69.142", "10.0.0.1"]})
    >>> geoip(alerts, Table()).select("source.geo.country_iso_code",
    ...                               "source.geo.location").rows()
    [('GB', {'lat': 51.5, 'lon': -0.1}), (None, None)]
    >>> geoip(alerts, None).columns
    ['source.ip']
    """
    if reader is None and asn_reader is None:
        return alerts
    added: list[pl.Series] = []
    for column in columns:
        if column not in alerts.columns:
            continue
        side = column.removesuffix(".ip")
        values = string_column(alerts, column)
        records: list[dict[str, object]] = []
        distinct = [value for value in values.unique().to_list() if value is not None]
        for value in distinct:
            found = dict.fromkeys(GEO_FIELDS)
            if _is_public(value):
                for source in (reader, asn_reader):
                    if source is not None:
                        looked = _describe(source.get(value.strip()))
                        found |= {k: v for k, v in looked.items() if found[k] is None}
            records.append(found)
        table = pl.DataFrame(
            {"_address": distinct, **{f: [r[f] for r in records] for f in GEO_FIELDS}},
            schema={"_address": pl.String(), **GEO_FIELDS},
        )
        joined = pl.DataFrame({"_address": values}).join(
            table, on="_address", how="left", maintain_order="left"
        )
        added.extend(joined.get_column(f).alias(f"{side}.{f}") for f in GEO_FIELDS)
    return alerts.with_columns(added)
