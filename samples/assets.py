"""Generate the sample asset inventory of Cambodia's ministries (deterministic).

Reads ``enrich/data/annex1_systems.csv`` (the 29 institutions and their information
systems listed in Annex 1 of the Cambodia Digital Government Policy 2022-2035) and writes
``enrich/data/assets.csv``::

    python -m samples.assets --out enrich/data/assets.csv

Address plan (invented, private): each ministry has one ``10.<octet>.0.0/16`` and the
``*.<domain>`` host names; its n-th system gets ``10.<octet>.<100 + n>.0/24`` and the
host name ``<system-slug>.<domain>``. The five ministries of the bundled endpoint sample
keep the octets that sample uses (MEF 10, MoH 20, MoEYS 30, MPTC 40, MoI 50); every other
institution gets ``100 + its number in the annex``. Criticality follows from words in
the system's name (money, identity and borders are critical; personal data high;
websites, news and meeting rooms low; the rest medium).
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import enrich
from enrich.inventory import INVENTORY_COLUMNS

__all__ = ["ANNEX", "OCTETS", "domain_of", "generate_inventory", "main", "slug_of"]

DATA: Final = Path(enrich.__file__).resolve().parent / "data"
ANNEX: Final = DATA / "annex1_systems.csv"
"""The transcribed annex: ``no,ministry_id,abbreviation,ministry_name,system``."""

OCTETS: Final = {"mef": 10, "moh": 20, "moeys": 30, "mptc": 40, "moi": 50}
"""Second address octets fixed by the bundled endpoint sample; others are 100 + number."""

_DOMAINS: Final = {"moi": "interior.gov.kh"}
_STOP: Final = frozenset(
    [
        "a",
        "and",
        "at",
        "for",
        "in",
        "of",
        "or",
        "the",
        "to",
        "through",
        "via",
        "with",
        "system",
        "systems",
        "management",
        "information",
        "program",
        "software",
        "platform",
    ]
)
_ACRONYM: Final = re.compile(r"\s[-–]\s*([A-Za-z][A-Za-z0-9]*)$")
_CRITICAL: Final = (
    "financ",
    "payment",
    "salary",
    "payroll",
    "customs",
    "tax",
    "camdx",
    "exchange",
    "passport",
    "identity",
    "visa",
    "border",
    "criminal",
    "weapons",
    "social security",
    "accounting",
    "budget",
)
_HIGH: Final = (
    "personnel",
    "human resource",
    "civil servant",
    "patient",
    "health",
    "laboratory",
    "land",
    "property",
    "registration",
    "license",
    "licence",
    "prison",
    "drug",
    "child",
    "worker",
    "student",
    "document",
    "legal",
    "cadastral",
    "pharmaceutical",
    "disabilit",
)
_LOW: Final = ("website", "news", "meeting", "room", "library", "awareness", "sign board")


def domain_of(ministry_id: str) -> str:
    """The DNS domain of a ministry (``mef`` -> ``mef.gov.kh``, ``moi`` -> ``interior.gov.kh``)."""
    return _DOMAINS.get(ministry_id, f"{ministry_id}.gov.kh")


def slug_of(system: str) -> str:
    """A short host label for a system: its acronym when the name ends with one.

    Examples
    --------
    >>> slug_of("Cambodia Data eXchange Platform - CamDX")
    'camdx'
    >>> slug_of("Vehicle Registration and Driving License Systems")
    'vehicle-registration-driving'
    """
    acronym = _ACRONYM.search(system)
    if acronym and len(acronym.group(1)) >= 3:
        return acronym.group(1).lower()
    words = re.findall(r"[a-z0-9]+", system.lower())
    kept = [word for word in words if word not in _STOP] or words
    return "-".join(kept[:3])


def _criticality(system: str) -> str:
    name = system.lower()
    for level, words in (("critical", _CRITICAL), ("high", _HIGH), ("low", _LOW)):
        if any(word in name for word in words):
            return level
    return "medium"


def generate_inventory(annex: Path = ANNEX) -> str:
    """The inventory CSV text for the annex (same input, same bytes)."""
    with annex.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(INVENTORY_COLUMNS)
    seen: set[str] = set()
    counts: dict[str, int] = {}
    for row in rows:
        ministry, name = row["ministry_id"], row["ministry_name"]
        octet = OCTETS.get(ministry, 100 + int(row["no"]))
        domain = domain_of(ministry)
        if ministry not in seen:
            seen.add(ministry)
            writer.writerow(
                [f"10.{octet}.0.0/16", f"*.{domain}", ministry, name, "", "medium", f"soc@{domain}"]
            )
        system = row["system"].strip()
        if not system:
            continue
        counts[ministry] = counts.get(ministry, 0) + 1
        number = counts[ministry]
        slug = slug_of(system)
        host = f"{slug}.{domain}" if f"{slug}.{domain}" not in seen else f"{slug}-{number}.{domain}"
        seen.add(host)
        writer.writerow(
            [
                f"10.{octet}.{100 + number}.0/24",
                host,
                ministry,
                name,
                system,
                _criticality(system),
                f"it-{slug}@{domain}",
            ]
        )
    return out.getvalue()


def main(argv: Sequence[str] | None = None) -> int:
    """Write the inventory to ``--out`` (or standard output)."""
    parser = argparse.ArgumentParser(prog="python -m samples.assets", description=__doc__)
    parser.add_argument("--annex", type=Path, default=ANNEX, help="transcribed annex CSV")
    parser.add_argument("--out", type=Path, help="inventory CSV to write (default: stdout)")
    args = parser.parse_args(argv)
    text = generate_inventory(args.annex)
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
