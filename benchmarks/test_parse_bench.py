"""Vectorized parsers against straightforward per-line Python parsers, 200k lines each.

Run with ``pytest benchmarks/test_parse_bench.py --benchmark-enable``; each group holds
the vectorized parser and its per-line counterpart, and both produce a Polars frame with
the same core columns so the comparison includes building the result. The Sysmon group
reads the bundled endpoint sample, repeated.
"""

import random
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest

from ingest.parsers import parse_endpoint, parse_firewall, parse_web

LINES = 200_000
YEAR = 2024

_ACTIONS = ("accept", "close", "deny", "timeout", "server-rst")
_SERVICES = (("HTTPS", 443, 6), ("HTTP", 80, 6), ("DNS", 53, 17), ("SMB", 445, 6))
_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "curl/8.4.0",
    "sqlmap/1.7.2#stable (https://sqlmap.org)",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15",
)
_PATHS = ("/index.php", "/api/v1/citizens", "/static/app.js", "/wp-login.php", "/search")


@cache
def fortigate_lines(count: int = LINES) -> pl.Series:
    """FortiGate 7.x traffic logs as a ministry firewall forwards them over syslog."""
    rng = random.Random(7)
    lines = []
    for index in range(count):
        service, port, proto = rng.choice(_SERVICES)
        lines.append(
            f"<189>date=2024-03-{1 + index % 28:02d} time={index % 24:02d}:{index % 60:02d}:"
            f'{(index * 7) % 60:02d} devname="FG-MEF-0{index % 3}" '
            f'devid="FG100E4Q1700000{index % 3}" '
            f'eventtime={1709251200000000000 + index} tz="+0100" logid="0000000013" '
            f'type="traffic" subtype="forward" level="notice" vd="root" '
            f"srcip=10.{index % 200}.{(index >> 8) % 256}.{rng.randrange(1, 255)} "
            f'srcport={rng.randrange(1024, 65535)} srcintf="port{1 + index % 4}" '
            f'srcintfrole="lan" dstip=81.2.{rng.randrange(256)}.{rng.randrange(1, 255)} '
            f'dstport={port} dstintf="wan1" dstintfrole="wan" srccountry="Reserved" '
            f'dstcountry="United Kingdom" sessionid={rng.randrange(10**8)} proto={proto} '
            f'action="{rng.choice(_ACTIONS)}" policyid={index % 90} policytype="policy" '
            f'poluuid="c1b7a4d2-5735-51e9-a218-a397dd08b7eb" policyname="LAN to WAN {index % 90}" '
            f'service="{service}" trandisp="snat" transip=81.2.69.1 '
            f"transport={rng.randrange(1024, 65535)} duration={rng.randrange(600)} "
            f"sentbyte={rng.randrange(10**6)} rcvdbyte={rng.randrange(10**6)} "
            f'sentpkt={rng.randrange(900)} rcvdpkt={rng.randrange(900)} appcat="unscanned"'
        )
    return pl.Series("line", lines)


@cache
def nginx_lines(count: int = LINES) -> pl.Series:
    """nginx combined log lines from a ministry web portal."""
    rng = random.Random(11)
    start = datetime(2024, 3, 1, tzinfo=UTC)
    lines = []
    for index in range(count):
        stamp = (start + timedelta(seconds=index)).strftime("%d/%b/%Y:%H:%M:%S +0100")
        query = f"?id={rng.randrange(10**6)}&lang=km" if index % 3 else ""
        lines.append(
            f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}."
            f"{rng.randrange(1, 255)} - {'-' if index % 5 else 'citizen' + str(index % 97)} "
            f'[{stamp}] "{rng.choice(("GET", "GET", "POST"))} {rng.choice(_PATHS)}{query} '
            f'HTTP/1.1" {rng.choice((200, 200, 302, 404, 500))} {rng.randrange(20000)} '
            f'"https://portal.gov.example/home" "{rng.choice(_AGENTS)}"'
        )
    return pl.Series("line", lines)


@cache
def sysmon_lines(count: int = LINES) -> pl.Series:
    """Raw Sysmon event JSON from ministry workstations (the bundled sample, repeated)."""
    sample = Path(__file__).resolve().parent.parent / "neakta" / "data" / "sample_endpoint.ndjson"
    lines = sample.read_text(encoding="utf-8").splitlines()
    return pl.Series("line", (lines * (count // len(lines) + 1))[:count])


_KV = re.compile(r'(\w+)=(?:"([^"]*)"|(\S*))')
_TRANSPORTS = {"6": "tcp", "17": "udp", "1": "icmp"}


def fortigate_per_line(lines: list[str]) -> pl.DataFrame:
    """One regex over each line, a dict of its pairs, then the normalized row."""
    rows = []
    for line in lines:
        pairs = {key: quoted or bare for key, quoted, bare in _KV.findall(line)}
        stamp = f"{pairs.get('date')} {pairs.get('time')} {pairs.get('tz', '+0000')}"
        rows.append(
            {
                "@timestamp": datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S %z"),
                "observer.hostname": pairs.get("devname"),
                "event.code": pairs.get("logid"),
                "source.ip": pairs.get("srcip"),
                "source.port": int(pairs["srcport"]) if "srcport" in pairs else None,
                "destination.ip": pairs.get("dstip"),
                "destination.port": int(pairs["dstport"]) if "dstport" in pairs else None,
                "network.transport": _TRANSPORTS.get(pairs.get("proto", "")),
                "network.protocol": pairs.get("service", "").lower() or None,
                "event.action": pairs.get("action"),
                "rule.id": pairs.get("policyid"),
                "rule.name": pairs.get("policyname"),
                "observer.ingress.interface.name": pairs.get("srcintf"),
                "observer.egress.interface.name": pairs.get("dstintf"),
            }
        )
    return pl.DataFrame(rows)


_COMBINED = re.compile(
    r'(\S+) \S+ (\S+) \[([^\]]+)\] "(\S+) (\S+) HTTP/([\d.]+)" (\d{3}) (\d+|-) "([^"]*)" "([^"]*)"'
)


def nginx_per_line(lines: list[str]) -> pl.DataFrame:
    """One regex match per line, then the normalized row."""
    rows = []
    for line in lines:
        match = _COMBINED.match(line)
        if match is None:
            continue
        client, user, stamp, method, target, version, status, size, referrer, agent = match.groups()
        path, _, query = target.partition("?")
        rows.append(
            {
                "@timestamp": datetime.strptime(stamp, "%d/%b/%Y:%H:%M:%S %z"),
                "source.ip": client,
                "user.name": None if user == "-" else user,
                "http.request.method": method,
                "http.version": version,
                "url.original": target,
                "url.path": path,
                "url.query": query or None,
                "http.response.status_code": int(status),
                "http.response.body.bytes": None if size == "-" else int(size),
                "http.request.referrer": None if referrer == "-" else referrer,
                "user_agent.original": None if agent == "-" else agent,
            }
        )
    return pl.DataFrame(rows)


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def sysmon_per_line(lines: list[str]) -> pl.DataFrame:
    """orjson per line, then the normalized row from the flat Sysmon fields."""
    rows = []
    for line in lines:
        event = orjson.loads(line)
        image = _text(event.get("Image"))
        user = _text(event.get("User"))
        domain, _, name = user.rpartition("\\") if user is not None else (None, None, None)
        stamp = event.get("UtcTime")
        rows.append(
            {
                "@timestamp": datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
                if stamp
                else None,
                "event.code": _text(event.get("EventID")),
                "host.name": _text(event.get("Computer")),
                "process.executable": image,
                "process.name": re.split(r"[\\/]", image)[-1] if image else None,
                "process.command_line": _text(event.get("CommandLine")),
                "process.pid": event.get("ProcessId"),
                "process.parent.executable": _text(event.get("ParentImage")),
                "user.name": name,
                "user.domain": domain if user is not None and "\\" in user else None,
            }
        )
    return pl.DataFrame(rows, schema_overrides={"process.pid": pl.Int64})


def run(benchmark: Any, parse: Callable[[], pl.DataFrame]) -> None:
    frame = benchmark.pedantic(parse, rounds=3, iterations=1, warmup_rounds=1)
    benchmark.extra_info["lines"] = LINES
    assert frame.height == LINES


@pytest.mark.benchmark(group="fortigate-kv")
def test_fortigate_vectorized(benchmark: Any) -> None:
    lines = fortigate_lines()
    run(benchmark, lambda: parse_firewall(lines, year=YEAR).events)


@pytest.mark.benchmark(group="fortigate-kv")
def test_fortigate_per_line(benchmark: Any) -> None:
    lines = fortigate_lines().to_list()
    run(benchmark, lambda: fortigate_per_line(lines))


@pytest.mark.benchmark(group="nginx-combined")
def test_nginx_vectorized(benchmark: Any) -> None:
    lines = nginx_lines()
    run(benchmark, lambda: parse_web(lines, year=YEAR).events)


@pytest.mark.benchmark(group="nginx-combined")
def test_nginx_per_line(benchmark: Any) -> None:
    lines = nginx_lines().to_list()
    run(benchmark, lambda: nginx_per_line(lines))


@pytest.mark.benchmark(group="sysmon-json")
def test_sysmon_vectorized(benchmark: Any) -> None:
    lines = sysmon_lines()
    run(benchmark, lambda: parse_endpoint(lines).events)


@pytest.mark.benchmark(group="sysmon-json")
def test_sysmon_per_line(benchmark: Any) -> None:
    lines = sysmon_lines().to_list()
    run(benchmark, lambda: sysmon_per_line(lines))


@pytest.mark.parametrize(
    ("vectorized", "per_line", "sample"),
    [
        (lambda s: parse_firewall(s, year=YEAR).events, fortigate_per_line, fortigate_lines),
        (lambda s: parse_web(s, year=YEAR).events, nginx_per_line, nginx_lines),
        (lambda s: parse_endpoint(s).events, sysmon_per_line, sysmon_lines),
    ],
)
def test_both_parsers_agree(
    vectorized: Callable[[pl.Series], pl.DataFrame],
    per_line: Callable[[list[str]], pl.DataFrame],
    sample: Callable[[int], pl.Series],
) -> None:
    lines = sample(2_000)
    expected = per_line(lines.to_list())
    assert vectorized(lines).select(expected.columns).equals(expected)
