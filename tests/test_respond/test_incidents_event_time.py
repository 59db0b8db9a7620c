"""Incidents grouped in event time: held behind a release mark, whatever the arrival order."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import orjson
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from respond.incidents import IncidentTracker, incident_id
from tests.test_respond.factories import alerts_frame, at


def tracker() -> IncidentTracker:
    return IncidentTracker(
        window=timedelta(minutes=30),
        retention=timedelta(minutes=10),
        escalate_count=4,
        max_alert_ids=3,
    )


def test_alerts_are_held_until_the_mark_passes_them_then_grouped_in_event_time() -> None:
    held = tracker()
    held.watch([0])
    late_first = alerts_frame(
        [
            {"_id": "b", "minute": 40, "neakta.partition": "0"},
            {"_id": "a", "minute": 5, "neakta.partition": "0"},
        ]
    )
    assert (held.update(late_first).height, held.held) == (0, 2)
    opened = held.release({0: at(20)})
    assert opened.select("incident.id", "incident.alert_ids").rows() == [
        (incident_id(("mef", "r-mimikatz", "mef-ws-01"), at(5), "a"), ["a"])
    ]
    # 35 minutes after "a": beyond the 30-minute window, a second incident.
    assert held.flush().select("incident.alert_ids", "incident.change").rows() == [
        (["b"], "opened")
    ]
    assert held.held == 0


def test_alerts_of_one_time_are_ordered_by_id() -> None:
    held = tracker()
    held.watch([-1])
    held.update(alerts_frame([{"_id": "z"}, {"_id": "m"}]))
    row = held.flush().row(0, named=True)
    assert (row["incident.id"], row["incident.alert_ids"]) == (
        incident_id(("mef", "r-mimikatz", "mef-ws-01"), at(0), "m"),
        ["m", "z"],
    )


def test_a_late_alert_joins_an_incident_in_memory_and_keeps_its_id() -> None:
    held = tracker()
    held.watch([0])
    held.update(alerts_frame([{"_id": "a", "minute": 10, "neakta.partition": "0"}]))
    opened = held.release({0: at(15)})
    late = held.update(alerts_frame([{"_id": "x", "minute": 2, "neakta.partition": "0"}]))
    assert late.select("incident.id", "incident.alert_count", "incident.first_seen").row(0) == (
        opened["incident.id"][0],
        2,
        at(2),
    )
    assert held.late == 1


def test_a_late_alert_far_from_any_incident_opens_its_own() -> None:
    held = tracker()
    held.watch([0])
    held.update(alerts_frame([{"_id": "a", "minute": 100, "neakta.partition": "0"}]))
    held.release({0: at(101)})
    late = held.update(alerts_frame([{"_id": "x", "minute": 2, "neakta.partition": "0"}]))
    assert late.select("incident.alert_ids", "incident.change").rows() == [(["x"], "opened")]
    assert held.late == 1


def test_the_mark_never_goes_back() -> None:
    held = tracker()
    held.watch([0])
    held.release({0: at(30)})
    held.release({0: at(10)})
    held.update(alerts_frame([{"_id": "x", "minute": 20, "neakta.partition": "0"}]))
    assert (held.held, held.late) == (0, 1)


def test_unwatched_slots_group_as_alerts_come() -> None:
    held = tracker()
    held.watch([0])
    silence = held.update(alerts_frame([{"_id": "s", "minute": 3}]))  # no partition
    assert silence["incident.alert_ids"].to_list() == [["s"]]
    assert held.held == 0


def test_incidents_behind_the_mark_leave_memory_but_not_before() -> None:
    held = tracker()
    held.watch([0])
    held.update(alerts_frame([{"_id": "a", "minute": 0, "neakta.partition": "0"}]))
    held.release({0: at(1)})
    held.update(alerts_frame([{"_id": "b", "minute": 200, "neakta.partition": "0"}]))
    assert len(held.incidents) == 1  # "b" is held: the mark has not passed it
    held.release({0: at(41)})  # 0 + window 30 + retention 10 < 41
    assert held.incidents == []
    assert held.changes().dropped == []  # never saved: nothing to delete from the store


def test_a_slot_handed_over_goes_on_with_its_incidents_and_held_alerts() -> None:
    before = tracker()
    before.watch([0, 1])
    before.update(
        alerts_frame(
            [
                {"_id": "a", "minute": 1, "neakta.partition": "0"},
                {"_id": "b", "minute": 9, "neakta.partition": "0"},
                {"_id": "o", "minute": 1, "neakta.partition": "1", "host.name": "other"},
            ]
        )
    )
    opened = before.release({0: at(5), 1: at(5)})
    mine = opened.filter(pl.col("incident.entity") == "mef-ws-01")["incident.id"][0]
    state = orjson.loads(orjson.dumps(before.slot_state(0)))
    before.saved()
    before.forget_slot(0)
    assert [i.key[2] for i in before.incidents] == ["other"]
    assert before.changes().dropped == [mine]
    taker = tracker()
    taker.load_slot(0, state)
    assert taker.held == 1
    more = taker.update(alerts_frame([{"_id": "c", "minute": 12, "neakta.partition": "0"}]))
    assert more.height == 0
    final = taker.flush()
    assert final.select("incident.id", "incident.alert_ids").rows() == [(mine, ["a", "b", "c"])]


ALERT = st.fixed_dictionaries(
    {
        "minute": st.integers(0, 240),
        "host.name": st.sampled_from(["h1", "h2"]),
        "rule.id": st.sampled_from(["r1", "r2"]),
        "event.severity": st.sampled_from([21, 47, 73, 99]),
        "threat.tactic.id": st.sampled_from([["TA0001"], ["TA0002"], []]),
        "neakta.partition": st.sampled_from(["0", "1"]),
    }
)


def final(changes: list[pl.DataFrame]) -> dict[str, tuple[Any, ...]]:
    """Each incident's last state (the change column left out)."""
    latest: dict[str, tuple[Any, ...]] = {}
    for changed in changes:
        for row in changed.drop("incident.change").iter_rows():
            latest[row[0]] = row
    return latest


@settings(max_examples=80, deadline=None)
@given(
    alerts=st.lists(ALERT, min_size=1, max_size=25),
    data=st.data(),
    group_by=st.sampled_from(["rule", "tactic"]),
)
def test_any_interleaving_batches_and_hand_over_give_the_incidents_of_event_time_order(
    alerts: list[dict[str, Any]], data: st.DataObject, group_by: str
) -> None:
    rows = [{"_id": f"a{i:02d}", **alert} for i, alert in enumerate(alerts)]
    order = data.draw(st.permutations(range(len(rows))), label="arrival")
    cuts = data.draw(st.lists(st.integers(0, len(rows)), max_size=6), label="cuts")
    handover = data.draw(st.integers(0, len(rows)), label="hand-over after")

    def fresh() -> IncidentTracker:
        made = tracker()
        made.group_by = "tactic" if group_by == "tactic" else "rule"
        return made

    # Every alert in event-time order at once: the reference.
    reference = fresh()
    expected = final([reference.update(alerts_frame(rows))])

    arriving = [rows[i] for i in order]
    bounds = sorted({0, len(arriving), *cuts, handover})
    current = fresh()
    current.watch([0, 1])
    changes = []
    for start, end in pairwise(bounds):
        changes.append(current.update(alerts_frame(arriving[start:end])))
        # Per slot, the mark goes as far as the alerts still to come allow (an input's
        # watermark never passes what it has still to deliver).
        marks: dict[int, datetime | None] = {}
        for slot in (0, 1):
            coming = [at(r["minute"]) for r in arriving[end:] if r["neakta.partition"] == str(slot)]
            marks[slot] = min(coming) if coming else None
        changes.append(current.release(marks))
        if end == handover:
            taker = fresh()
            for slot in (0, 1):
                taker.load_slot(slot, orjson.loads(orjson.dumps(current.slot_state(slot))))
            current = taker
    changes.append(current.flush())
    assert current.late == 0
    assert final(changes) == expected


def test_an_alert_stamped_beyond_every_input_is_grouped_at_once() -> None:
    held = tracker()
    held.watch([0])
    held.update(
        alerts_frame(
            [
                {"_id": "a", "minute": 10, "neakta.partition": "0"},
                {"_id": "f", "minute": 5000, "neakta.partition": "0"},  # a forged clock
            ]
        )
    )
    grouped = held.release({0: at(5)}, latest={0: at(10)})
    assert grouped["incident.alert_ids"].to_list() == [["f"]]
    assert (held.held, held.ahead, held.late) == (1, 1, 0)
