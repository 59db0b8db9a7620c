"""The cyclic garbage collector during a run: what start-up built is left alone.

Python's collector walks every container object its generation holds. By the time
``neakta run`` consumes, start-up has built what lives as long as the run (the compiled
rule sets, the lookups, the sinks), and each full collection walked all of it again: in
a run of 200,000 Sysmon events and 30,000 alerts, 1.4 s of about 16 s of CPU went to
collections, 1.0 s of it to 15 full ones. :func:`quiet_collector` collects once, freezes
what is there (:func:`gc.freeze`: never walked again, still freed by reference counts),
and lets many more allocations pass between young collections; the settings before it
come back when it ends, for a caller (a test) that runs on in the same process.

Reference counting frees what the pipeline drops at once; only garbage in cycles waits
for a collection, and young cycles still meet one every :data:`RUN_THRESHOLDS` ``[0]``
allocations.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

__all__ = ["RUN_THRESHOLDS", "quiet_collector"]

RUN_THRESHOLDS: Final = (50_000, 20, 10)
"""``gc.set_threshold`` during a run (Python's defaults: 700, 10, 10)."""


@contextmanager
def quiet_collector() -> Iterator[None]:
    """Collect, freeze what start-up built, and collect less often, until the end.

    >>> import gc
    >>> before = gc.get_threshold()
    >>> with quiet_collector():
    ...     gc.get_threshold() == RUN_THRESHOLDS and gc.get_freeze_count() > 0
    True
    >>> gc.get_threshold() == before
    True
    """
    thresholds = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*RUN_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
