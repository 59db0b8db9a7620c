"""A slot's state as JSON keeps each unchanged incident's bytes, and is never stale.

Checkpoints write a slot's whole state every batch; the bytes of an incident that did not
change since are reused. Whatever happened in between (alerts counted, marks, analysts
acknowledging or closing, hand-overs), the JSON says what :meth:`slot_state` says now.
"""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

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


@settings(max_examples=300, deadline=None)
@given(st.lists(STEP, min_size=1, max_size=25))
def test_the_json_of_a_slot_is_its_state_now(steps: list[Any]) -> None:
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
