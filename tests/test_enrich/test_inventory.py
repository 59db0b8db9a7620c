"""Loading the asset inventory: valid lines become lookups, bad lines are kept with a reason."""

import ipaddress
from pathlib import Path

import polars as pl
import pytest

from enrich.errors import SourceFileError
from enrich.inventory import build_inventory, load_assets
from samples.assets import generate_inventory

HEADER = "network,host,ministry_id,ministry_name,system,criticality,contact\n"
DATA = Path(__file__).resolve().parents[2] / "enrich" / "data"


def number(address: str) -> int:
    return int(ipaddress.ip_address(address))


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "assets.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def test_bad_lines_are_rejected_with_reasons_and_the_rest_loads(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "10.10.0.0/16,*.mef.gov.kh,mef,Economy,,medium,soc@mef.gov.kh\n"
        "10.10.0.0/16,,mef,Economy,,high,\n"
        "10.20.0.1/16,,moh,Health,,high,\n"
        "fe80::/64,,moh,Health,,high,\n"
        ",,moh,Health,,high,\n"
        "10.30.0.0/16,,moeys,Education,,urgent,\n"
        "10.40.0.0/16,bad host!,mptc,Posts,,low,\n"
        "10.50.0.0/16,,,Interior,,low,\n"
        "10.60.0.0/16,,x\n"
        "10.70.0.0/16,FMIS.MEF.GOV.KH.,MEF,Economy,FMIS,Critical,\n",
    )
    inventory = load_assets(path)
    reasons = [(entry.position, entry.reason) for entry in inventory.rejected]
    assert reasons == [
        ("line 3", "network: 10.10.0.0/16 is already defined on line 2"),
        ("line 4", "network: invalid IPv4 network '10.20.0.1/16'"),
        ("line 5", "network: IPv6 networks are not supported (fe80::/64)"),
        ("line 6", "a line needs a network or a host"),
        ("line 7", "criticality: 'urgent' is not one of low|medium|high|critical"),
        ("line 8", "host: invalid host name 'bad host!'"),
        ("line 9", "ministry_id is empty"),
        ("line 10", "expected 7 columns, got 3"),
    ]
    assert inventory.hosts.rows() == [
        (
            "mef.gov.kh",
            True,
            {
                "ministry.id": "mef",
                "ministry.name": "Economy",
                "system": None,
                "criticality": "medium",
                "contact": "soc@mef.gov.kh",
            },
        ),
        (
            "fmis.mef.gov.kh",
            False,
            {
                "ministry.id": "mef",
                "ministry.name": "Economy",
                "system": "FMIS",
                "criticality": "critical",
                "contact": None,
            },
        ),
    ]
    assert inventory.ranges.select("start", "end").rows() == [
        (number("10.10.0.0"), number("10.10.255.255")),
        (number("10.70.0.0"), number("10.70.255.255")),
    ]


def test_wrong_header_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "assets.csv"
    path.write_text("cidr,ministry\n10.0.0.0/8,x\n", encoding="utf-8")
    with pytest.raises(SourceFileError, match="the header must be network,host,"):
        load_assets(path)


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourceFileError, match="cannot read the asset inventory"):
        load_assets(tmp_path / "absent.csv")


def test_nested_networks_become_disjoint_ranges_owned_by_the_innermost() -> None:
    inventory = build_inventory(
        [
            ("a", ["10.0.0.0/8", "", "a", "", "", "low", ""]),
            ("b", ["10.1.0.0/16", "", "b", "", "", "low", ""]),
            ("c", ["10.1.2.0/24", "", "c", "", "", "low", ""]),
            ("d", ["10.1.2.128/25", "", "d", "", "", "low", ""]),
            ("e", ["10.9.0.0/16", "", "e", "", "", "low", ""]),
        ]
    )
    owners = inventory.ranges.select(
        "start", "end", pl.col("asset").struct.field("ministry.id")
    ).rows()
    assert owners == [
        (number("10.0.0.0"), number("10.0.255.255"), "a"),
        (number("10.1.0.0"), number("10.1.1.255"), "b"),
        (number("10.1.2.0"), number("10.1.2.127"), "c"),
        (number("10.1.2.128"), number("10.1.2.255"), "d"),
        (number("10.1.3.0"), number("10.1.255.255"), "b"),
        (number("10.2.0.0"), number("10.8.255.255"), "a"),
        (number("10.9.0.0"), number("10.9.255.255"), "e"),
        (number("10.10.0.0"), number("10.255.255.255"), "a"),
    ]


def test_the_sample_inventory_is_what_the_generator_writes() -> None:
    assert (DATA / "assets.csv").read_text(encoding="utf-8") == generate_inventory()


def test_the_sample_inventory_loads_without_rejections() -> None:
    inventory = load_assets(DATA / "assets.csv")
    assert inventory.rejected == ()
    ministries = inventory.hosts.get_column("asset").struct.field("ministry.id").unique()
    assert ministries.len() == 29
    assert inventory.hosts.height == 29 + 183
    assert inventory.hosts.filter(pl.col("name") == "camdx.mef.gov.kh").height == 1
