"""Which log family (firewall, endpoint, web) a topic or a file carries.

Topics: an explicit map (topic -> family) wins; otherwise a topic named
``logs.<family>`` or ``logs.<family>.<ministry>`` carries that family, and the suffix names
the ministry.

Files: the family given by option wins; otherwise the first of ``firewall``, ``endpoint``,
``web`` that occurs in the file name (``fw``, ``sysmon``, ``winlog``, ``access`` and
``iis`` count too); otherwise the first non-empty line decides: a JSON object is an
endpoint event, an IIS ``#`` directive or an nginx/Apache access line is web, anything
else is firewall (syslog key=value, CSV or CEF).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Final

__all__ = ["NAME_HINTS", "family_of_file", "family_of_line", "family_of_topic"]

_FAMILIES: Final = ("firewall", "endpoint", "web")
NAME_HINTS: Final[dict[str, tuple[str, ...]]] = {
    "firewall": ("firewall", "fortigate", "iptables", "pfsense", "fw"),
    "endpoint": ("endpoint", "sysmon", "winlog", "windows"),
    "web": ("web", "access", "iis", "nginx", "apache"),
}
"""Words in a file name that name its family, checked family by family."""

_ACCESS_LINE = re.compile(rb'^\S+ \S+ \S+ \[[^\]]+\] "')


def family_of_topic(
    topic: str, families: Mapping[str, str] | None = None
) -> tuple[str | None, str | None]:
    """The family of a topic and the ministry its name carries, if any.

    Examples
    --------
    >>> family_of_topic("logs.firewall.mef")
    ('firewall', 'mef')
    >>> family_of_topic("syslog-in", {"syslog-in": "firewall"})
    ('firewall', None)
    >>> family_of_topic("metrics")
    (None, None)
    """
    parts = topic.split(".")
    ministry = parts[2] if len(parts) == 3 and parts[0] == "logs" else None
    if families and topic in families:
        return families[topic], ministry
    if len(parts) in (2, 3) and parts[0] == "logs" and parts[1] in _FAMILIES:
        return parts[1], ministry
    return None, None


def family_of_line(line: bytes) -> str:
    """Guess a family from one line of content.

    Examples
    --------
    >>> family_of_line(b'{"EventID": 1}'), family_of_line(b"#Fields: date time")
    ('endpoint', 'web')
    >>> family_of_line(b'1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 1')
    'web'
    >>> family_of_line(b"<13>Oct 11 22:14:15 fw1 kernel: IN=eth0 SRC=1.2.3.4")
    'firewall'
    """
    text = line.lstrip()
    if text.startswith(b"{"):
        return "endpoint"
    if text.startswith(b"#") or _ACCESS_LINE.match(text):
        return "web"
    return "firewall"


def family_of_file(path: Path, first_line: bytes | None) -> str:
    """Guess a file's family from its name, else from its first non-empty line.

    Examples
    --------
    >>> family_of_file(Path("logs/mef-sysmon-2024.ndjson.gz"), None)
    'endpoint'
    >>> family_of_file(Path("day1.log"), b'{"a": 1}')
    'endpoint'
    """
    words = set(re.split(r"[^a-z0-9]+", path.name.lower()))
    for family, hints in NAME_HINTS.items():
        if words.intersection(hints):
            return family
    return family_of_line(first_line or b"")
