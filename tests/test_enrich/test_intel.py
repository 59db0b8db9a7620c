"""Matching events against indicators and attaching the hits to alerts."""

import ipaddress
import string
from collections import Counter

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enrich.errors import CatalogError
from enrich.intel.attach import attach_indicators
from enrich.intel.load import build_indicators
from enrich.intel.match import _prepared, match_indicators

INTEL = build_indicators(
    [
        ("1", "ipv4", "198.51.100.7", "feed-a", "90", "c2", None),
        ("2", "ipv4", "198.51.100.7", "feed-b", "40", None, None),
        ("3", "cidr", "198.51.100.0/24", "feed-a", "20", None, None),
        ("4", "cidr", "198.51.0.0/16", "feed-a", None, None, None),
        ("5", "domain", "bad.example", "feed-a", None, None, None),
        ("6", "url", "http://bad.example/Payload.hta", "feed-a", None, None, None),
        ("7", "md5", "098f6bcd4621d373cade4e832627b4f6", "feed-a", None, None, None),
    ]
).indicators


def hits_of(events: pl.DataFrame) -> list[tuple[object, ...]]:
    return (
        match_indicators(events, INTEL)
        .select("row", "matched.field", "indicator.value", "indicator.source")
        .rows()
    )


def test_an_address_hits_every_indicator_and_network_holding_it() -> None:
    events = pl.DataFrame({"source.ip": ["10.0.0.1", "198.51.100.7", "198.51.7.7", "bad"]})
    assert hits_of(events) == [
        (1, "source.ip", "198.51.0.0/16", "feed-a"),
        (1, "source.ip", "198.51.100.0/24", "feed-a"),
        (1, "source.ip", "198.51.100.7", "feed-a"),
        (1, "source.ip", "198.51.100.7", "feed-b"),
        (2, "source.ip", "198.51.0.0/16", "feed-a"),
    ]


def test_domains_match_themselves_and_subdomains_only() -> None:
    events = pl.DataFrame(
        {"dns.question.name": ["bad.example", "a.b.BAD.example.", "notbad.example", "example"]}
    )
    assert hits_of(events) == [
        (0, "dns.question.name", "bad.example", "feed-a"),
        (1, "dns.question.name", "bad.example", "feed-a"),
    ]


def test_urls_match_exactly_and_hashes_ignore_case() -> None:
    events = pl.DataFrame(
        {
            "url.original": ["http://bad.example/Payload.hta", "http://bad.example/payload.hta"],
            "process.hash.md5": [None, "098F6BCD4621D373CADE4E832627B4F6"],
        }
    )
    assert hits_of(events) == [
        (0, "url.original", "http://bad.example/Payload.hta", "feed-a"),
        (1, "process.hash.md5", "098f6bcd4621d373cade4e832627b4f6", "feed-a"),
    ]


def test_one_row_can_hit_in_several_fields_and_nothing_means_an_empty_frame() -> None:
    events = pl.DataFrame({"source.ip": ["198.51.7.1"], "destination.ip": ["198.51.8.1"]})
    assert hits_of(events) == [
        (0, "destination.ip", "198.51.0.0/16", "feed-a"),
        (0, "source.ip", "198.51.0.0/16", "feed-a"),
    ]
    quiet = match_indicators(pl.DataFrame({"user.name": ["bob"]}), INTEL)
    assert quiet.height == 0
    assert quiet.columns[:3] == ["row", "matched.field", "matched.atomic"]


def test_hits_become_ecs_threat_enrichments_on_the_alerts_of_their_rows() -> None:
    events = pl.DataFrame(
        {"source.ip": ["10.0.0.1", "198.51.100.7"], "url.domain": [None, "x.bad.example"]}
    )
    hits = match_indicators(events, INTEL)
    alerts = pl.DataFrame({"row": [1, 0, 1], "rule.id": ["r1", "r1", "r2"]})
    enriched = attach_indicators(alerts, hits).get_column("threat.enrichments").to_list()
    assert enriched[1] is None
    assert enriched[0] == enriched[2]
    first = enriched[0]
    assert [item["indicator"]["name"] for item in first] == [
        "198.51.0.0/16",
        "198.51.100.0/24",
        "198.51.100.7",
        "198.51.100.7",
        "bad.example",
    ]
    assert first[2] == {
        "indicator": {
            "type": "ipv4-addr",
            "name": "198.51.100.7",
            "ip": "198.51.100.7",
            "url": {"full": None, "domain": None},
            "file": {"hash": {"md5": None, "sha1": None, "sha256": None}},
            "provider": "feed-a",
            "confidence": "High",
            "description": "c2",
        },
        "matched": {"atomic": "198.51.100.7", "field": "source.ip", "type": "indicator_match_rule"},
    }
    assert [item["indicator"]["confidence"] for item in first] == [
        "Not Specified",
        "Low",
        "High",
        "Medium",
        "Not Specified",
    ]
    assert first[4]["indicator"]["url"] == {"full": None, "domain": "bad.example"}
    assert first[4]["indicator"]["type"] == "domain-name"


def test_array_columns_are_searched_by_their_first_element() -> None:
    events = pl.DataFrame({"source.ip": [["198.51.100.7", "10.0.0.1"], None]})
    assert hits_of(events)[2:] == [
        (0, "source.ip", "198.51.100.7", "feed-a"),
        (0, "source.ip", "198.51.100.7", "feed-b"),
    ]


def test_an_indicator_table_without_its_columns_is_refused_by_name() -> None:
    table = pl.DataFrame({"type": ["ipv4"], "value": ["198.51.100.7"]})
    with pytest.raises(CatalogError, match="lack the columns source, confidence"):
        match_indicators(pl.DataFrame({"source.ip": ["198.51.100.7"]}), table)


_ADDRESSES = st.integers(
    int(ipaddress.ip_address("198.51.0.0")), int(ipaddress.ip_address("198.51.3.255"))
)


@settings(max_examples=100, deadline=None)
@given(
    networks=st.lists(
        st.builds(
            lambda address, prefix: ipaddress.ip_network((address, prefix), strict=False),
            _ADDRESSES,
            st.integers(14, 32),
        ),
        max_size=8,
    ),
    addresses=st.lists(_ADDRESSES.map(lambda n: str(ipaddress.ip_address(n))), max_size=20),
)
def test_address_hits_agree_with_a_plain_ipaddress_reference(
    networks: list[ipaddress.IPv4Network], addresses: list[str]
) -> None:
    intel = build_indicators(
        (str(index), "cidr", str(net), "feed", None, None, None)
        for index, net in enumerate(networks)
    ).indicators
    events = pl.DataFrame({"destination.ip": addresses}, schema={"destination.ip": pl.String()})
    found = match_indicators(events, intel).select("row", "indicator.value").rows()
    expected = sorted(
        {
            (row, str(net) if net.prefixlen < 32 else str(net.network_address))
            for row, address in enumerate(addresses)
            for net in networks
            if ipaddress.ip_address(address) in net
        }
    )
    assert sorted(found) == expected


def test_a_name_of_any_depth_under_an_indicator_domain_hits() -> None:
    deep = ".".join(f"l{n}" for n in range(20)) + ".Bad.Example"
    events = pl.DataFrame({"dns.question.name": [deep, "\u212a.bad.example", "bad.example.com"]})
    assert hits_of(events) == [
        (0, "dns.question.name", "bad.example", "feed-a"),
        (1, "dns.question.name", "bad.example", "feed-a"),  # under it, whatever the first label
    ]


def test_only_ascii_letters_fold_when_names_are_compared() -> None:
    intel = build_indicators([("1", "domain", "kk.example", "feed", None, None, None)]).indicators
    events = pl.DataFrame({"url.domain": ["KK.EXAMPLE", "\u212ak.example"]})  # a Kelvin sign
    assert match_indicators(events, intel).get_column("row").to_list() == [0]


def test_an_indicator_table_is_prepared_once_and_each_table_for_itself() -> None:
    other = build_indicators([("9", "domain", "other.example", "f", None, None, None)]).indicators
    assert _prepared(INTEL) is _prepared(INTEL)
    assert _prepared(other) is not _prepared(INTEL)
    domains = _prepared(other).wanted("domain")
    assert domains is not None and domains.get_column("key").to_list() == ["other.example"]


_LABEL = st.text("abK-", min_size=1, max_size=3)
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


@settings(max_examples=150, deadline=None)
@given(
    domains=st.lists(st.lists(_LABEL, min_size=1, max_size=3).map(".".join), max_size=5),
    names=st.lists(
        st.tuples(st.lists(_LABEL, min_size=1, max_size=6).map(".".join), st.booleans()),
        max_size=20,
    ),
)
def test_domain_hits_agree_with_a_plain_python_reference(
    domains: list[str], names: list[tuple[str, bool]]
) -> None:
    intel = build_indicators(
        (str(n), "domain", d, "feed", None, None, None) for n, d in enumerate(domains)
    ).indicators
    texts = [name + ("." if final_dot else "") for name, final_dot in names]
    events = pl.DataFrame({"dns.question.name": texts}, schema={"dns.question.name": pl.String})
    found = match_indicators(events, intel).select("row", "indicator.value").rows()
    known = Counter(intel.get_column("value").to_list())  # an indicator per entry
    expected = []
    for row, text in enumerate(texts):
        labels = text.strip().rstrip(".").translate(_ASCII_LOWER).split(".")
        for size in range(1, len(labels) + 1):
            parent = ".".join(labels[-size:])
            expected += [(row, parent)] * known[parent]
    assert sorted(found) == sorted(expected)
