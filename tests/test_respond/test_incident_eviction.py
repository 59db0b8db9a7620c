"""Eviction looks only at the incidents behind their slot's horizon, and drops the same.

The tracker keeps, per slot, a heap of its incidents' last alert times, and pops only what
the horizon has passed. Held to a tracker that looks at every group
at every step, on alerts of watched and unwatched slots, late ones, marks, hand-overs and
analysts closing incidents: the same incidents out of every step and the same held in
memory.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from respond.incidents import IncidentTracker
from tests.test_respond.factories import alerts_frame, at


class ScanEverything(IncidentTracker):
    """Eviction as it was: every group of every slot looked at on every step."""

    def _evict(self, marks: Any = None) -> None:
        for where, group in list(self._active.items()):
            slot = where[0]
            if slot in self._marks:
                if marks is None or slot not in marks:
                    continue
                mark = self._marks[slot]
            else:
                mark = self.watermark
            if mark is None:
                continue
            horizon = mark - self.window - self.retention
            kept = [i for i in group if i.last_seen >= horizon]
            if len(kept) < len(group):
                for incident in group:
                    if incident.last_seen < horizon:
                        self._drop(incident.id)
                group[:] = kept
            if not group:
                del self._active[where]


def trackers() -> tuple[IncidentTracker, IncidentTracker]:
    window, retention = timedelta(minutes=30), timedelta(minutes=10)
    ours = IncidentTracker(window=window, retention=retention)
    theirs = ScanEverything(window=window, retention=retention)
    for tracker in (ours, theirs):
        tracker.watch([0, 1])  # slot 2 is not watched: grouped as alerts come
    return ours, theirs


ALERT = st.tuples(st.integers(0, 2), st.integers(0, 3), st.integers(0, 600))
STEP = st.one_of(
    st.tuples(st.just("alerts"), st.lists(ALERT, min_size=1, max_size=6)),
    st.tuples(st.just("mark"), st.integers(0, 1), st.integers(0, 700)),
    st.tuples(st.just("hand over"), st.integers(0, 2)),
    st.tuples(st.just("close"), st.integers(0, 50)),
)


def frame(alerts: list[tuple[int, int, int]], first: int) -> pl.DataFrame:
    rows = []
    for n, (slot, host, minute) in enumerate(alerts):
        rows.append({"_id": f"a{first + n}", "minute": minute, "host.name": f"h{host}"})
        rows[-1]["neakta.partition"] = str(slot)
    return alerts_frame(rows)


def held_ids(tracker: IncidentTracker) -> list[tuple[str, datetime]]:
    return sorted((i.id, i.last_seen) for i in tracker.incidents)


@settings(max_examples=300, deadline=None)
@given(st.lists(STEP, min_size=1, max_size=25))
def test_eviction_drops_what_a_scan_of_every_group_drops(steps: list[Any]) -> None:
    ours, theirs = trackers()
    count = 0
    for step in steps:
        outs = []
        for tracker in (ours, theirs):
            match step:
                case ("alerts", alerts):
                    outs.append(tracker.update(frame(alerts, count)))
                case ("mark", slot, minute):
                    outs.append(tracker.release({slot: at(minute)}))
                case ("hand over", slot):
                    state = tracker.slot_state(slot)
                    tracker.forget_slot(slot, saved=False)
                    tracker.load_slot(slot, state)
                    outs.append(pl.DataFrame())
                case ("close", which):
                    ids = sorted(i.id for i in tracker.incidents)
                    closing = {ids[which % len(ids)]: "closed"} if ids else {}
                    tracker.set_state(closing)
                    outs.append(pl.DataFrame())
        if step[0] == "alerts":
            count += len(step[1])
        assert outs[0].equals(outs[1])
        assert held_ids(ours) == held_ids(theirs)
        ours_changed, theirs_changed = ours.take_changes(), theirs.take_changes()
        assert ours_changed.dropped == theirs_changed.dropped
        assert ours_changed.states == theirs_changed.states
    assert ours.flush().equals(theirs.flush())


def test_incidents_of_a_slot_handed_over_still_leave_memory_behind_its_mark() -> None:
    ours, _ = trackers()
    ours.update(frame([(0, 1, 0), (0, 2, 5), (1, 1, 0)], 0))
    ours.release({0: at(10), 1: at(10)})
    state = ours.slot_state(0)
    ours.forget_slot(0, saved=False)
    ours.load_slot(0, state)

    ours.release({0: at(100)})  # 5 + window 30 + retention 10 < 100

    assert [i.slot for i in ours.incidents] == [1]


def test_an_incident_whose_last_alert_moved_on_is_kept_past_its_first_alert() -> None:
    ours, theirs = trackers()
    for tracker in (ours, theirs):
        tracker.update(frame([(0, 1, 0), (0, 1, 25), (2, 1, 0), (2, 1, 25)], 0))
        # Horizon 50 - 30 - 10 = 10: past the first alerts (0), not the last ones (25).
        tracker.release({0: at(50)})
    assert len(held_ids(ours)) == 2
    assert held_ids(ours) == held_ids(theirs)
