"""Enrichment on whole event batches: asset tagging and indicator matching, 1M events.

Run with ``pytest benchmarks/test_enrich_bench.py --benchmark-enable``. Each group holds
the vectorized stage and its baselines; ``extra_info`` carries the rows per second, so
the groups compare throughput even though the per-row baselines run on a sample.

* ``tag-assets``: :func:`enrich.tag_assets` (sorted as-of join over disjoint ranges, once
  per distinct address) against one ``polars_iptools.is_in`` per CIDR and a per-row
  ``ipaddress`` lookup (one dict per prefix length: not a strawman);
* ``match-indicators``: :func:`enrich.match_indicators` against per-row Python set
  lookups.
"""

import csv
import ipaddress
import random
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl
import polars_iptools as ip
import pytest

from enrich import build_inventory, load_assets, match_indicators, tag_assets
from enrich.intel.load import IndicatorSet, build_indicators
from enrich.inventory import AssetInventory

ROWS = 1_000_000
SAMPLE = 50_000
DATA = Path(__file__).resolve().parent.parent / "enrich" / "data"


@cache
def inventory() -> AssetInventory:
    return load_assets(DATA / "assets.csv")


def inventory_lines() -> list[list[str]]:
    """The sample inventory's lines that have a network."""
    text = (DATA / "assets.csv").read_text(encoding="utf-8").splitlines()[1:]
    return [row for row in csv.reader(text) if row[0]]


@cache
def large_inventory(count: int = 20_000) -> AssetInventory:
    """The sample inventory plus ``count`` /28 branch-office networks nested in it."""
    rng = random.Random(5)
    networks: set[str] = set()
    while len(networks) < count:
        octet = rng.choice([10, 20, 30, 40, 50, *range(101, 130)])
        networks.add(f"10.{octet}.{rng.randrange(256)}.{16 * rng.randrange(16)}/28")
    rows = [
        (f"x{index}", [network, "", "branch", "", f"office-{index}", "low", ""])
        for index, network in enumerate(sorted(networks))
    ]
    base = [(f"s{index}", row) for index, row in enumerate(inventory_lines())]
    return build_inventory([*base, *rows])


@cache
def events(rows: int = ROWS) -> pl.DataFrame:
    """Firewall-, DNS- and endpoint-like columns; addresses drawn from 200k distinct ones,
    host names from 5,000 workstations and the inventory's systems."""
    rng = random.Random(3)
    octets = [10, 20, 30, 40, 50, *range(101, 130)]
    internal = [
        f"10.{rng.choice(octets)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        for _ in range(100_000)
    ]
    public = [
        f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        for _ in range(100_000)
    ]
    names = [f"www{rng.randrange(1000)}.site{rng.randrange(20_000)}.example" for _ in range(50_000)]
    digests = [f"{rng.getrandbits(256):064x}" for _ in range(50_000)]

    systems = [row[1] for row in inventory_lines() if not row[1].startswith("*")]
    domains = [row[1].removeprefix("*.") for row in inventory_lines() if row[1].startswith("*")]
    hosts = [*systems, *(f"ws-{n:04d}.{rng.choice(domains)}" for n in range(5_000))]

    def pick(pool: list[str]) -> pl.Series:
        return pl.Series(pool).gather([rng.randrange(len(pool)) for _ in range(rows)])

    return pl.DataFrame(
        {
            "host.name": pick(hosts),
            "source.ip": pick(internal),
            "destination.ip": pick(public),
            "dns.question.name": pick(names),
            "url.original": "http://" + pick(names) + "/index.html",
            "process.hash.sha256": pick(digests),
        }
    )


@cache
def indicators(count: int = 10_000) -> IndicatorSet:
    """Addresses, networks, domains, URLs and hashes; about 1% of events hit one."""
    rng = random.Random(9)
    frame = events()
    entries: list[tuple[str, str, str, str, str | None, str | None, str | None]] = []
    for value in frame.get_column("destination.ip").sample(count // 2, seed=1).to_list():
        entries.append(("", "ipv4", value, "bench", "50", None, None))
    for _ in range(count // 20):
        entries.append(
            (
                "",
                "cidr",
                f"{rng.randrange(1, 224)}.{rng.randrange(256)}.0.0/{rng.choice((16, 20, 24))}",
                "bench",
                None,
                None,
                None,
            )
        )
    for _ in range(count // 4):
        entries.append(
            ("", "domain", f"site{rng.randrange(10**6)}.example", "bench", None, None, None)
        )
    for value in frame.get_column("url.original").sample(count // 10, seed=2).to_list():
        entries.append(("", "url", value, "bench", None, None, None))
    for _ in range(count // 10):
        entries.append(("", "sha256", f"{rng.getrandbits(256):064x}", "bench", None, None, None))
    return build_indicators(entries)


def per_row_assets(addresses: list[str | None], found: AssetInventory) -> list[str | None]:
    """Most specific network per address with ipaddress, one dict lookup per prefix."""
    owners: dict[int, dict[int, str | None]] = {}
    for start, end, asset in found.ranges.iter_rows():
        size = end - start + 1
        if size & (size - 1) == 0 and start % size == 0:
            owners.setdefault(33 - size.bit_length(), {})[start] = asset["system"]
    prefixes = sorted(owners, reverse=True)
    result: list[str | None] = []
    for text in addresses:
        owner = None
        try:
            number = int(ipaddress.IPv4Address(text or ""))
        except ValueError:
            number = -1
        for prefix in prefixes if number >= 0 else ():
            mask = (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF
            if number & mask in owners[prefix]:
                owner = owners[prefix][number & mask]
                break
        result.append(owner)
    return result


def is_in_per_cidr(frame: pl.DataFrame, lines: list[list[str]]) -> pl.Series:
    """One polars_iptools.is_in per CIDR, most specific first."""
    ordered = sorted(lines, key=lambda row: -ipaddress.ip_network(row[0]).prefixlen)
    expr = pl.lit(None, dtype=pl.String())
    for network, system in reversed([(row[0], row[4]) for row in ordered]):
        owner = pl.lit(system or None, dtype=pl.String())
        expr = pl.when(ip.is_in(pl.col("source.ip"), [network])).then(owner).otherwise(expr)
    return frame.select(expr.alias("system")).to_series()


def per_row_indicators(frame: pl.DataFrame, found: IndicatorSet) -> int:
    """Per row: set lookups for addresses, URLs and hashes, a suffix walk for domains."""
    table = found.indicators
    by_type = {
        kind: set(table.filter(pl.col("type") == kind).get_column("value").to_list())
        for kind in ("ipv4", "domain", "url", "sha256")
    }
    hits = 0
    for _, source, destination, name, url, digest in frame.iter_rows():
        hits += source in by_type["ipv4"]
        hits += destination in by_type["ipv4"]
        labels = name.lower().split(".")
        hits += any(".".join(labels[depth:]) in by_type["domain"] for depth in range(len(labels)))
        hits += url in by_type["url"]
        hits += digest.lower() in by_type["sha256"]
    return hits


def run(benchmark: Any, rows: int, work: Callable[[], object]) -> None:
    benchmark.pedantic(work, rounds=3, iterations=1, warmup_rounds=1)
    benchmark.extra_info["rows"] = rows
    benchmark.extra_info["rows_per_s"] = round(rows / benchmark.stats.stats.mean)


@pytest.mark.benchmark(group="tag-assets")
def test_tag_assets_1m(benchmark: Any) -> None:
    frame, found = events(), inventory()
    run(benchmark, ROWS, lambda: tag_assets(frame, found))


@pytest.mark.benchmark(group="tag-assets")
def test_tag_assets_1m_20k_networks(benchmark: Any) -> None:
    frame, found = events(), large_inventory()
    run(benchmark, ROWS, lambda: tag_assets(frame, found))


@pytest.mark.benchmark(group="tag-assets")
def test_tag_assets_is_in_per_cidr(benchmark: Any) -> None:
    frame = events(SAMPLE)
    lines = inventory_lines()
    run(benchmark, SAMPLE, lambda: is_in_per_cidr(frame, lines))


@pytest.mark.benchmark(group="tag-assets")
def test_tag_assets_per_row_ipaddress(benchmark: Any) -> None:
    addresses, found = events(SAMPLE).get_column("source.ip").to_list(), inventory()
    run(benchmark, SAMPLE, lambda: per_row_assets(addresses, found))


@pytest.mark.benchmark(group="match-indicators")
def test_match_indicators_1m(benchmark: Any) -> None:
    frame, found = events(), indicators()
    run(benchmark, ROWS, lambda: match_indicators(frame, found.indicators))


@pytest.mark.benchmark(group="match-indicators")
def test_match_indicators_per_row(benchmark: Any) -> None:
    frame, found = events().head(SAMPLE), indicators()
    run(benchmark, SAMPLE, lambda: per_row_indicators(frame, found))


def test_the_baselines_agree_with_the_stages() -> None:
    frame, found = events().head(5_000), inventory()
    tagged = tag_assets(frame, found).get_column("neakta.source.system").to_list()
    assert per_row_assets(frame.get_column("source.ip").to_list(), found) == tagged
    assert is_in_per_cidr(frame, inventory_lines()).to_list() == tagged
    hits = match_indicators(frame, indicators().indicators)
    exact = hits.filter(pl.col("indicator.type") != "cidr")
    assert per_row_indicators(frame, indicators()) == exact.height
