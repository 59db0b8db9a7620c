"""Ministries, their networks and hosts, and the outside world, shared by every sample family.

Each ministry has a private ``10.<octet>.0.0/16`` network: core servers in ``.0.x``,
workstations in ``.10.x``-``.13.x``, provincial offices in ``.20.x`` and the DMZ (public web
portals) in ``.100.x``. Hosts are those of the endpoint sample, so a firewall or web line
can name the same workstation that the Sysmon events show.

Addresses on the Internet are either well-known service ranges (search, mail, updates) or,
for attackers, the documentation ranges of RFC 5737 (``192.0.2.0/24``,
``198.51.100.0/24``, ``203.0.113.0/24``) and the Tor exit relays of ``185.220.101.0/24``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Final

__all__ = [
    "ALL_HOSTS",
    "HOSTS_BY_ROLE",
    "HOST_TABLE",
    "LOCAL_TIME",
    "MINISTRY_DOMAINS",
    "MINISTRY_NAMES",
    "MPTC_PORTAL",
    "START",
    "Host",
    "client_address",
    "host_named",
]

START: Final = datetime(2026, 11, 20, 8, 0, 0, tzinfo=UTC)
"""Start of every sample: 2026-11-20 08:00 UTC (15:00 in Phnom Penh)."""

LOCAL_TIME: Final = timezone(timedelta(hours=7), "ICT")
"""Cambodia's time zone (UTC+7): devices that log local time use it."""

MINISTRY_DOMAINS: Final = {  # host prefix -> (NetBIOS domain, DNS domain, second IP octet)
    "mef": ("MEF", "mef.gov.kh", 10),
    "moh": ("MOH", "moh.gov.kh", 20),
    "moeys": ("MOEYS", "moeys.gov.kh", 30),
    "mptc": ("MPTC", "mptc.gov.kh", 40),
    "moi": ("MOI", "interior.gov.kh", 50),
}
# fmt: off
HOST_TABLE: Final = (  # (short name, role, primary user)
    ("mef-fin-ws-012", "ws", "sokha.chan"), ("mef-fin-ws-031", "ws", "vibol.sok"),
    ("mef-bud-ws-004", "ws", "sreymom.heng"), ("mef-cus-ws-118", "ws", "rithy.meas"),
    ("moh-hr-ws-027", "ws", "dara.kim"), ("moh-cdc-ws-009", "ws", "chenda.ly"),
    ("moh-his-ws-052", "ws", "bopha.nhem"), ("moeys-exam-ws-015", "ws", "visal.chea"),
    ("moeys-plan-ws-033", "ws", "sophal.keo"), ("mptc-net-ws-006", "ws", "channary.ouk"),
    ("mptc-post-ws-021", "ws", "kosal.pich"), ("moi-id-ws-044", "ws", "malis.touch"),
    ("moi-elec-ws-010", "ws", "piseth.long"), ("mef-fin-srv-03", "srv", "rithy.meas"),
    ("moh-his-srv-01", "srv", "bopha.nhem"), ("moeys-exam-srv-02", "srv", "visal.chea"),
    ("moi-id-srv-01", "srv", "piseth.long"), ("mptc-dmz-web-02", "web", "channary.ouk"),
    ("moeys-dmz-web-01", "web", "sophal.keo"),
)
# fmt: on


@dataclass(frozen=True, slots=True)
class Host:
    """A Windows host of the endpoint sample, with its ministry and address."""

    fqdn: str
    role: str
    user: str
    netbios: str
    domain: str
    octet: int
    ip: str
    prefix: str


def _build_hosts() -> tuple[Host, ...]:
    hosts = []
    for index, (short, role, user) in enumerate(HOST_TABLE):
        prefix = short.split("-", 1)[0]
        netbios, domain, octet = MINISTRY_DOMAINS[prefix]
        ip = f"10.{octet}.{10 + index % 4}.{21 + index * 7}"
        hosts.append(Host(f"{short}.{domain}", role, user, netbios, domain, octet, ip, prefix))
    return tuple(hosts)


ALL_HOSTS: Final = _build_hosts()
HOSTS_BY_ROLE: Final = {
    role: tuple(h for h in ALL_HOSTS if role in {"any", h.role}) for role in ("ws", "srv", "web")
} | {"any": ALL_HOSTS}
"""Endpoint-sample hosts by role: ``ws``, ``srv``, ``web`` and ``any``."""

MINISTRY_NAMES: Final = {
    "mef": "Ministry of Economy and Finance",
    "moh": "Ministry of Health",
    "moeys": "Ministry of Education, Youth and Sport",
    "mptc": "Ministry of Posts and Telecommunications",
    "moi": "Ministry of Interior",
}
"""Host-name prefix -> the ministry's name (Annex 1 of the Digital Government Policy)."""

MPTC_PORTAL: Final = "10.40.100.22"
"""DMZ address of the MPTC e-Services portal (IIS on ``mptc-dmz-web-02``)."""

# Broadband and mobile client networks that citizens reach the portals from.
_CLIENT_NETWORKS: Final = ((36, 37), (110, 74), (117, 20), (175, 100), (202, 58), (103, 197))


def host_named(short: str) -> Host:
    """The endpoint-sample host whose name starts with ``short``.

    Examples
    --------
    >>> host_named("mef-fin-ws-012").ip
    '10.10.10.21'
    """
    for host in ALL_HOSTS:
        if host.fqdn.startswith(short + "."):
            return host
    raise KeyError(short)


def client_address(rng: random.Random) -> str:
    """A public address of a citizen's broadband or mobile connection.

    Examples
    --------
    >>> client_address(random.Random(1)).count(".")
    3
    """
    first, second = rng.choice(_CLIENT_NETWORKS)
    return f"{first}.{second}.{rng.randrange(1, 255)}.{rng.randrange(1, 255)}"
