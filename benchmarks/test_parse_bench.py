"""Vectorized parsers against straightforward per-line Python parsers, 200k lines each.

Run with ``pytest benchmarks/test_parse_bench.py --benchmark-enable``; each group holds
the vectorized parser and its per-line counterpart, and both produce a Polars frame with
the same core columns so the comparison includes building the result. The Sysmon group
reads the bundled endpoint sample, repeated; the auditd group joins four records per event.
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

from ingest.parsers import parse_auditd, parse_endpoint, parse_firewall, parse_web

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
    sample = Path(__file__).resolve().parent.parent / "samples" / "data" / "sample_endpoint.ndjson"
    lines = sample.read_text(encoding="utf-8").splitlines()
    return pl.Series("line", (lines * (count // len(lines) + 1))[:count])


_TOOLS = ("/usr/bin/curl", "/usr/bin/wget", "/bin/bash", "/usr/bin/python3", "/bin/ls")


@cache
def auditd_lines(count: int = LINES) -> pl.Series:
    """auditd execve events from ministry Linux servers: SYSCALL, EXECVE, CWD, PROCTITLE."""
    rng = random.Random(13)
    lines: list[str] = []
    for index in range(count // 4):
        tool = rng.choice(_TOOLS)
        name = tool.rsplit("/", 1)[-1]
        stamp = f"{1710000000 + index}.{index % 1000:03d}"
        head = f"node=srv{index % 5} type={{}} msg=audit({stamp}:{index}):"
        target = f"/tmp/build {index}" if index % 4 == 0 else f"/var/tmp/{index}"
        argument = target.encode().hex().upper() if " " in target else f'"{target}"'
        lines += [
            head.format("SYSCALL")
            + f" arch=c000003e syscall=59 success=yes exit=0 a0=55d1 a1=55d2 a2=55d3 a3=0"
            f" items=2 ppid={rng.randrange(2, 60000)} pid={rng.randrange(2, 60000)} auid=1000"
            f" uid={rng.choice((0, 1000, 33))} gid=0 euid=0 tty=pts0 ses=3"
            f' comm="{name}" exe="{tool}" key="exec"',
            head.format("EXECVE") + f' argc=3 a0="{name}" a1="-v" a2={argument}',
            head.format("CWD") + f' cwd="/home/u{index % 50}"',
            head.format("PROCTITLE") + f" proctitle={name.encode().hex().upper()}002D76",
        ]
    return pl.Series("line", lines)


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


_AUDIT_HEADER = re.compile(r"(?:node=(\S+) )?type=(\S+) msg=audit\((\d+)(?:\.(\d+))?:(\d+)\):")
_AUDIT_FIELD = re.compile(r'(?:^|[\s\x1d])(\w+)=("[^"]*"|[^\s\x1d]+)')
_AUDIT_ARG = re.compile(r"a(\d+)(?:\[(\d+)\])?")


def _audit_value(raw: str) -> str | None:
    if raw.startswith('"'):
        return raw[1:-1]
    if raw == "(null)":
        return None
    try:
        return bytes.fromhex(raw).decode("utf-8")
    except ValueError:
        return raw


def auditd_per_line(lines: list[str]) -> pl.DataFrame:
    """A regex per line into a dict per event id, then one row per SYSCALL + EXECVE event."""
    events: dict[tuple[str | None, str, str], dict[str, Any]] = {}
    for line in lines:
        header = _AUDIT_HEADER.search(line)
        if header is None:
            continue
        node, kind, seconds, fraction, serial = header.groups()
        event = events.setdefault((node, seconds + "." + (fraction or ""), serial), {"args": {}})
        event["node"], event["seconds"], event["fraction"] = node, seconds, fraction
        pairs = dict(_AUDIT_FIELD.findall(line[header.end() :]))
        if kind == "SYSCALL":
            event["syscall"] = pairs
        elif kind == "EXECVE":
            for key, raw in pairs.items():
                argument = _AUDIT_ARG.fullmatch(key)
                if argument is not None:
                    index, chunk = int(argument[1]), int(argument[2] or 0)
                    event["args"].setdefault(index, {})[chunk] = raw
            event["execve"] = True
        elif kind == "CWD":
            event["cwd"] = _audit_value(pairs.get("cwd", "(null)"))
    rows = []
    for event in events.values():
        syscall = event.get("syscall")
        if syscall is None or "execve" not in event:
            continue
        arguments = [
            _audit_value("".join(chunks[c] for c in sorted(chunks))) or "(null)"
            for _, chunks in sorted(event["args"].items())
        ]
        executable = _audit_value(syscall.get("exe", "(null)"))
        micros = int(event["seconds"]) * 1_000_000 + int((event["fraction"] or "0").ljust(6, "0"))
        rows.append(
            {
                "@timestamp": datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros),
                "host.name": event["node"],
                "process.executable": executable,
                "process.name": executable.rsplit("/", 1)[-1] if executable else None,
                "process.command_line": " ".join(arguments),
                "process.pid": int(syscall["pid"]),
                "process.parent.pid": int(syscall["ppid"]),
                "process.working_directory": event.get("cwd"),
                "user.id": syscall.get("uid"),
            }
        )
    return pl.DataFrame(rows, schema_overrides={"@timestamp": pl.Datetime("us", "UTC")})


def run(benchmark: Any, parse: Callable[[], pl.DataFrame], rows: int = LINES) -> None:
    frame = benchmark.pedantic(parse, rounds=3, iterations=1, warmup_rounds=1)
    benchmark.extra_info["lines"] = LINES
    assert frame.height == rows


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


@cache
def wrong_typed_sysmon(bad: int = 32_000, good: int = 12_000) -> pl.Series:
    """Valid Sysmon lines shuffled with lines whose ``EventID`` is an object or whose
    ``Image`` is a list: they must be dead letters, at a cost proportional to their count."""
    rng = random.Random(7)
    base = {
        "EventID": 1,
        "Channel": "Microsoft-Windows-Sysmon/Operational",
        "Computer": "ws01",
        "UtcTime": "2026-11-20 08:00:01.346",
        "Image": "C:\\Windows\\System32\\cmd.exe",
        "CommandLine": "cmd /c whoami",
        "User": "CORP\\alice",
    }
    lines = [orjson.dumps({**base, "ProcessId": i}).decode() for i in range(good)]
    for index in range(bad):
        wrong: dict[str, Any] = dict(base)
        if index % 2:
            wrong["EventID"] = {"value": 1}
        else:
            wrong["Image"] = ["a", "b"]
        lines.append(orjson.dumps(wrong).decode())
    rng.shuffle(lines)
    return pl.Series(lines)


@pytest.mark.benchmark(group="sysmon-wrong-typed")
def test_sysmon_wrong_typed_mixed(benchmark: Any) -> None:
    lines = wrong_typed_sysmon()
    result = benchmark.pedantic(lambda: parse_endpoint(lines), rounds=3, iterations=1)
    assert (result.events.height, result.dead.height) == (12_000, 32_000)


@pytest.mark.benchmark(group="sysmon-wrong-typed")
def test_sysmon_wrong_typed_valid_only(benchmark: Any) -> None:
    lines = wrong_typed_sysmon(bad=0)
    result = benchmark.pedantic(lambda: parse_endpoint(lines), rounds=3, iterations=1)
    assert result.events.height == 12_000


@pytest.mark.benchmark(group="auditd-exec")
def test_auditd_vectorized(benchmark: Any) -> None:
    lines = auditd_lines()
    run(benchmark, lambda: parse_auditd(lines).events, LINES // 4)


@pytest.mark.benchmark(group="auditd-exec")
def test_auditd_per_line(benchmark: Any) -> None:
    lines = auditd_lines().to_list()
    run(benchmark, lambda: auditd_per_line(lines), LINES // 4)


@pytest.mark.parametrize(
    ("vectorized", "per_line", "sample"),
    [
        (lambda s: parse_firewall(s, year=YEAR).events, fortigate_per_line, fortigate_lines),
        (lambda s: parse_web(s, year=YEAR).events, nginx_per_line, nginx_lines),
        (lambda s: parse_endpoint(s).events, sysmon_per_line, sysmon_lines),
        (lambda s: parse_auditd(s).events, auditd_per_line, auditd_lines),
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
