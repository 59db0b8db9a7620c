"""Errors of the enrich stage, and the record of an entry a loader could not use.

One base class, decided by flags rather than by lists of classes::

    EnrichError              retriable = False
    ├── SourceFileError      a lookup file that cannot be read or has the wrong layout
    └── CatalogError         a lookup table built in memory that breaks its own rules

A single bad line inside a readable file is not an exception: the loader keeps it as a
:class:`Rejected` entry (where it was, what it said and why it was refused) and goes on
with the others, so one typo never costs the whole inventory or feed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

__all__ = ["CatalogError", "EnrichError", "Rejected", "SourceFileError"]


class EnrichError(Exception):
    """Base class of every enrich error.

    Attributes
    ----------
    retriable
        Whether trying again may succeed. Lookup files do not change under a retry, so no
        enrich error is retriable unless a subclass says so.
    """

    retriable: ClassVar[bool] = False


class SourceFileError(EnrichError):
    """A lookup file (inventory, indicators, ATT&CK table, GeoIP database) is unusable."""


class CatalogError(EnrichError):
    """A lookup table handed over in memory lacks a column or has a wrong type."""


@dataclass(frozen=True, slots=True)
class Rejected:
    """One entry of a lookup file that was kept out of the table, with the reason.

    Attributes
    ----------
    source
        The file (or other origin) the entry came from.
    position
        Where in the source: ``line 12`` for CSV, ``objects[3]`` for a STIX bundle.
    text
        The entry as written (shortened to 200 characters).
    reason
        Why it was refused, for a person to fix it.
    """

    source: str
    position: str
    text: str
    reason: str

    def __str__(self) -> str:
        """``source:position: reason: text``, the way the CLI reports it."""
        return f"{self.source}:{self.position}: {self.reason}: {self.text}"
