"""A slot's state as JSON keeps each unchanged incident's bytes, and is never stale.

Checkpoints write a slot's whole state every batch; the bytes of an incident that did not
change since are reused. Whatever happened in between (alerts counted, marks, analysts
acknowledging or closing, hand-overs), the JSON says what :meth:`slot_state` says now.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest.mock import patch

import orjson
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from respond import incident
from respond.incidents import IncidentTracker
from tests.test_respond.factories import alerts_frame, at
from tests.test_respond.test_incident_eviction import ALERT, frame, trackers

STEP = st.one_of(
    st.tuples(st.just("alerts"), st.lists(ALERT, min_size=1, max_size=6)),
    st.tuples(st.just("mark"), st.integers(0, 1), st.integers(0, 700)),
    st.tuples(st.just("hand over"), st.integers(0, 2)),
    st.tuples(st.just("state"), st.integers(0, 50), st.sampled_from(["acknowledged", "closed"])),
)


def as_saved(tracker: IncidentTracker, slot: int) -> Any:
    return orjson.loads(tracker.slot_state_json(slot))


def fresh(tracker: IncidentTracker, slot: int) -> Any:
    return orjson.loads(orjson.dumps(tracker.slot_state(slot)))


@pytest.mark.parametrize("encoded_from", [1, 64])
@settings(max_examples=300, deadline=None)
@given(steps=st.lists(STEP, min_size=1, max_size=25))
def test_the_json_of_a_slot_is_its_state_now(encoded_from: int, steps: list[Any]) -> None:
    # encoded_from=1: every incident's seen ids are joined from entries encoded once.
    with patch.object(incident, "_SEEN_ENCODED_FROM", encoded_from):
        follow(steps)


def follow(steps: list[Any]) -> None:
    tracker, _ = trackers()
    count = 0
    for step in steps:
        match step:
            case ("alerts", alerts):
                tracker.update(frame(alerts, count))
                count += len(alerts)
            case ("mark", slot, minute):
                tracker.release({slot: at(minute)})
            case ("hand over", slot):
                saved = as_saved(tracker, slot)
                tracker.forget_slot(slot, saved=False)
                tracker.load_slot(slot, saved)
            case ("state", which, state):
                ids = sorted(i.id for i in tracker.incidents)
                tracker.set_state({ids[which % len(ids)]: state} if ids else {})
        for slot in sorted(tracker.slots()):
            assert as_saved(tracker, slot) == fresh(tracker, slot)


def test_an_incident_acknowledged_is_saved_acknowledged() -> None:
    tracker = IncidentTracker()
    tracker.update(alerts_frame([{"_id": "a1"}]))
    [before] = as_saved(tracker, -1)["incidents"]

    tracker.set_state({before["id"]: "acknowledged"})

    assert [i["state"] for i in as_saved(tracker, -1)["incidents"]] == ["acknowledged"]


def test_an_unchanged_incident_keeps_its_bytes_and_a_changed_one_is_encoded_again() -> None:
    tracker = IncidentTracker()
    tracker.update(alerts_frame([{"_id": "a1"}, {"_id": "b1", "host.name": "mef-ws-02"}]))
    tracker.slot_state_json(-1)
    first, second = tracker.incidents
    kept = first.state_json(), second.state_json()

    tracker.update(alerts_frame([{"_id": "a2", "minute": 5}]))

    assert first.state_json() is not kept[0]
    assert second.state_json() is kept[1]
    assert [i["alert_count"] for i in as_saved(tracker, -1)["incidents"]] == [2, 1]


def busy(n: int, minute: int) -> pl.DataFrame:
    """40 alerts of one incident at ``minute``."""
    return alerts_frame([{"_id": f"a{n}-{k:02d}", "minute": minute} for k in range(40)])


def test_a_busy_incident_saves_only_the_ids_it_still_remembers() -> None:
    window, retention = timedelta(minutes=30), timedelta(minutes=10)
    tracker = IncidentTracker(window=window, retention=retention)
    minutes = [0, 5, 20, 35, 50, 65, 60]  # each within the window; the last ones late
    for n, minute in enumerate(minutes[:3]):
        tracker.update(busy(n, minute))
    as_saved(tracker, -1)
    resumed = IncidentTracker(window=window, retention=retention)
    resumed.load_slot(-1, as_saved(tracker, -1))
    for n, minute in enumerate(minutes[3:], start=3):
        for each in (tracker, resumed):
            each.update(busy(n, minute))
            assert as_saved(each, -1) == fresh(each, -1)

    [saved] = as_saved(resumed, -1)["incidents"]
    assert sorted({alert_id[:2] for alert_id, _ in saved["seen"]}) == ["a3", "a4", "a5", "a6"]
    assert len(saved["seen"]) == 160
