"""Deterministic sample endpoint events in raw Sysmon field names.

The events look like what Winlogbeat forwards from the ``Microsoft-Windows-Sysmon/Operational``
channel of workstations and servers in Cambodian ministries (``mef.gov.kh``, ``moh.gov.kh``,
``moeys.gov.kh``, ``mptc.gov.kh``, ``interior.gov.kh``). Keys are the field names Sigma rules
use (``Image``, ``CommandLine``, ``ParentImage``, ``TargetObject``, ``QueryName`` ...).

Benign activity is drawn from :mod:`samples.endpoint_catalog`; a fixed set of attack
events (see :data:`ATTACK_KINDS`) sits at positions that depend only on the event count, so
the rules in ``rules/windows`` can be checked against exact rows.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from typing import Final

from samples.common import HOSTS_BY_ROLE, START, Host
from samples.endpoint_attacks import ATTACK_KINDS, ATTACKS, dns_body, process_body, sid
from samples.endpoint_catalog import (
    ACCOUNTS,
    DNS,
    DOCX,
    FILES,
    NETWORK,
    PARENTS,
    PDF,
    PROCS,
    REGISTRY,
    SVCHOST_ARGS,
    SYS32,
    URLS,
    XLSX,
)

__all__ = [
    "ATTACK_KINDS",
    "SYSMON_CHANNEL",
    "attack_event",
    "benign_process",
    "generate_endpoint_events",
    "generate_endpoint_events_with_labels",
    "utc_text",
]

SYSMON_CHANNEL: Final = "Microsoft-Windows-Sysmon/Operational"

_EVENT_IDS: Final = (1, 3, 22, 11, 13)
_EVENT_WEIGHTS: Final = (85.0, 6.0, 4.0, 3.0, 2.0)


def utc_text(moment: datetime) -> str:
    """Sysmon's ``UtcTime`` text of a moment (milliseconds).

    >>> utc_text(START)
    '2026-11-20 08:00:00.000'
    """
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _header(event_id: int, computer: str, utc: str) -> dict[str, object]:
    return {"EventID": event_id, "Channel": SYSMON_CHANNEL, "Computer": computer, "UtcTime": utc}


def _context(rng: random.Random, host: Host) -> dict[str, object]:
    """Values for the ``{placeholders}`` of the catalogue, drawn fresh for one event."""
    return {
        "user": host.user,
        "nb": host.netbios,
        "dom": host.domain,
        "prefix": host.prefix,
        "octet": host.octet,
        "fs": f"{host.prefix}-fs-01.{host.domain}",
        "sid": sid(host.netbios, host.user),
        "n": rng.randrange(1, 64),
        "h": rng.randrange(1000, 9999),
        "big": rng.getrandbits(63),
        "big2": rng.getrandbits(63),
        "hex": f"{rng.getrandbits(32):08x}",
        "guid": str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper(),
        "xlsx": rng.choice(XLSX),
        "docx": rng.choice(DOCX),
        "pdf": rng.choice(PDF),
        "url": rng.choice(URLS),
        "svc": rng.choice(SVCHOST_ARGS),
    }


def _pid(rng: random.Random) -> int:
    return rng.randrange(1000, 40000, 4)


def benign_process(rng: random.Random, utc: str) -> dict[str, object]:
    """One benign process creation drawn from the catalogue."""
    proc = rng.choices(PROCS, weights=[p.weight for p in PROCS])[0]
    host = rng.choice(HOSTS_BY_ROLE[proc.role])
    ctx = _context(rng, host)
    image = ctx["image"] = proc.image.format_map(ctx)
    user, integrity = ACCOUNTS[proc.account]
    parent_image, parent_command = PARENTS[proc.parent]
    cwd = proc.cwd or (SYS32 if integrity == "System" else image.rsplit("\\", 1)[0] + "\\")
    body = process_body(
        (_pid(rng), image, proc.command.format_map(ctx)),
        (cwd.format_map(ctx), user.format_map(ctx), integrity),
        (_pid(rng), parent_image, parent_command.format_map(ctx)),
    )
    return _header(1, host.fqdn, utc) | body


def _benign_other(rng: random.Random, event_id: int, utc: str) -> dict[str, object]:
    table = {3: NETWORK, 22: DNS, 11: FILES, 13: REGISTRY}[event_id]
    account, image, *values = rng.choice(table)
    host = rng.choice(HOSTS_BY_ROLE["ws" if account == "user" else "any"])
    ctx = _context(rng, host)
    user = ACCOUNTS[str(account)][0].format_map(ctx)
    image = str(image).format_map(ctx)
    texts = [str(value).format_map(ctx) for value in values]
    pid = 4 if image == "System" else _pid(rng)
    body: dict[str, object]
    if event_id == 3:
        body = {"ProcessId": pid, "Image": image, "User": user, "Protocol": "tcp",
                "Initiated": "true", "SourceIsIpv6": "false", "SourceIp": host.ip,
                "SourceHostname": host.fqdn, "SourcePort": rng.randrange(49152, 65535),
                "DestinationIsIpv6": "false", "DestinationIp": texts[1],
                "DestinationHostname": texts[0], "DestinationPort": values[2]}  # fmt: skip
    elif event_id == 22:
        body = dns_body(pid, image, user, texts[0], texts[1])
    elif event_id == 11:
        body = {"ProcessId": pid, "Image": image, "TargetFilename": texts[0],
                "CreationUtcTime": utc, "User": user}  # fmt: skip
    else:
        body = {"EventType": "SetValue", "ProcessId": pid, "Image": image,
                "TargetObject": texts[0], "Details": texts[1], "User": user}  # fmt: skip
    return _header(event_id, host.fqdn, utc) | body


def attack_event(index: int, utc: str) -> dict[str, object]:
    """The ``index``-th seeded attack event, stamped ``utc``."""
    _, event_id, computer, body = ATTACKS[index]
    return _header(event_id, computer, utc) | dict(body)


def generate_endpoint_events_with_labels(
    count: int, *, seed: int = 7, attacks: bool = True, start: datetime = START
) -> tuple[list[dict[str, object]], dict[int, str]]:
    """Generate Sysmon events and say which rows are seeded attacks.

    Parameters
    ----------
    count
        Number of events; at least ``len(ATTACKS)`` (15) when ``attacks`` is true.
    seed
        Seed of the benign activity. Attack rows and their content do not depend on it.
    attacks
        Seed the attack events, spread evenly over the list.
    start
        The events follow it, 20 ms to 2.5 s apart (default :data:`START`).

    Returns
    -------
    tuple[list[dict[str, object]], dict[int, str]]
        The events in time order, and a map from row index to a name in
        :data:`ATTACK_KINDS`.

    Raises
    ------
    ValueError
        If ``count`` is negative, or too small to hold the attack events.

    Examples
    --------
    >>> events, labels = generate_endpoint_events_with_labels(30)
    >>> labels[1], events[1]["CommandLine"], events[1]["ParentImage"]
    ('web_shell_recon', 'whoami /all', 'C:\\\\Windows\\\\System32\\\\inetsrv\\\\w3wp.exe')
    >>> sorted(set(labels.values())) == sorted(ATTACK_KINDS)
    True
    """
    seeded = len(ATTACKS) if attacks else 0
    if count < seeded:
        raise ValueError(f"count must be at least {seeded}, got {count}")
    # Centre each attack in an equal slice of the list: positions depend on count only.
    slots = {(2 * i + 1) * count // (2 * seeded): i for i in range(seeded)}
    rng = random.Random(seed)
    moment = start
    events: list[dict[str, object]] = []
    labels: dict[int, str] = {}
    for row in range(count):
        moment += timedelta(milliseconds=rng.randint(20, 2500))
        utc = utc_text(moment)
        attack = slots.get(row)
        if attack is not None:
            events.append(attack_event(attack, utc))
            labels[row] = ATTACKS[attack][0]
            continue
        event_id = rng.choices(_EVENT_IDS, weights=_EVENT_WEIGHTS)[0]
        if event_id == 1:
            events.append(benign_process(rng, utc))
        else:
            events.append(_benign_other(rng, event_id, utc))
    return events, labels


def generate_endpoint_events(
    count: int, *, seed: int = 7, attacks: bool = True, start: datetime = START
) -> list[dict[str, object]]:
    """Generate ``count`` Sysmon events; the same arguments always give the same events.

    About 85% are process creations (EventID 1), the rest network connections (3), DNS
    queries (22), file creations (11) and registry value sets (13). See
    :func:`generate_endpoint_events_with_labels` for the rows that hold attacks.

    Examples
    --------
    >>> events = generate_endpoint_events(20, seed=3, attacks=False)
    >>> len(events), events[0]["Channel"]
    (20, 'Microsoft-Windows-Sysmon/Operational')
    >>> events == generate_endpoint_events(20, seed=3, attacks=False)
    True
    """
    return generate_endpoint_events_with_labels(count, seed=seed, attacks=attacks, start=start)[0]
