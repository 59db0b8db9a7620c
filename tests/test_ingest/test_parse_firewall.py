"""parse_firewall: FortiGate, iptables, pfSense and CEF lines normalized to ECS."""

from datetime import UTC, datetime

import polars as pl

from ingest.parsers import parse_firewall
from ingest.schema import FIREWALL_SCHEMA
from tests.test_ingest import ingest_samples as samples
from tests.test_ingest.ingest_samples import subset


def parse_one(line: str) -> dict[str, object]:
    result = parse_firewall(pl.Series([line]), year=2023)
    assert result.dead.height == 0, result.dead.to_dicts()
    return result.events.row(0, named=True)


def test_fortigate_traffic_line_every_column() -> None:
    assert parse_one(samples.FORTIGATE) == {
        "@timestamp": datetime(2020, 4, 23, 17, 32, 48, tzinfo=UTC),
        "event.original": samples.FORTIGATE,
        "event.dataset": "firewall.fortigate",
        "event.module": "fortinet",
        "event.kind": "event",
        "event.category": "network",
        "event.type": "allowed",
        "event.action": "accept",
        "event.outcome": "success",
        "event.code": "0000000013",
        "message": None,
        "observer.vendor": "Fortinet",
        "observer.product": "FortiGate",
        "observer.type": "firewall",
        "observer.hostname": "FG-MEF-01",
        "host.name": None,
        "log.syslog.hostname": None,
        "log.syslog.appname": None,
        "log.syslog.priority": 189,
        "source.ip": "10.10.10.10",
        "source.port": 60446,
        "destination.ip": "8.8.8.8",
        "destination.port": 53,
        "network.transport": "udp",
        "network.protocol": "dns",
        "network.direction": None,
        "observer.ingress.interface.name": "port1",
        "observer.egress.interface.name": "wan1",
        "observer.ingress.zone": None,
        "observer.egress.zone": None,
        "rule.id": "45",
        "rule.name": "LAN to WAN",
    }


def test_fortigate_without_tz_is_utc_and_deny_is_denied() -> None:
    expected = {
        "@timestamp": datetime(2019, 5, 10, 11, 37, 47, tzinfo=UTC),
        "event.action": "deny",
        "event.type": "denied",
        "event.outcome": "failure",
        "network.transport": "tcp",
        "destination.port": 80,
        "rule.id": "1",
        "rule.name": None,
    }
    assert subset(parse_one(samples.FORTIGATE_DENY), expected) == expected


def test_iptables_in_syslog_framing() -> None:
    expected = {
        "@timestamp": datetime(2023, 10, 11, 22, 14, 15, tzinfo=UTC),
        "event.dataset": "firewall.iptables",
        "observer.hostname": "gw01",
        "log.syslog.appname": "kernel",
        "source.ip": "81.2.69.143",
        "source.port": 17805,
        "destination.ip": "172.16.54.114",
        "destination.port": 445,
        "network.transport": "tcp",
        "network.direction": "ingress",
        "observer.ingress.interface.name": "eth0",
        "observer.egress.interface.name": None,
        "event.action": "block",
        "event.type": "denied",
        "rule.name": "[UFW BLOCK]",
    }
    assert subset(parse_one(samples.IPTABLES), expected) == expected


def test_iptables_without_framing_has_no_timestamp() -> None:
    expected = {
        "@timestamp": None,
        "event.action": "drop",
        "network.transport": "udp",
        "destination.port": 53,
        "rule.name": "DROP",
    }
    assert subset(parse_one(samples.IPTABLES_BARE), expected) == expected


def test_pfsense_ipv4_and_ipv6() -> None:
    v4 = {
        "@timestamp": datetime(2023, 10, 11, 22, 14, 15, tzinfo=UTC),
        "event.dataset": "firewall.pfsense",
        "observer.vendor": "Netgate",
        "observer.product": "pfSense",
        "observer.hostname": "fw01",
        "event.action": "block",
        "event.type": "denied",
        "network.direction": "ingress",
        "observer.ingress.interface.name": "igb1",
        "source.ip": "198.51.100.7",
        "source.port": 51000,
        "destination.ip": "10.20.0.5",
        "destination.port": 22,
        "network.transport": "tcp",
        "rule.id": "1000000103",
    }
    assert subset(parse_one(samples.PFSENSE), v4) == v4
    v6 = {
        "@timestamp": datetime(2023, 10, 11, 22, 14, 15, 500000, tzinfo=UTC),
        "event.action": "pass",
        "event.type": "allowed",
        "network.direction": "egress",
        "observer.egress.interface.name": "igb0",
        "source.ip": "2001:db8::1",
        "source.port": 5353,
        "destination.ip": "2001:db8::2",
        "destination.port": 53,
        "network.transport": "udp",
    }
    assert subset(parse_one(samples.PFSENSE_V6), v6) == v6


def test_cef_header_and_extension() -> None:
    expected = {
        "@timestamp": datetime(2019, 5, 10, 18, 37, 47, tzinfo=UTC),
        "event.dataset": "firewall.cef",
        "observer.vendor": "Fortinet",
        "observer.product": "FortiGate",
        "observer.hostname": "FG-CEF-01",
        "event.code": "13",
        "message": "traffic:forward",
        "source.ip": "10.1.100.11",
        "source.port": 58012,
        "destination.ip": "81.2.69.142",
        "destination.port": 443,
        "network.transport": "tcp",
        "network.protocol": "https",
        "network.direction": "outbound",
        "event.action": "close",
        "event.type": "allowed",
        "observer.ingress.interface.name": "port1",
        "observer.egress.interface.name": "wan1",
    }
    assert subset(parse_one(samples.CEF), expected) == expected


def test_cef_receipt_time_in_seconds_or_text() -> None:
    base = "CEF:0|Vendor|FW|1|100|deny|5|src=10.0.0.1 dst=10.0.0.2 act=deny rt="
    seconds = parse_one(base + "1557513467")
    text = parse_one(base + "May 10 2019 18:37:47.250")
    assert seconds["@timestamp"] == datetime(2019, 5, 10, 18, 37, 47, tzinfo=UTC)
    assert text["@timestamp"] == datetime(2019, 5, 10, 18, 37, 47, 250000, tzinfo=UTC)


def test_mixed_batch_keeps_order_and_dead_letters_positions() -> None:
    lines = pl.Series(
        [
            samples.PFSENSE,
            "%ASA-6-302020: Built inbound ICMP connection",
            samples.FORTIGATE,
            "",
            'date=2019-05-10 time=11:37:47 devname="fw" dstip=8.8.8.8',
            samples.CEF,
            None,
            "date=2019-02-30 time=11:37:47 srcip=10.0.0.1 dstip=10.0.0.2",
            samples.IPTABLES,
        ]
    )
    result = parse_firewall(lines, year=2023)
    assert result.events.get_column("event.dataset").to_list() == [
        "firewall.pfsense",
        "firewall.fortigate",
        "firewall.cef",
        "firewall.iptables",
    ]
    assert result.dead.to_dicts() == [
        {
            "raw": "%ASA-6-302020: Built inbound ICMP connection",
            "position": 1,
            "reason": "unrecognized firewall format",
        },
        {"raw": "", "position": 3, "reason": "empty line"},
        {"raw": lines[4], "position": 4, "reason": "missing source.ip"},
        {"raw": None, "position": 6, "reason": "null line"},
        {"raw": lines[7], "position": 7, "reason": "invalid timestamp"},
    ]


def test_schema_is_the_firewall_schema_even_when_empty() -> None:
    for lines in ([samples.FORTIGATE, samples.IPTABLES], []):
        result = parse_firewall(pl.Series(lines, dtype=pl.String), year=2023)
        assert result.events.schema == pl.Schema(FIREWALL_SCHEMA)
        assert result.dead.schema == pl.Schema(
            {"raw": pl.String, "position": pl.UInt64, "reason": pl.String}
        )
    assert result.events.get_column("event.type").dtype == pl.String
