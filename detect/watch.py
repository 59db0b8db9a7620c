"""Notice changed rule files by polling: the files under the rule paths and their mtimes.

A fingerprint is the sorted list of (path, modification time, size) of every rule file
:func:`detect.loader.find_rule_files` finds; a file added, removed, rewritten or touched
changes it. Polling needs nothing from the operating system and works on every mount.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from detect.files import rule_file_names

__all__ = ["Fingerprint", "RuleWatcher", "fingerprint"]

Fingerprint = tuple[tuple[str, int, int], ...]
"""(path, mtime in ns, size) of every rule file, sorted by path."""


def fingerprint(paths: Sequence[str | Path]) -> Fingerprint:
    """The current fingerprint of the rule files under ``paths`` (missing files skipped)."""
    found = []
    for name in rule_file_names(paths):
        try:
            stat = os.stat(name)  # noqa: PTH116 (a Path per file costs more than its stat)
        except OSError:
            continue
        found.append((name, stat.st_mtime_ns, stat.st_size))
    return tuple(sorted(found))


class RuleWatcher:
    """Says whether the rule files changed since it last looked.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> watcher = RuleWatcher([folder])
    >>> watcher.changed()
    False
    >>> _ = (folder / "new.yml").write_text("title: x")
    >>> watcher.changed(), watcher.changed()
    (True, False)
    """

    def __init__(self, paths: Sequence[str | Path]) -> None:
        self.paths = list(paths)
        self.seen = fingerprint(self.paths)

    def changed(self) -> bool:
        """Whether the fingerprint differs from the last one seen (which it then becomes)."""
        now = fingerprint(self.paths)
        if now == self.seen:
            return False
        self.seen = now
        return True
