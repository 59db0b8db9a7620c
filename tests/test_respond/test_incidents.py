"""Alerts grouped into incidents: keys, windows, escalation, states, replays."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from itertools import pairwise
from typing import Any

import orjson
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from respond.incidents import IncidentTracker, incident_id
from tests.test_respond.factories import alerts_frame, at


def summary(changed: pl.DataFrame) -> list[tuple[Any, ...]]:
    return changed.select(
        "incident.title", "incident.alert_count", "incident.severity", "incident.change"
    ).rows()


def test_alerts_of_one_rule_and_host_make_one_incident() -> None:
    tracker = IncidentTracker()
    changed = tracker.update(alerts_frame([{"_id": "a1", "minute": 0}, {"_id": "a2", "minute": 5}]))
    assert summary(changed) == [("Mimikatz on mef-ws-01", 2, 73, "opened")]
    row = changed.row(0, named=True)
    assert row["incident.id"] == incident_id(("mef", "r-mimikatz", "mef-ws-01"), at(0), "a1")
    assert row["_id"] == row["incident.id"]
    assert (row["incident.first_seen"], row["incident.last_seen"]) == (at(0), at(5))
    assert row["incident.alert_ids"] == ["a1", "a2"]
    assert row["incident.rules"] == ["r-mimikatz"]
    assert (row["incident.state"], row["organization.id"], row["incident.entity"]) == (
        "open",
        "mef",
        "mef-ws-01",
    )


def test_other_host_ministry_or_rule_open_other_incidents() -> None:
    changed = IncidentTracker().update(
        alerts_frame(
            [
                {"_id": "a1"},
                {"_id": "a2", "host.name": "mef-ws-02"},
                {"_id": "a3", "organization.id": "moh"},
                {"_id": "a4", "rule.id": "r-psexec", "rule.name": "PsExec"},
                {"_id": "a5", "host.name": None, "source.ip": "10.1.2.3"},
            ]
        )
    )
    assert sorted(
        changed.select("organization.id", "incident.group", "incident.entity").rows()
    ) == [
        ("mef", "r-mimikatz", "10.1.2.3"),
        ("mef", "r-mimikatz", "mef-ws-01"),
        ("mef", "r-mimikatz", "mef-ws-02"),
        ("mef", "r-psexec", "mef-ws-01"),
        ("moh", "r-mimikatz", "mef-ws-01"),
    ]


def test_window_slides_from_the_last_alert() -> None:
    tracker = IncidentTracker(window=timedelta(minutes=30))
    first = tracker.update(alerts_frame([{"_id": "a1", "minute": 0}, {"_id": "a2", "minute": 25}]))
    second = tracker.update(alerts_frame([{"_id": "a3", "minute": 50}]))
    third = tracker.update(alerts_frame([{"_id": "a4", "minute": 81}]))
    assert summary(first) == [("Mimikatz on mef-ws-01", 2, 73, "opened")]
    assert summary(second) == [("Mimikatz on mef-ws-01", 3, 73, "updated")]
    assert second["incident.id"].to_list() == first["incident.id"].to_list()
    assert summary(third) == [("Mimikatz on mef-ws-01", 1, 73, "opened")]
    assert third["incident.id"].to_list() != first["incident.id"].to_list()


def test_severity_escalates_with_count_criticality_and_tactics() -> None:
    tracker = IncidentTracker(group_by="rule", escalate_count=3)
    base = {"event.severity": 47}
    opened = tracker.update(alerts_frame([{"_id": "a1", **base}, {"_id": "a2", **base}]))
    by_count = tracker.update(alerts_frame([{"_id": "a3", "minute": 1, **base}]))
    by_asset = tracker.update(
        alerts_frame([{"_id": "a4", "minute": 2, **base, "neakta.asset.criticality": "high"}])
    )
    by_tactics = tracker.update(
        alerts_frame(
            [
                {"_id": "a5", "minute": 3, **base, "threat.tactic.id": ["TA0006"]},
                {"_id": "a6", "minute": 4, **base, "threat.tactic.id": ["TA0008"]},
            ]
        )
    )
    assert [f["incident.severity"].to_list() for f in (opened, by_count, by_asset, by_tactics)] == [
        [47],
        [73],
        [99],
        [99],
    ]
    assert [f["incident.change"][0] for f in (opened, by_count, by_asset, by_tactics)] == [
        "opened",
        "escalated",
        "escalated",
        "updated",
    ]
    assert by_tactics.row(0, named=True)["incident.tactics"] == ["TA0006", "TA0008"]
    assert by_tactics.row(0, named=True)["neakta.asset.criticality"] == "high"


def test_two_tactics_alone_raise_one_step() -> None:
    changed = IncidentTracker().update(
        alerts_frame(
            [
                {"_id": "a1", "event.severity": 21, "threat.tactic.id": ["TA0002", "TA0005"]},
            ]
        )
    )
    assert changed.select("incident.severity", "incident.severity_label").row(0) == (47, "medium")


def test_grouping_by_tactic_puts_rules_of_one_tactic_together() -> None:
    changed = IncidentTracker(group_by="tactic").update(
        alerts_frame(
            [
                {
                    "_id": "a1",
                    "threat.tactic.id": ["TA0006"],
                    "threat.tactic.name": ["Credential Access"],
                },
                {
                    "_id": "a2",
                    "rule.id": "r-lsass",
                    "threat.tactic.id": ["TA0006"],
                    "threat.tactic.name": ["Credential Access"],
                },
                {"_id": "a3", "rule.id": "r-untagged", "threat.tactic.id": []},
            ]
        )
    )
    assert sorted(changed.select("incident.group", "incident.title", "incident.rules").rows()) == [
        ("TA0006", "Credential Access on mef-ws-01", ["r-mimikatz", "r-lsass"]),
        ("r-untagged", "Mimikatz on mef-ws-01", ["r-untagged"]),
    ]


def test_replayed_alerts_change_nothing() -> None:
    tracker = IncidentTracker()
    batch = alerts_frame([{"_id": "a1"}, {"_id": "a2", "minute": 1}])
    tracker.update(batch)
    assert tracker.update(batch).height == 0
    assert tracker.update(pl.concat([batch, alerts_frame([{"_id": "a3", "minute": 2}])]))[
        "incident.alert_count"
    ].to_list() == [3]


def test_acknowledged_incident_keeps_growing_and_says_so() -> None:
    tracker = IncidentTracker()
    opened = tracker.update(alerts_frame([{"_id": "a1"}]))
    tracker.set_state({opened["incident.id"][0]: "acknowledged"})
    changed = tracker.update(alerts_frame([{"_id": "a2", "minute": 1}]))
    assert changed.select("incident.id", "incident.state", "incident.alert_count").row(0) == (
        opened["incident.id"][0],
        "acknowledged",
        2,
    )


def test_closed_incident_is_never_reopened() -> None:
    tracker = IncidentTracker()
    opened = tracker.update(alerts_frame([{"_id": "a1"}]))
    tracker.set_state({opened["incident.id"][0]: "closed"})
    changed = tracker.update(alerts_frame([{"_id": "a2", "minute": 1}]))
    assert summary(changed) == [("Mimikatz on mef-ws-01", 1, 73, "opened")]
    assert changed["incident.id"][0] != opened["incident.id"][0]


def test_alert_ids_are_bounded_but_counted() -> None:
    tracker = IncidentTracker(max_alert_ids=2)
    changed = tracker.update(alerts_frame([{"_id": f"a{i}", "minute": i} for i in range(5)]))
    assert changed.select("incident.alert_count", "incident.alert_ids").row(0) == (5, ["a0", "a1"])


def test_snapshot_and_restore_resume_the_same_incident() -> None:
    tracker = IncidentTracker()
    opened = tracker.update(alerts_frame([{"_id": "a1"}]))
    resumed = IncidentTracker()
    resumed.restore(tracker.snapshot())
    assert resumed.update(alerts_frame([{"_id": "a1"}])).height == 0
    changed = resumed.update(alerts_frame([{"_id": "a2", "minute": 3}]))
    assert changed.select("incident.id", "incident.alert_count", "incident.change").row(0) == (
        opened["incident.id"][0],
        2,
        "updated",
    )


def test_incidents_handed_over_are_merged_and_go_on_with_the_same_id() -> None:
    before = IncidentTracker()
    opened = before.update(alerts_frame([{"_id": "a1"}]))
    taker = IncidentTracker()
    taker.update(alerts_frame([{"_id": "b1", "host.name": "other"}]))
    assert taker.merge(before.snapshot()) == 1
    assert taker.merge(before.snapshot()) == 0  # already held
    changed = taker.update(alerts_frame([{"_id": "a2", "minute": 3}]))
    assert changed.select("incident.id", "incident.alert_count").row(0) == (
        opened["incident.id"][0],
        2,
    )
    assert sorted(i.key[2] for i in taker.incidents) == ["mef-ws-01", "other"]


def test_incidents_handed_over_are_saved_with_the_next_batch() -> None:
    before = IncidentTracker()
    before.update(alerts_frame([{"_id": "a1"}]))
    taker = IncidentTracker()
    taker.update(alerts_frame([{"_id": "b1", "host.name": "other"}]))
    taker.saved()
    taker.merge(before.snapshot())
    changes = taker.changes()
    assert ([orjson.loads(s)["key"][2] for _, s in changes.states], changes.whole) == (
        ["mef-ws-01"],
        False,
    )


def test_incidents_far_behind_the_latest_alert_leave_memory() -> None:
    tracker = IncidentTracker(window=timedelta(minutes=10), retention=timedelta(minutes=10))
    tracker.update(alerts_frame([{"_id": "a1", "minute": 0}]))
    tracker.update(alerts_frame([{"_id": "b1", "minute": 21, "host.name": "other"}]))
    assert [i.key[2] for i in tracker.incidents] == ["other"]


def test_alert_without_time_or_entity_still_lands_in_an_incident() -> None:
    alerts = pl.DataFrame({"_id": ["a1"], "rule.id": ["r1"]})
    changed = IncidentTracker().update(alerts)
    assert changed.select("incident.title", "incident.entity", "incident.alert_count").row(0) == (
        "r1 on unknown",
        "unknown",
        1,
    )


ALERT = st.fixed_dictionaries(
    {
        "minute": st.integers(0, 240),
        "host.name": st.sampled_from(["h1", "h2"]),
        "rule.id": st.sampled_from(["r1", "r2"]),
        "event.severity": st.sampled_from([21, 47, 73, 99]),
        "threat.tactic.id": st.sampled_from([["TA0001"], ["TA0002"], []]),
    }
)


def final_incidents(batches: list[pl.DataFrame], group_by: str) -> dict[str, tuple[Any, ...]]:
    tracker = IncidentTracker(
        window=timedelta(minutes=30),
        group_by="tactic" if group_by == "tactic" else "rule",
        escalate_count=4,
        max_alert_ids=3,
    )
    latest: dict[str, tuple[Any, ...]] = {}
    for batch in batches:
        for row in tracker.update(batch).drop("incident.change").iter_rows():
            latest[row[0]] = row
    return latest


@settings(max_examples=60, deadline=None)
@given(
    alerts=st.lists(ALERT, min_size=1, max_size=25),
    cuts=st.lists(st.integers(0, 25), max_size=6),
    group_by=st.sampled_from(["rule", "tactic"]),
)
def test_any_split_into_batches_gives_the_same_incidents(
    alerts: list[dict[str, Any]], cuts: list[int], group_by: str
) -> None:
    rows = [{"_id": f"a{i:02d}", **alert} for i, alert in enumerate(alerts)]
    whole = alerts_frame(rows).sort("@timestamp", "_id")
    bounds = sorted({0, whole.height, *(c for c in cuts if c < whole.height)})
    batches = [whole.slice(a, b - a) for a, b in pairwise(bounds)]
    shuffled = whole.sample(fraction=1.0, shuffle=True, seed=1)
    assert final_incidents(batches, group_by) == final_incidents([shuffled], group_by)


def test_track_links_each_alert_to_its_incident_also_on_replay() -> None:
    tracker = IncidentTracker()
    batch = alerts_frame([{"_id": "a1"}, {"_id": "b1", "host.name": "pc9"}, {"_id": "a2"}])
    linked, changed = tracker.track(batch)
    by_host = dict(changed.select("incident.entity", "incident.id").rows())
    assert linked.select("_id", "neakta.incident.id").rows() == [
        ("a1", by_host["mef-ws-01"]),
        ("b1", by_host["pc9"]),
        ("a2", by_host["mef-ws-01"]),
    ]
    replayed, unchanged = tracker.track(batch)
    assert unchanged.height == 0
    assert replayed.equals(linked)


def test_an_incident_remembers_the_ids_of_its_recent_alerts_only() -> None:
    # A window of 10 minutes and 10 more of retention: an incident keeps the ids of the
    # alerts less than 20 minutes behind its last one, in memory and in its state.
    tracker = IncidentTracker(window=timedelta(minutes=10), retention=timedelta(minutes=10))
    alerts = [{"_id": f"a{n:03}", "minute": 5 * n} for n in range(100)]  # 8 h, one incident
    for start in range(0, 100, 10):
        tracker.update(alerts_frame(alerts[start : start + 10]))
    [incident] = tracker.incidents
    assert incident.alert_count == 100
    assert sorted(incident.seen) == ["a095", "a096", "a097", "a098", "a099"]
    assert [entry[0] for entry in incident.to_state()["seen"]] == sorted(incident.seen)
    # A copy of a recent alert is not counted again; without a store to keep the ids an
    # incident forgot, a copy of an old one is (a store: tests/test_respond/test_store.py).
    assert tracker.changes().forgotten == []
    assert tracker.update(alerts_frame([alerts[97]])).height == 0
    assert tracker.update(alerts_frame([alerts[3]]))["incident.alert_count"].to_list() == [101]


def test_a_state_saved_with_plain_ids_keeps_them_until_the_incident_moves_on() -> None:
    tracker = IncidentTracker(window=timedelta(minutes=10), retention=timedelta(minutes=10))
    tracker.update(alerts_frame([{"_id": "a1"}, {"_id": "a2", "minute": 1}]))
    [state] = tracker.snapshot()
    state["seen"] = ["a1", "a2"]  # as saved before the times were kept
    resumed = IncidentTracker(window=timedelta(minutes=10), retention=timedelta(minutes=10))
    resumed.restore([state])
    assert resumed.update(alerts_frame([{"_id": "a1"}])).height == 0
    resumed.update(alerts_frame([{"_id": "a3", "minute": 30}]))
    assert resumed.incidents[0].seen == {"a3"}


def test_ids_forgotten_since_the_last_save_are_still_known() -> None:
    # The store keeps what incidents forgot once it saves the tracker; until then the
    # tracker itself knows them.
    asked: list[list[str]] = []

    def store_knows_nothing_yet(ids: Sequence[str]) -> set[tuple[str, str]]:
        asked.append(list(ids))
        return set()

    tracker = IncidentTracker(
        window=timedelta(minutes=10), retention=timedelta(minutes=10), known=store_knows_nothing_yet
    )
    alerts = [{"_id": f"a{n:03}", "minute": 5 * n} for n in range(20)]
    tracker.update(alerts_frame(alerts))
    [incident] = tracker.incidents
    assert len(tracker.changes().forgotten) == 15
    assert tracker.update(alerts_frame([alerts[3], alerts[19]])).height == 0
    assert incident.alert_count == 20
    assert asked == [["a003"]]  # only an alert that old is looked up


def test_ids_forgotten_in_changes_taken_are_known_until_the_store_wrote_them() -> None:
    # The pipeline takes a batch's changes when it is detected; the store writes them
    # while the next batch is detected, which may bring a copy of a forgotten alert.
    tracker = IncidentTracker(
        window=timedelta(minutes=10), retention=timedelta(minutes=10), known=lambda ids: set()
    )
    alerts = [{"_id": f"a{n:03}", "minute": 5 * n} for n in range(20)]
    tracker.update(alerts_frame(alerts))
    taken = tracker.take_changes()
    assert len(taken.forgotten) == 15
    assert tracker.changes().forgotten == []
    assert tracker.update(alerts_frame([alerts[3]])).height == 0  # in flight: known
    tracker.written(taken)
    # Written: the store knows it from now on (this one says it does not: counted again).
    assert tracker.update(alerts_frame([alerts[3]]))["incident.alert_count"].to_list() == [21]
