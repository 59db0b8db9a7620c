"""GeoIP from a real (tiny) MaxMind database built offline."""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from enrich.errors import SourceFileError
from enrich.geo import geoip, open_geoip

LONDON: dict[str, Any] = {
    "continent": {"code": "EU", "names": {"en": "Europe"}},
    "country": {"iso_code": "GB", "names": {"en": "United Kingdom"}},
    "subdivisions": [{"iso_code": "ENG", "names": {"en": "England"}}],
    "city": {"names": {"en": "London"}},
    "location": {"latitude": 51.5142, "longitude": -0.0931},
}


def build(path: Path, networks: Mapping[str, dict[str, Any]], kind: str) -> Path:
    writer = MMDBWriter(ip_version=4, database_type=kind, languages=["en"])
    for network, record in networks.items():
        writer.insert_network(IPSet([network]), record)
    writer.to_db_file(str(path))
    return path


def test_public_addresses_get_geo_private_and_reserved_get_nothing(tmp_path: Path) -> None:
    city = build(
        tmp_path / "city.mmdb",
        # The private and documentation networks are in the database on purpose: they must
        # still get nothing.
        {"81.2.69.0/24": LONDON, "10.0.0.0/8": LONDON, "198.51.100.0/24": LONDON},
        "GeoLite2-City",
    )
    reader = open_geoip(city)
    assert reader is not None
    alerts = pl.DataFrame(
        {
            "source.ip": ["81.2.69.142", "10.1.2.3", "198.51.100.7", "8.8.8.8", "garbage", None],
            "destination.ip": ["127.0.0.1", "81.2.69.160", None, None, None, None],
        }
    )
    located = geoip(alerts, reader)
    reader.close()
    assert located.select(
        "source.geo.country_iso_code",
        "source.geo.city_name",
        "source.geo.region_name",
        "source.geo.continent_name",
        "source.geo.location",
    ).rows() == [
        ("GB", "London", "England", "Europe", {"lat": 51.5142, "lon": -0.0931}),
        (None, None, None, None, None),
        (None, None, None, None, None),
        (None, None, None, None, None),
        (None, None, None, None, None),
        (None, None, None, None, None),
    ]
    assert located.get_column("destination.geo.country_name").to_list() == [
        None,
        "United Kingdom",
        None,
        None,
        None,
        None,
    ]
    assert located.get_column("source.as.number").null_count() == 6


def test_an_asn_database_adds_the_autonomous_system(tmp_path: Path) -> None:
    city = open_geoip(build(tmp_path / "city.mmdb", {"81.2.69.0/24": LONDON}, "GeoLite2-City"))
    asn = open_geoip(
        build(
            tmp_path / "asn.mmdb",
            {
                "81.2.64.0/20": {
                    "autonomous_system_number": 20712,
                    "autonomous_system_organization": "Andrews & Arnold Ltd",
                }
            },
            "GeoLite2-ASN",
        )
    )
    alerts = pl.DataFrame({"source.ip": ["81.2.69.142", "81.2.70.1"]})
    located = geoip(alerts, city, asn_reader=asn)
    assert located.select(
        "source.geo.city_name", "source.as.number", "source.as.organization.name"
    ).rows() == [
        ("London", 20712, "Andrews & Arnold Ltd"),
        (None, 20712, "Andrews & Arnold Ltd"),
    ]


def test_without_a_database_nothing_is_added() -> None:
    alerts = pl.DataFrame({"source.ip": ["81.2.69.142"]})
    assert open_geoip(None) is None
    assert geoip(alerts, None).equals(alerts)


def test_a_file_that_is_not_a_database_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "city.mmdb"
    path.write_bytes(b"not a database")
    with pytest.raises(SourceFileError, match="cannot open the GeoIP database"):
        open_geoip(path)
