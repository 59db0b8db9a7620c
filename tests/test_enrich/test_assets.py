"""Tagging events with the asset that owns each side."""

import ipaddress

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from enrich.assets import tag_assets
from enrich.inventory import build_inventory

INVENTORY = build_inventory(
    [
        (
            "2",
            [
                "10.10.0.0/16",
                "*.mef.gov.kh",
                "mef",
                "Economy and Finance",
                "",
                "medium",
                "soc@mef.gov.kh",
            ],
        ),
        (
            "3",
            [
                "10.10.101.0/24",
                "fmis.mef.gov.kh",
                "mef",
                "Economy and Finance",
                "FMIS",
                "critical",
                "fmis@mef.gov.kh",
            ],
        ),
        ("4", ["10.20.0.0/16", "*.moh.gov.kh", "moh", "Health", "", "medium", ""]),
        ("5", ["", "*.dmz.moh.gov.kh", "moh", "Health", "DMZ", "high", ""]),
        ("6", ["10.20.5.9/32", "", "moh", "Health", "HMIS", "high", ""]),
    ]
)


def test_each_side_gets_its_owner_and_the_primary_prefers_host_then_destination() -> None:
    events = pl.DataFrame(
        {
            "host.name": ["FMIS.mef.gov.kh", "web.dmz.moh.gov.kh", None, "pc.other.example"],
            "source.ip": ["10.20.5.9", "192.0.2.1", "10.20.7.7", None],
            "destination.ip": ["10.10.101.5", None, "10.10.3.3", "10.99.0.1"],
        }
    )
    tagged = tag_assets(events, INVENTORY)
    assert tagged.select(
        "neakta.host.system", "neakta.source.system", "neakta.destination.system"
    ).rows() == [
        ("FMIS", "HMIS", "FMIS"),
        ("DMZ", None, None),
        (None, None, None),
        (None, None, None),
    ]
    assert tagged.select(
        "neakta.asset.side",
        "neakta.asset.ministry.id",
        "neakta.asset.criticality",
        "neakta.asset.contact",
        "organization.id",
        "organization.name",
    ).rows() == [
        ("host", "mef", "critical", "fmis@mef.gov.kh", "mef", "Economy and Finance"),
        ("host", "moh", "high", None, "moh", "Health"),
        ("destination", "mef", "medium", "soc@mef.gov.kh", "mef", "Economy and Finance"),
        (None, None, None, None, None, None),
    ]
    assert tagged.columns[:3] == events.columns


def test_an_exact_host_name_beats_the_network_and_the_network_beats_a_domain() -> None:
    events = pl.DataFrame(
        {"host.name": ["fmis.mef.gov.kh", "x.moh.gov.kh"], "host.ip": ["10.20.5.9", "10.10.101.1"]}
    )
    tagged = tag_assets(events, INVENTORY)
    assert tagged.get_column("neakta.host.system").to_list() == ["FMIS", "FMIS"]


def test_organization_already_set_by_the_parser_is_kept() -> None:
    events = pl.DataFrame(
        {"source.ip": ["10.10.1.1", "10.10.1.1"], "organization.id": ["moi", None]}
    )
    tagged = tag_assets(events, INVENTORY)
    assert tagged.get_column("organization.id").to_list() == ["moi", "mef"]
    assert tagged.get_column("organization.name").to_list() == [
        "Economy and Finance",
        "Economy and Finance",
    ]


def test_bad_addresses_and_missing_columns_give_nulls_not_errors() -> None:
    events = pl.DataFrame({"source.ip": ["not-an-ip", "::1", "", None, "10.10.300.1"]})
    tagged = tag_assets(events, INVENTORY)
    assert tagged.height == 5
    assert tagged.get_column("neakta.asset.ministry.id").null_count() == 5
    assert tagged.get_column("neakta.host.ministry.id").null_count() == 5


def test_ecs_arrays_use_their_first_element_and_other_types_are_read_as_text() -> None:
    events = pl.DataFrame(
        {
            "host.ip": [["10.10.101.9", "10.20.5.9"], [], None],
            "host.name": [1, 2, 3],
            "source.ip": [{"a": 1}, {"a": 2}, {"a": 3}],
        }
    )
    tagged = tag_assets(events, INVENTORY)
    assert tagged.get_column("neakta.host.system").to_list() == ["FMIS", None, None]
    assert tagged.get_column("neakta.source.system").to_list() == [None, None, None]


def test_an_empty_batch_keeps_its_shape() -> None:
    events = pl.DataFrame(schema={"source.ip": pl.String()})
    tagged = tag_assets(events, INVENTORY)
    assert tagged.height == 0
    assert "neakta.asset.system" in tagged.columns


_ADDRESSES = st.integers(
    int(ipaddress.ip_address("10.0.0.0")), int(ipaddress.ip_address("10.0.255.255"))
)
_NETWORKS = st.builds(
    lambda address, prefix: ipaddress.ip_network((address, prefix), strict=False),
    _ADDRESSES,
    st.integers(8, 32),
)


def _reference(address: str, networks: list[ipaddress.IPv4Network]) -> str | None:
    """The most specific network holding the address, by plain ipaddress checks."""
    holding = [net for net in networks if ipaddress.ip_address(address) in net]
    return str(max(holding, key=lambda net: net.prefixlen)) if holding else None


@settings(max_examples=150, deadline=None)
@given(
    networks=st.lists(_NETWORKS, max_size=12, unique=True),
    addresses=st.lists(
        st.one_of(_ADDRESSES, st.integers(0, 2**32 - 1)).map(
            lambda number: str(ipaddress.ip_address(number))
        ),
        max_size=30,
    ),
)
def test_tag_assets_agrees_with_a_plain_ipaddress_reference(
    networks: list[ipaddress.IPv4Network], addresses: list[str]
) -> None:
    inventory = build_inventory(
        (str(net), [str(net), "", "m", "", str(net), "low", ""]) for net in networks
    )
    events = pl.DataFrame({"destination.ip": addresses}, schema={"destination.ip": pl.String()})
    tagged = tag_assets(events, inventory)
    expected = [_reference(address, networks) for address in addresses]
    assert tagged.get_column("neakta.destination.system").to_list() == expected


def test_an_empty_inventory_tags_nothing() -> None:
    events = pl.DataFrame({"host.name": ["a.mef.gov.kh"], "source.ip": ["10.10.0.1"]})
    tagged = tag_assets(events, build_inventory([]))
    assert tagged.select("neakta.asset.side", "organization.id").rows() == [(None, None)]
