"""Render one network flow as the raw line its firewall forwards (FortiGate, iptables, pfSense)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from samples.common import LOCAL_TIME

__all__ = ["DEVICES", "Flow", "render"]


@dataclass(frozen=True, slots=True)
class Flow:
    """A connection attempt as one firewall saw it; ``allowed`` is the firewall's verdict."""

    moment: datetime
    device: str
    src: str
    sport: int
    dst: str
    dport: int
    transport: str
    allowed: bool


@dataclass(frozen=True, slots=True)
class _FortiGate:
    name: str
    serial: str
    framing: str  # "pri", "rfc5424" or "rfc3164"


DEVICES: Final = {
    "fg-mef": _FortiGate("FG-MEF-HQ-01", "FG200FTK21904417", "pri"),
    "fg-moh": _FortiGate("FG-MOH-01", "FG100FTK22010382", "rfc5424"),
    "fg-mptc": _FortiGate("FG-MPTC-DC-01", "FG600ETK19002231", "rfc3164"),
}
"""The FortiGate devices by key; ``ipt-moeys`` and ``pf-moeys`` are the two others."""

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO: Final = timedelta(microseconds=1)
_SERVICE_NAMES: Final = {
    80: "HTTP", 443: "HTTPS", 53: "DNS", 445: "SMB", 389: "LDAP", 88: "KERBEROS",
    135: "DCE-RPC", 123: "NTP", 22: "SSH", 23: "TELNET", 3389: "RDP", 1433: "MS-SQL",
    3306: "MYSQL", 21: "FTP", 25: "SMTP",
}  # fmt: skip
# (source zone, destination zone) -> (policy id, policy name) of the allowing policy.
_POLICIES: Final = {
    ("lan", "wan"): (5, "LAN-to-Internet"),
    ("lan", "lan"): (3, "LAN-to-Core-Servers"),
    ("wan", "dmz"): (12, "Internet-to-Portals"),
    ("wan", "wan"): (5, "LAN-to-Internet"),
}
_INTERFACES: Final = {"lan": ("port2", "lan"), "wan": ("port1", "wan"), "dmz": ("port3", "dmz")}
_IPTABLES_MAC: Final = "00:50:56:9a:3c:11:00:1c:7f:5e:21:0a:08:00"


def _zone(address: str) -> str:
    """FortiGate interface role of an address: ministry DMZs are the 10.x.100.0/24 networks."""
    if not address.startswith("10."):
        return "wan"
    return "dmz" if address.split(".")[2] == "100" else "lan"


def _fortigate(flow: Flow, rng: random.Random) -> str:
    device = DEVICES[flow.device]
    local = flow.moment.astimezone(LOCAL_TIME)
    nanos = (flow.moment - _EPOCH) // _MICRO * 1000
    src_zone, dst_zone = _zone(flow.src), _zone(flow.dst)
    policy, name = _POLICIES[(src_zone, dst_zone)] if flow.allowed else (0, "")
    service = _SERVICE_NAMES.get(flow.dport, f"{flow.transport}/{flow.dport}")
    proto = 6 if flow.transport == "tcp" else 17
    src_if, src_role = _INTERFACES[src_zone]
    dst_if, dst_role = _INTERFACES[dst_zone]
    fields = [
        f"date={local:%Y-%m-%d} time={local:%H:%M:%S}",
        f'devname="{device.name}" devid="{device.serial}" eventtime={nanos} tz="+0700"',
        'logid="0000000013" type="traffic" subtype="forward"',
        f'level="{"notice" if flow.allowed else "warning"}" vd="root"',
        f'srcip={flow.src} srcport={flow.sport} srcintf="{src_if}" srcintfrole="{src_role}"',
        f'dstip={flow.dst} dstport={flow.dport} dstintf="{dst_if}" dstintfrole="{dst_role}"',
        f"sessionid={rng.randrange(10_000_000, 99_999_999)} proto={proto}",
    ]
    if flow.allowed:
        if flow.transport == "udp":
            sent, received = rng.randrange(60, 200), rng.randrange(90, 520)
        else:
            sent, received = rng.randrange(300, 9000), rng.randrange(500, 400_000)
        action = "accept" if flow.transport == "udp" else rng.choice(("close", "close", "timeout"))
        fields += [
            f'action="{action}" policyid={policy} policytype="policy" policyname="{name}"',
            f'service="{service}" duration={rng.randrange(1, 180)} sentbyte={sent}',
            f"rcvdbyte={received} sentpkt={sent // 600 + 1} rcvdpkt={received // 1200 + 1}",
        ]
    else:
        fields += [
            f'action="deny" policyid=0 policytype="policy" service="{service}"',
            'sentbyte=0 rcvdbyte=0 sentpkt=0 rcvdpkt=0 crscore=30 craction=131072 crlevel="high"',
        ]
    message = " ".join(fields)
    if device.framing == "rfc5424":
        stamp = local.isoformat(timespec="milliseconds")
        return f"<189>1 {stamp} {device.name} - - - - {message}"
    if device.framing == "rfc3164":
        return f"<189>{local:%b %d %H:%M:%S} {device.name.lower()} {message}"
    return f"<189>{message}"


def _iptables(flow: Flow, rng: random.Random) -> str:
    local = flow.moment.astimezone(LOCAL_TIME).isoformat(timespec="microseconds")
    uptime = 2_204_117.0 + (flow.moment - _EPOCH).total_seconds() % 86_400
    if flow.allowed:
        prefix = "[UFW ALLOW]"
    else:
        prefix = "[UFW LIMIT BLOCK]" if flow.dport == 22 else "[UFW BLOCK]"
    return (
        f"<4>{local} moeys-exam-lnx-01 kernel: [{uptime:.6f}] {prefix} IN=ens192 OUT= "
        f"MAC={_IPTABLES_MAC} SRC={flow.src} DST={flow.dst} LEN=60 TOS=0x00 PREC=0x00 "
        f"TTL={rng.randrange(40, 60)} ID={rng.randrange(1, 65535)} DF PROTO=TCP "
        f"SPT={flow.sport} DPT={flow.dport} WINDOW=64240 RES=0x00 SYN URGP=0"
    )


def _pfsense(flow: Flow, rng: random.Random) -> str:
    local = flow.moment.astimezone(LOCAL_TIME).isoformat(timespec="microseconds")
    outbound = flow.src.startswith("10.")
    interface, tracker = ("igb1", 1000000103) if outbound else ("igb0", 1000000104)
    head = (
        f"{5 if outbound else 7},,,{tracker},{interface},match,"
        f"{'pass' if flow.allowed else 'block'},in,4,0x0,,{rng.randrange(50, 128)},"
        f"{rng.randrange(1, 65535)},0"
    )
    if flow.transport == "udp":
        tail = f"none,17,udp,64,{flow.src},{flow.dst},{flow.sport},{flow.dport},36"
    else:
        tail = (
            f"DF,6,tcp,60,{flow.src},{flow.dst},{flow.sport},{flow.dport},0,S,"
            f"{rng.randrange(1, 2**32)},,64240,,mss;sackOK;TS;nop;wscale"
        )
    return (
        f"<134>1 {local} pf-moeys-kandal filterlog {rng.randrange(20000, 60000)} - - {head},{tail}"
    )


def render(flow: Flow, rng: random.Random) -> str:
    """The raw line of ``flow`` as its device forwards it; ``rng`` fills session details.

    Examples
    --------
    >>> from samples.common import START
    >>> flow = Flow(START, "fg-mef", "10.10.10.21", 51234, "203.0.113.47", 80, "tcp", True)
    >>> render(flow, random.Random(1))[:58]
    '<189>date=2026-11-20 time=15:00:00 devname="FG-MEF-HQ-01" '
    """
    if flow.device in DEVICES:
        return _fortigate(flow, rng)
    if flow.device == "ipt-moeys":
        return _iptables(flow, rng)
    return _pfsense(flow, rng)
