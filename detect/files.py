"""Rule files and the problems met reading them, without pySigma.

What a warm start needs before any rule is parsed: which files a rule path names (the
cache key hashes them) and the :class:`RuleProblem` a cached rule set carries. Kept apart
from :mod:`detect.loader` so that reading a compiled rule set from the cache
(:mod:`detect.cache`) never imports pySigma.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RULE_SUFFIXES", "RuleProblem", "find_rule_files", "rule_file_names"]

RULE_SUFFIXES = (".yml", ".yaml")


@dataclass(frozen=True, slots=True)
class RuleProblem:
    """Why a rule (or a whole file) cannot be used."""

    path: str
    line: int
    reason: str
    detail: str = ""
    rule_id: str | None = None
    title: str | None = None

    def __str__(self) -> str:
        who = " ".join(x for x in (self.title, self.rule_id) if x)
        detail = f": {self.detail}" if self.detail else ""
        rule = f" (rule {who})" if who else ""
        return f"{self.path}:{self.line}: {self.reason}{detail}{rule}"


def find_rule_files(paths: Iterable[str | Path]) -> list[Path]:
    """Rule files under ``paths`` (files as given, directories searched recursively)."""
    return [Path(name) for name in rule_file_names(paths)]


def rule_file_names(paths: Iterable[str | Path]) -> list[str]:
    """:func:`find_rule_files` as strings, without a ``Path`` per entry.

    The rule watcher asks every few seconds. A directory gives the entries below it
    whose name ends in a rule suffix, as ``Path.rglob("*")`` finds them (symbolic links
    to directories not followed, unreadable directories skipped), in the order of their
    sorted paths.
    """
    found: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            below = _names_below(str(path))
            # Separators as NUL: plain string order is then ``Path`` order (part by part).
            found.extend(sorted(below, key=lambda name: name.replace(os.sep, "\0")))
        else:
            found.append(str(path))
    return found


def _names_below(folder: str) -> Iterator[str]:
    try:
        with os.scandir(folder) as scan:
            entries = list(scan)
    except PermissionError:
        return
    for entry in entries:
        if _suffix(entry.name) in RULE_SUFFIXES:
            yield entry.path
        try:
            below = entry.is_dir(follow_symlinks=False)
        except OSError:
            below = False
        if below:
            yield from _names_below(entry.path)


def _suffix(name: str) -> str:
    """``PurePath(name).suffix``: from the last dot, where it neither starts nor ends it."""
    dot = name.rfind(".")
    return name[dot:] if 0 < dot < len(name) - 1 else ""
