"""Compiled rule sets cached on disk, keyed by everything that decides what they hold.

Reading SigmaHQ's YAML with pySigma and converting each rule takes seconds; a rule set
that has been compiled before comes back from the cache in a fraction of that. The key
is a hash of: every rule file's path and bytes, the pipeline, the placeholders, the
versions of Python, Polars, pySigma and neakta, and the source of the ``detect``
package itself. Any change gives another key, so a stale entry is never read; an entry
that cannot be read is compiled again and replaced.

A hit imports nothing of pySigma: the entry holds compiled rules (:mod:`detect.compiled`)
and rule problems (:mod:`detect.files`), whose modules are free of it; pySigma is imported
only to compile on a miss.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import pickle
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from detect.engine import CompiledRuleSet, Strategy
from detect.files import find_rule_files

__all__ = ["compile_rules", "default_cache_dir", "read_entry", "ruleset_key", "write_entry"]

_FORMAT = b"neakta-ruleset-1"
_LIBRARIES = ("polars", "pysigma", "neakta")


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/neakta`` (``~/.cache/neakta`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "neakta"


def _version(name: str) -> bytes:
    try:
        return importlib.metadata.version(name).encode()
    except importlib.metadata.PackageNotFoundError:
        return b"-"


def _engine_source() -> bytes:
    """The ``detect`` package's own source: an edited engine never reads old entries."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.rglob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.digest()


def ruleset_key(
    paths: Sequence[str | Path], pipeline: str, placeholders: Mapping[str, list[str]] | None
) -> str:
    """The hash naming the compiled rule set of ``paths`` under these options."""
    digest = hashlib.sha256(_FORMAT)
    digest.update(sys.version.encode())
    for library in _LIBRARIES:
        digest.update(library.encode() + b"=" + _version(library) + b"\0")
    digest.update(_engine_source())
    digest.update(pipeline.encode() + b"\0")
    digest.update(repr(sorted((placeholders or {}).items())).encode() + b"\0")
    for path in find_rule_files(paths):
        digest.update(str(path).encode() + b"\0")
        try:
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        except OSError as error:
            digest.update(f"unreadable: {error}".encode())
    return digest.hexdigest()


def compile_rules(
    paths: Sequence[str | Path],
    *,
    pipeline: str,
    placeholders: Mapping[str, list[str]] | None = None,
    strategy: Strategy = "fast",
    cache_dir: Path | None = None,
) -> CompiledRuleSet:
    """Load and compile the rules at ``paths``, through the cache in ``cache_dir``.

    ``cache_dir`` None compiles without the cache. Rules that did not load come first in
    ``rejected``, as with :func:`detect.load_rules`.
    """
    if cache_dir is None:
        return _compile(paths, pipeline, placeholders, strategy)
    entry = cache_dir / f"rules-{ruleset_key(paths, pipeline, placeholders)}.pickle"
    found = read_entry(entry)
    if found is not None:
        try:
            rules, rejected = found
            return CompiledRuleSet(rules, rejected, strategy=strategy, pipeline=pipeline)
        except Exception:
            pass
    ruleset = _compile(paths, pipeline, placeholders, strategy)
    write_entry(entry, (ruleset.rules, ruleset.rejected))
    return ruleset


def read_entry(entry: Path) -> Any:
    """What the cache entry at ``entry`` holds; None where it is absent or unreadable."""
    try:
        return pickle.loads(entry.read_bytes())
    except Exception:
        return None


def write_entry(entry: Path, value: object) -> None:
    """Write a cache entry atomically; a cache that cannot be written is no error."""
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        partial = entry.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(pickle.dumps(value))
        partial.replace(entry)
    except OSError:
        pass  # it only costs the next start-up


def _compile(
    paths: Sequence[str | Path],
    pipeline: str,
    placeholders: Mapping[str, list[str]] | None,
    strategy: Strategy,
) -> CompiledRuleSet:
    from detect.loader import load_rules

    loaded = load_rules(paths)
    ruleset = CompiledRuleSet.compile(
        loaded.rules, pipeline=pipeline, placeholders=placeholders, strategy=strategy
    )
    return ruleset.with_rejected(loaded.problems)
