"""Rule files and the problems met reading them, without pySigma.

What a warm start needs before any rule is parsed: which files a rule path names (the
cache key hashes them) and the :class:`RuleProblem` a cached rule set carries. Kept apart
from :mod:`detect.loader` so that reading a compiled rule set from the cache
(:mod:`detect.cache`) never imports pySigma.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RULE_SUFFIXES", "RuleProblem", "find_rule_files"]

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
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix in RULE_SUFFIXES))
        else:
            found.append(path)
    return found
