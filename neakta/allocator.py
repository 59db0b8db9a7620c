"""How long Polars' allocator keeps freed memory before giving it back to the system.

Polars allocates with jemalloc and, on import, tells it to give freed pages back after half
a second (``dirty_decay_ms:500``). A pipeline that frees its batch's buffers and allocates
the next batch's a moment later then maps, faults in and zeroes the same memory again
and again: in ``neakta run`` at 1,183 rules that cost 2.5 million page faults per
million events, over a quarter of its CPU time in the kernel, and a busy purging thread. Kept a
minute instead, the freed pages are used again by the next batches and are given back once
the stream has been quiet that long (``docs/benchmarks.md``, "Freed memory kept for the
next batch").

Polars reads ``_RJEM_MALLOC_CONF`` when it is imported, puts its own options first and
the variable's after them (the last one counts), and writes the result back to the
environment, where the processes it starts inherit it. So this has to run first
(``neakta/__init__.py`` calls it), and it adds its decay to what the variable holds unless
that already sets one besides the options a Polars import writes (:data:`POLARS_DEFAULT`,
which a parent process that imported Polars passes on): an operator's choice is kept.
A process that imported Polars before neakta keeps what Polars chose.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Collection, MutableMapping

__all__ = ["ALLOCATOR_SETTING", "DECAY_MS", "POLARS_DEFAULT", "keep_freed_memory"]

ALLOCATOR_SETTING = "_RJEM_MALLOC_CONF"
"""The environment variable Polars' jemalloc reads its options from."""

DECAY_MS = 60_000
"""How long freed pages stay mapped for reuse before they go back to the system."""

POLARS_DEFAULT = "dirty_decay_ms:500,muzzy_decay_ms:1000"
"""What Polars puts first in :data:`ALLOCATOR_SETTING` when it is imported."""

_POLARS_OPTIONS = POLARS_DEFAULT.split(",")


def keep_freed_memory(
    environ: MutableMapping[str, str] | None = None,
    loaded: Collection[str] | None = None,
) -> str | None:
    """Ask Polars' allocator to keep freed pages :data:`DECAY_MS`; the value set, if any.

    Parameters
    ----------
    environ
        The process environment (default ``os.environ``).
    loaded
        Names of the modules already imported (default ``sys.modules``).

    Examples
    --------
    >>> keep_freed_memory({}, loaded=())
    'dirty_decay_ms:60000'
    >>> keep_freed_memory({"_RJEM_MALLOC_CONF": "narenas:2"}, loaded=())
    'narenas:2,dirty_decay_ms:60000'
    >>> keep_freed_memory({"_RJEM_MALLOC_CONF": POLARS_DEFAULT}, loaded=())
    'dirty_decay_ms:500,muzzy_decay_ms:1000,dirty_decay_ms:60000'
    >>> keep_freed_memory({"_RJEM_MALLOC_CONF": "dirty_decay_ms:500"}, loaded=()) is None
    True
    >>> keep_freed_memory({}, loaded=("polars",)) is None
    True
    """
    environ = os.environ if environ is None else environ
    loaded = sys.modules if loaded is None else loaded
    if "polars" in loaded:
        return None
    options = [option for option in environ.get(ALLOCATOR_SETTING, "").split(",") if option]
    if any(option.startswith("dirty_decay_ms:") for option in _chosen(options)):
        return None
    value = ",".join([*options, f"dirty_decay_ms:{DECAY_MS}"])
    environ[ALLOCATOR_SETTING] = value
    return value


def _chosen(options: list[str]) -> list[str]:
    """``options`` without the pairs a Polars import wrote (:data:`POLARS_DEFAULT`)."""
    kept: list[str] = []
    width = len(_POLARS_OPTIONS)
    at = 0
    while at < len(options):
        if options[at : at + width] == _POLARS_OPTIONS:
            at += width
        else:
            kept.append(options[at])
            at += 1
    return kept
