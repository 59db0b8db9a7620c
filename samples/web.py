"""Deterministic sample web access logs of ministry portals, with seeded attacks.

:func:`generate_nginx_lines_with_labels` writes nginx ``combined`` lines of the exam
results portal (times in Phnom Penh's zone); :func:`generate_iis_lines_with_labels` writes
an IIS W3C extended log of the MPTC e-Services portal, with its ``#Software``,
``#Version``, ``#Date`` and ``#Fields`` directives (repeated where IIS restarts a log).
The requests are drawn from :mod:`samples.web_catalog`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

from samples.common import LOCAL_TIME, MPTC_PORTAL, START, client_address
from samples.web_catalog import (
    BROWSERS,
    IIS_ATTACKS,
    IIS_PAGES,
    NGINX_ATTACKS,
    NGINX_NEAR_MISSES,
    NGINX_PAGES,
    PROVINCES,
    REFERRERS,
)

__all__ = [
    "IIS_FIELDS",
    "WEB_ATTACK_KINDS",
    "generate_iis_lines_with_labels",
    "generate_nginx_lines_with_labels",
]

WEB_ATTACK_KINDS: Final = (
    "nikto_scan",
    "nikto_trace",
    "sql_injection",
    "sqlmap_injection",
    "path_traversal",
    "login_brute_force",
    "login_brute_force_success",
    "webshell_upload",
    "webshell_access",
    "sql_injection_numeric",
    "log4shell",
)
"""Seeded web attacks, nginx's first, then those of the IIS log."""

IIS_FIELDS: Final = (
    "date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
    "cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken"
)
"""The ``#Fields:`` directive of the IIS sample (IIS 10's default selection)."""

_SPAN_MS: Final = 3_600_000


def _times(rng: random.Random, count: int, start: datetime = START) -> list[datetime]:
    """``count`` sorted moments over the hour after ``start``."""
    return sorted(start + timedelta(milliseconds=rng.uniform(0, _SPAN_MS)) for _ in range(count))


def _fill(template: str, rng: random.Random) -> str:
    return template.format(
        n=rng.randrange(100000, 999999), p=rng.choice(PROVINCES), h=f"{rng.getrandbits(32):08x}"
    )


def _nginx_line(moment: datetime, request: tuple[str, str, str, int, str, str], size: int) -> str:
    client, method, target, status, agent, referrer = request
    stamp = moment.astimezone(LOCAL_TIME).strftime("%d/%b/%Y:%H:%M:%S %z")
    return (
        f'{client} - - [{stamp}] "{method} {target} HTTP/1.1" {status} {size} '
        f'"{referrer}" "{agent}"'
    )


def _merge(
    benign: list[tuple[datetime, str]], seeded: Sequence[tuple[datetime, str | None, str]]
) -> tuple[list[str], dict[int, str]]:
    """Lines of both lists in time order, and the indices of the seeded ones."""
    tagged: list[tuple[datetime, str | None, str]] = [(t, None, line) for t, line in benign]
    tagged += [(moment, kind, line) for moment, kind, line in seeded]
    tagged.sort(key=lambda item: item[0])
    lines = [line for _, _, line in tagged]
    labels = {index: kind for index, (_, kind, _) in enumerate(tagged) if kind is not None}
    return lines, labels


def _check_count(count: int, seeded: int) -> None:
    if count < seeded:
        raise ValueError(f"count must be at least {seeded}, got {count}")


def generate_nginx_lines_with_labels(
    count: int, *, seed: int = 7, attacks: bool = True, start: datetime = START
) -> tuple[list[str], dict[int, str]]:
    """Generate nginx ``combined`` access lines and say which lines are seeded attacks.

    Parameters
    ----------
    count
        Number of lines, at least the number of seeded lines (52: attacks and near misses)
        when ``attacks`` is true.
    seed
        Seed of the benign requests; attack requests and their times do not depend on it.
    attacks
        Seed the attacks: a Nikto scan, SQL injection by hand and by sqlmap, path
        traversal, a login brute force (25 ``POST /login`` answered 401, then a 302), SQL
        injection into a number without a quote, and Log4Shell lookups; and, unlabelled,
        benign requests that resemble them.
    start
        When the hour of requests begins (default :data:`START`).

    Returns
    -------
    tuple[list[str], dict[int, str]]
        Lines in time order and a map from line index to a name in :data:`WEB_ATTACK_KINDS`.

    Examples
    --------
    >>> lines, labels = generate_nginx_lines_with_labels(60, seed=1)
    >>> row = min(row for row, kind in labels.items() if kind == "nikto_trace")
    >>> lines[row].split('"')[1]
    'TRACE / HTTP/1.1'
    """
    seeded_specs = (*NGINX_ATTACKS, *NGINX_NEAR_MISSES) if attacks else ()
    _check_count(count, len(seeded_specs))
    rng = random.Random(seed)
    weights = [page[0] for page in NGINX_PAGES]
    benign = []
    for moment in _times(rng, count - len(seeded_specs), start):
        _, method, target, status = rng.choices(NGINX_PAGES, weights=weights)[0]
        request = (client_address(rng), method, _fill(target, rng), status,
                   rng.choice(BROWSERS), rng.choice(REFERRERS))  # fmt: skip
        size = rng.randrange(200, 60000) if status == 200 else rng.randrange(150, 600)
        benign.append((moment, _nginx_line(moment, request, size)))
    seeded = []
    for offset, (kind, client, method, target, status, agent) in seeded_specs:
        moment = start + timedelta(seconds=offset)
        request = (client, method, target, status, agent, "-")
        seeded.append((moment, kind, _nginx_line(moment, request, rng.randrange(150, 900))))
    return _merge(benign, seeded)


def _iis_line(moment: datetime, fields: tuple[str, str, str, str, str, int, str, int]) -> str:
    method, stem, query, user, client, status, agent, taken = fields
    linked = stem != "/eServices/" and agent.startswith("Mozilla/5.0 (")
    referrer = "https://eservices.mptc.gov.kh/eServices/" if linked else "-"
    return (
        f"{moment:%Y-%m-%d %H:%M:%S} {MPTC_PORTAL} {method} {stem} {query} 443 {user} {client} "
        f"{agent.replace(' ', '+')} {referrer} {status} 0 0 {taken}"
    )


def _iis_header(moment: datetime) -> list[str]:
    return [
        "#Software: Microsoft Internet Information Services 10.0",
        "#Version: 1.0",
        f"#Date: {moment:%Y-%m-%d %H:%M:%S}",
        f"#Fields: {IIS_FIELDS}",
    ]


def generate_iis_lines_with_labels(
    count: int, *, seed: int = 7, attacks: bool = True, start: datetime = START
) -> tuple[list[str], dict[int, str]]:
    """Generate an IIS W3C extended log and say which lines are seeded attacks.

    ``count`` counts request lines; the file also holds two blocks of four directive lines
    (at the top, and where the log restarts half-way), which are never labelled.
    The seeded attacks upload a web shell with ``PUT``, run commands through it and try
    a path traversal. ``start``: when the hour of requests begins (default :data:`START`).

    Examples
    --------
    >>> lines, labels = generate_iis_lines_with_labels(20, seed=1)
    >>> lines[3] == "#Fields: " + IIS_FIELDS, len(lines)
    (True, 28)
    >>> row = min(row for row, kind in labels.items() if kind == "webshell_access")
    >>> lines[row].split()[3:6]
    ['GET', '/eServices/uploads/cmdasp.aspx', 'cmd=whoami+/all']
    """
    seeded_specs = IIS_ATTACKS if attacks else ()
    _check_count(count, len(seeded_specs))
    rng = random.Random(seed)
    weights = [page[0] for page in IIS_PAGES]
    benign = []
    for moment in _times(rng, count - len(seeded_specs), start):
        _, method, stem, query, status = rng.choices(IIS_PAGES, weights=weights)[0]
        user = f"MPTC\\staff{rng.randrange(1, 40):02d}" if "Apply" in stem else "-"
        fields = (method, stem, _fill(query, rng), user, client_address(rng), status,
                  rng.choice(BROWSERS), rng.randrange(15, 900))  # fmt: skip
        benign.append((moment, _iis_line(moment, fields)))
    seeded = [
        (start + timedelta(seconds=offset), kind,
         _iis_line(start + timedelta(seconds=offset),
                   (method, stem, query, "-", client, status, agent, rng.randrange(15, 400))))
        for offset, (kind, client, method, stem, query, status, agent) in seeded_specs
    ]  # fmt: skip
    body, labels = _merge(benign, seeded)
    half = len(body) // 2
    restart = start + timedelta(minutes=30) if not body else _iis_time(body[half])
    lines = [*_iis_header(start), *body[:half], *_iis_header(restart), *body[half:]]
    shifted = {row + (4 if row < half else 8): kind for row, kind in labels.items()}
    return lines, shifted


def _iis_time(line: str) -> datetime:
    return datetime.strptime(line[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=START.tzinfo)
