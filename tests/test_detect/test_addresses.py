"""The cidr test agrees with Python's ipaddress on addresses written every way forwarders do."""

import ipaddress

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from detect.addresses import in_networks


def python_in(text: str | None, networks: list[str]) -> bool:
    if text is None:
        return False
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(n, strict=False) for n in networks)


def polars_in(texts: list[str | None], networks: list[str]) -> list[bool]:
    frame = pl.LazyFrame({"ip": pl.Series(texts, dtype=pl.String)})
    return frame.select(in_networks(pl.col("ip"), networks)).collect().to_series().to_list()


ipv4 = st.ip_addresses(v=4)
ipv6 = st.ip_addresses(v=6)


@st.composite
def written_addresses(draw: st.DrawFn) -> str | None:
    """An address as a log line may carry it, or something that only looks like one."""
    address = draw(st.one_of(ipv4, ipv6))
    text = draw(
        st.sampled_from(
            [
                str(address),
                address.exploded,
                address.exploded.upper(),
                f" {address}\t",
                str(address).replace(".", ".0", 1),  # a leading zero: not an address
                f"{address}%eth0",
                f"::ffff:{address}" if address.version == 4 else str(address),
            ]
        )
    )
    return draw(st.one_of(st.just(text), st.none(), st.text(max_size=12)))


@st.composite
def networks(draw: st.DrawFn) -> list[str]:
    """Networks around the addresses drawn, so that both answers occur."""
    chosen = []
    for _ in range(draw(st.integers(1, 4))):
        address = draw(st.one_of(ipv4, ipv6))
        prefix = draw(st.integers(0, address.max_prefixlen))
        chosen.append(f"{address}/{prefix}")
    return chosen


def test_ipv4_and_ipv6_networks_in_one_test() -> None:
    texts = ["10.1.2.3", "192.168.1.1", "FE80::1", "2001:db8::1", "10.1.2", None]
    assert polars_in(texts, ["10.0.0.0/8", "fe80::/10"]) == [True, False, True, False, False, False]


def test_host_bits_in_the_network_are_ignored() -> None:
    assert polars_in(["10.9.9.9", "11.0.0.1"], ["10.1.2.3/8"]) == [True, False]


@settings(max_examples=300, deadline=None)
@given(texts=st.lists(written_addresses(), min_size=1, max_size=8), nets=networks())
def test_agrees_with_python_ipaddress(texts: list[str | None], nets: list[str]) -> None:
    assert polars_in(texts, nets) == [python_in(text, nets) for text in texts]


@settings(max_examples=200, deadline=None)
@given(address=st.one_of(ipv4, ipv6), prefix=st.integers(0, 32))
def test_an_address_is_in_its_own_networks(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, prefix: int
) -> None:
    network = f"{address}/{min(prefix, address.max_prefixlen)}"
    assert polars_in([str(address), address.exploded], [network]) == [True, True]


def test_more_networks_than_rows_and_more_rows_than_networks() -> None:
    nets = ["10.0.0.0/8", "192.168.0.0/16", "172.16.0.0/12"]
    assert polars_in(["10.1.2.3"], nets) == [True]
    assert polars_in(["10.1.2.3", "1.1.1.1", "172.16.0.1", "x", None], nets[:2]) == [
        True,
        False,
        False,
        False,
        False,
    ]
