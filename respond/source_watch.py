"""The pipeline's view of its log sources: silence alerts per batch, counters per checkpoint.

:class:`SourceWatch` wraps the pure steps of :mod:`respond.silence` for the running
pipeline: :meth:`~SourceWatch.observe` takes a batch's stamped events per family and
returns the "log source silent" / "resumed" alerts (for the incident tracker and the
sinks) and the batch's events per ``ministry/family``; :meth:`~SourceWatch.checkpoint`
writes what was observed since the last checkpoint to the store (per-source counters, the
silence clock), once the batch's alerts are delivered. A restart resumes the clock saved
there, so a source that went quiet while neakta was down is still reported in event time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

import polars as pl

from respond.assembly import with_incidents
from respond.incidents import IncidentTracker
from respond.silence import (
    ACTIVITY_SCHEMA,
    SourceClock,
    silence_alerts,
    source_activity,
    watch_sources,
)
from respond.sinks import SinkBatch
from respond.sources import SourceStats

__all__ = ["CLOCK_KEY", "SourceWatch"]

CLOCK_KEY: Final = "silence"
"""Key of the silence clock in the store's ``source_state`` table."""


@dataclass
class SourceWatch:
    """Silence detection and per-source counting for one running pipeline.

    Parameters
    ----------
    gap_s
        Event-time seconds of silence that raise an alert; None turns alerts off.
    stats
        Where counters and the clock are kept; None keeps them in memory only.
    tracker
        Groups the silence alerts into incidents, like rule alerts; None: alerts only.
    clock
        Gives "now" (``event.ingested`` of the alerts, the counters' wall time).
    """

    gap_s: float | None = 1800.0
    stats: SourceStats | None = None
    tracker: IncidentTracker | None = None
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    state: SourceClock = field(default_factory=SourceClock)
    _pending: list[pl.DataFrame] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        if self.stats is not None:
            saved = self.stats.load_state(CLOCK_KEY)
            if saved is not None:
                self.state = SourceClock.from_checkpoint(saved)

    def observe(self, events: Mapping[str, pl.DataFrame]) -> tuple[SinkBatch, Counter[str]]:
        """One batch: the silence alerts (and incidents) it raises, its events per source.

        The counts are per ``ministry/family``.

        Examples
        --------
        >>> from datetime import timedelta
        >>> t = datetime(2026, 11, 20, 8, tzinfo=UTC)
        >>> watch = SourceWatch(gap_s=60)
        >>> frame = lambda org, at: pl.DataFrame({"organization.id": [org], "@timestamp": [at]})
        >>> _, counts = watch.observe({"web": frame("mef", t)})
        >>> counts
        Counter({'mef/web': 1})
        >>> output, _ = watch.observe({"web": frame("moh", t + timedelta(minutes=5))})
        >>> output.alerts["message"].to_list()
        ['mef web logs: no events for 1 min since 2026-11-20T08:00:00Z']
        """
        parts = [source_activity(frame, family) for family, frame in events.items()]
        read = pl.concat(parts, how="diagonal") if parts else pl.DataFrame(schema=ACTIVITY_SCHEMA)
        activity = read.select(list(ACTIVITY_SCHEMA))
        self._pending.append(activity)
        families = activity.filter(pl.col("kind") == "family")
        counts = Counter(
            {
                f"{org}/{name}": events
                for org, name, events in families.select(
                    "organization.id", "name", "events"
                ).iter_rows()
            }
        )
        if self.gap_s is None:
            return SinkBatch(), counts
        # With the partitions each source was read from (see forget_slots).
        self.state, transitions = watch_sources(self.state, read, gap_s=self.gap_s)
        if transitions.height == 0:
            return SinkBatch(), counts
        alerts = silence_alerts(transitions, ingested=self.clock())
        return with_incidents(alerts, self.tracker), counts

    def forget_slots(self, gone: Iterable[int]) -> None:
        """Partitions went to another process: stop watching the sources read only there.

        The process that reads them now watches them (:meth:`SourceClock.forget_slots`).
        """
        self.state = self.state.forget_slots(gone)

    def held_slots(self) -> set[int]:
        """The partitions some watched source was read from."""
        return set().union(*self.state.slots.values())

    def close(self) -> None:
        """Close the store."""
        if self.stats is not None:
            self.stats.close()

    def checkpoint(self) -> None:
        """Write the counters observed since the last checkpoint, and the clock, to the store."""
        self.save(self.take())

    def take(self) -> tuple[list[pl.DataFrame], SourceClock]:
        """What :meth:`checkpoint` writes, taken now: the counters since, and the clock.

        Taken as soon as a batch is detected, so that the next batch may be detected
        while this one is delivered; written with :meth:`save` once it is.
        """
        taken, self._pending = self._pending, []
        return taken, self.state

    def save(self, taken: tuple[list[pl.DataFrame], SourceClock]) -> None:
        """Write what :meth:`take` took to the store."""
        frames, state = taken
        if self.stats is None:
            return
        pending = [frame for frame in frames if frame.height]
        if pending:
            merged = (
                pl.concat(pending)
                .group_by("organization.id", "kind", "name", maintain_order=True)
                .agg(
                    pl.col("first").min(),
                    pl.col("last").max(),
                    pl.col("events").sum(),
                )
            )
            self.stats.record(merged, now=self.clock())
        self.stats.save_state(CLOCK_KEY, state.to_checkpoint())
