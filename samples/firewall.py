"""Deterministic sample firewall logs of ministry networks, with seeded attacks.

Five devices forward their logs, each in its own framing, as ministries do:

- ``FG-MEF-HQ-01`` (Ministry of Economy and Finance): FortiGate ``key=value`` after a bare
  ``<PRI>``, FortiOS' default;
- ``FG-MOH-01`` (Ministry of Health): FortiGate in RFC 5424 framing;
- ``FG-MPTC-DC-01`` (Ministry of Posts and Telecommunications' data centre): FortiGate
  relayed with an RFC 3164 header in local time;
- ``moeys-exam-lnx-01`` (the exam results server of the Ministry of Education, Youth and
  Sport): iptables/UFW kernel lines forwarded by rsyslog (RFC 3164 with an RFC 3339 stamp);
- ``pf-moeys-kandal`` (a provincial office): pfSense ``filterlog`` CSV in RFC 5424 framing.

Benign traffic is web browsing, DNS, file shares and directory traffic, citizens reaching
the portals, and the steady Internet background of blocked probes (one port per source).
The seeded attacks are listed in :data:`FIREWALL_ATTACK_KINDS`; line renderers live in
:mod:`samples.firewall_lines`.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Final

from samples.common import MPTC_PORTAL, START, client_address, host_named
from samples.endpoint_attacks import C2_IP
from samples.firewall_lines import Flow, render

__all__ = ["FIREWALL_ATTACK_KINDS", "generate_firewall_lines_with_labels"]

FIREWALL_ATTACK_KINDS: Final = (
    "port_scan",
    "ssh_brute_force",
    "ssh_brute_force_success",
    "c2_download",
    "tor_relay",
    "reverse_shell",
)
"""Seeded attacks: a port scan of an MPTC portal, an SSH brute force that ends in an allowed
connection, a MEF workstation fetching the implant from the C2 server of the endpoint sample,
a Ministry of Health workstation talking to a Tor relay, and a reverse shell from a
provincial office to port 4444."""

SCANNER: Final = "198.51.100.77"
BRUTE_FORCER: Final = "192.0.2.66"
TOR_RELAY: Final = "185.220.101.34"
SHELL_LISTENER: Final = "198.51.100.200"
EXAM_SERVER: Final = "10.30.100.15"

_PORTAL: Final = MPTC_PORTAL
_MEF_WS: Final = host_named("mef-fin-ws-012").ip
_MOH_WS: Final = host_named("moh-hr-ws-027").ip
_KANDAL_WS: Final = "10.30.20.57"
_SCANNED_PORTS: Final = (
    21, 22, 23, 25, 53, 80, 110, 111, 135, 139, 143, 443, 445, 465, 587, 993, 995, 1433,
    1521, 1723, 2049, 2375, 3306, 3389, 5432, 5900, 5985, 6379, 7001, 8000, 8008, 8080,
    8443, 8888, 9000, 9090, 9200, 10000, 11211, 27017,
)  # fmt: skip
# Public services the ministries' users reach: (address, port).
_SERVICES: Final = (
    ("142.250.199.68", 443), ("142.250.66.238", 443), ("13.107.21.200", 443),
    ("52.98.151.66", 443), ("52.113.194.132", 443), ("20.42.73.29", 443),
    ("157.240.15.35", 443), ("149.154.167.99", 443), ("104.16.132.229", 443),
    ("13.107.4.50", 80), ("23.53.42.121", 80),
)  # fmt: skip
_PROBED: Final = (23, 22, 445, 3389, 1433, 8080, 5060, 3306, 6379, 9200, 2323, 81)
_NOISY: Final = (45, 80, 89, 91, 94, 141, 162, 167, 193, 194, 212, 218)
# Per ministry device: (device key, workstation networks, core servers, DMZ portal).
_SITES: Final = (
    ("fg-mef", ("10.10.10", "10.10.11", "10.10.12"), "10.10.0", "10.10.100.20"),
    ("fg-moh", ("10.20.10", "10.20.11", "10.20.13"), "10.20.0", "10.20.100.20"),
    ("fg-mptc", ("10.40.10", "10.40.11", "10.40.12"), "10.40.0", _PORTAL),
)


def _noise_source(rng: random.Random) -> str:
    octets = (rng.randrange(1, 255) for _ in range(3))
    return ".".join((str(rng.choice(_NOISY)), *map(str, octets)))


def _port(rng: random.Random) -> int:
    return rng.randrange(32768, 61000)


def _benign(rng: random.Random, moment: timedelta, start: datetime = START) -> Flow:
    """One benign flow at ``start + moment``."""
    when = start + moment
    roll = rng.random()
    if roll < 0.12:
        return Flow(when, "ipt-moeys", client_address(rng), _port(rng), EXAM_SERVER, 443, "tcp",
                    allowed=True)  # fmt: skip
    if roll < 0.18:
        return Flow(when, "ipt-moeys", _noise_source(rng), _port(rng), EXAM_SERVER,
                    rng.choice(_PROBED), "tcp", allowed=False)  # fmt: skip
    if roll < 0.30:
        src = f"10.30.20.{rng.randrange(20, 90)}"
        if rng.random() < 0.3:
            return Flow(when, "pf-moeys", src, _port(rng), "10.30.0.10", 53, "udp", allowed=True)
        dst, dport = rng.choice(_SERVICES)
        return Flow(when, "pf-moeys", src, _port(rng), dst, dport, "tcp", allowed=True)
    if roll < 0.36:
        return Flow(when, "pf-moeys", _noise_source(rng), _port(rng), "203.0.113.250",
                    rng.choice(_PROBED), "tcp", allowed=False)  # fmt: skip
    device, networks, core, portal = rng.choice(_SITES)
    src = f"{rng.choice(networks)}.{rng.randrange(20, 200)}"
    kind = rng.random()
    if kind < 0.45:
        dst, dport = rng.choice(_SERVICES)
        return Flow(when, device, src, _port(rng), dst, dport, "tcp", allowed=True)
    if kind < 0.60:
        return Flow(when, device, src, _port(rng), f"{core}.10", 53, "udp", allowed=True)
    if kind < 0.72:
        dport = rng.choice((445, 389, 88, 135))
        return Flow(when, device, src, _port(rng), f"{core}.20", dport, "tcp", allowed=True)
    if kind < 0.90:
        return Flow(when, device, client_address(rng), _port(rng), portal, 443, "tcp",
                    allowed=True)  # fmt: skip
    return Flow(when, device, _noise_source(rng), _port(rng), portal, rng.choice(_PROBED), "tcp",
                allowed=False)  # fmt: skip


def _attacks(start: datetime = START) -> list[tuple[str, Flow]]:
    """The seeded attack flows from ``start``, each with its kind; not seed-dependent."""
    flows: list[tuple[str, Flow]] = []
    scan_start = start + timedelta(minutes=20, seconds=11)
    for index, port in enumerate(_SCANNED_PORTS):
        flows.append(("port_scan", Flow(
            scan_start + timedelta(milliseconds=150 * index), "fg-mptc", SCANNER, 40000 + index,
            _PORTAL, port, "tcp", allowed=port in {80, 443})))  # fmt: skip
    brute_start = start + timedelta(minutes=35, seconds=2)
    for attempt in range(31):
        kind = "ssh_brute_force" if attempt < 30 else "ssh_brute_force_success"
        flows.append((kind, Flow(
            brute_start + timedelta(seconds=2 * attempt), "ipt-moeys", BRUTE_FORCER,
            50110 + 7 * attempt, EXAM_SERVER, 22, "tcp", allowed=attempt == 30)))  # fmt: skip
    flows += [
        ("c2_download", Flow(start + timedelta(minutes=12, seconds=40), "fg-mef", _MEF_WS, 51234,
                             C2_IP, 80, "tcp", allowed=True)),
        ("tor_relay", Flow(start + timedelta(minutes=27, seconds=5), "fg-moh", _MOH_WS, 49877,
                           TOR_RELAY, 9001, "tcp", allowed=True)),
        ("reverse_shell", Flow(start + timedelta(minutes=48, seconds=30), "pf-moeys", _KANDAL_WS,
                               50612, SHELL_LISTENER, 4444, "tcp", allowed=True)),
    ]  # fmt: skip
    return flows


def generate_firewall_lines_with_labels(
    count: int, *, seed: int = 7, attacks: bool = True, start: datetime = START
) -> tuple[list[str], dict[int, str]]:
    """Generate raw firewall log lines and say which lines are seeded attacks.

    Parameters
    ----------
    count
        Number of lines, at least the number of attack lines (74) when ``attacks`` is true.
    seed
        Seed of the benign traffic. Attack flows do not depend on it; their line numbers do.
    attacks
        Seed the attack flows among the benign ones.
    start
        When the hour of traffic begins (default :data:`START`).

    Returns
    -------
    tuple[list[str], dict[int, str]]
        The lines in time order over about an hour from ``start``, and a map from line
        index to a name in :data:`FIREWALL_ATTACK_KINDS`.

    Raises
    ------
    ValueError
        If ``count`` is too small to hold the attack lines.

    Examples
    --------
    >>> lines, labels = generate_firewall_lines_with_labels(100, seed=1)
    >>> len(lines), sorted(set(labels.values())) == sorted(FIREWALL_ATTACK_KINDS)
    (100, True)
    >>> row = min(row for row, kind in labels.items() if kind == "c2_download")
    >>> "dstip=203.0.113.47 dstport=80" in lines[row]
    True
    """
    seeded = _attacks(start) if attacks else []
    if count < len(seeded):
        raise ValueError(f"count must be at least {len(seeded)}, got {count}")
    rng = random.Random(seed)
    benign = count - len(seeded)
    step = 3_600_000 / max(benign, 1)
    offsets = sorted(rng.uniform(0, step * benign) for _ in range(benign))
    flows: list[tuple[str | None, Flow]] = [
        (None, _benign(rng, timedelta(milliseconds=offset), start)) for offset in offsets
    ]
    flows += seeded
    flows.sort(key=lambda pair: pair[1].moment)
    lines = [
        render(flow, random.Random(f"{seed}:{index}")) for index, (_, flow) in enumerate(flows)
    ]
    labels = {index: kind for index, (kind, _) in enumerate(flows) if kind is not None}
    return lines, labels
