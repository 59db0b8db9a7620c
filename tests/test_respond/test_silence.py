"""A ministry's log source that stops sending (in event time) raises "silent", then "resumed"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from respond.incidents import IncidentTracker
from respond.silence import (
    SILENT_RULE_ID,
    SourceClock,
    silence_alerts,
    source_activity,
    watch_sources,
)

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
GAP = 30 * 60.0


def events(org: str, host: str, *minutes: float) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "organization.id": [org] * len(minutes),
            "@timestamp": [T0 + timedelta(minutes=m) for m in minutes],
            "observer.hostname": [host] * len(minutes),
        }
    )


def step(clock: SourceClock, *frames: pl.DataFrame) -> tuple[SourceClock, list[tuple[object, ...]]]:
    activity = pl.concat([source_activity(frame, "firewall") for frame in frames])
    clock, changes = watch_sources(clock, activity, gap_s=GAP)
    rows = changes.select("organization.id", "kind", "name", "status", "@timestamp").rows()
    return clock, rows


def test_a_source_that_stops_is_silent_once_and_resumes_once_in_event_time() -> None:
    clock, changes = step(SourceClock(), events("mef", "FG-MEF", 0, 1), events("moh", "FG-MOH", 0))
    assert changes == []

    # moh keeps sending; 29 minutes after mef's last event nothing is late yet.
    clock, changes = step(clock, events("moh", "FG-MOH", 30))
    assert changes == []

    # At minute 45 mef has been quiet for 44 minutes: silent from minute 31 (last + gap).
    clock, changes = step(clock, events("moh", "FG-MOH", 45))
    assert changes == [
        ("mef", "family", "firewall", "silent", T0 + timedelta(minutes=31)),
        ("mef", "host", "fg-mef", "silent", T0 + timedelta(minutes=31)),
    ]

    # Still silent: no second alert.
    clock, changes = step(clock, events("moh", "FG-MOH", 60))
    assert changes == []

    clock, changes = step(clock, events("mef", "FG-MEF", 70, 71))
    assert changes == [
        ("mef", "family", "firewall", "resumed", T0 + timedelta(minutes=70)),
        ("mef", "host", "fg-mef", "resumed", T0 + timedelta(minutes=70)),
    ]
    assert not any(state.silent for state in clock.sources.values())


def test_wall_clock_time_does_not_matter_only_event_time() -> None:
    # Two batches read a day apart (a stopped pipeline) with events one minute apart.
    clock, _ = step(SourceClock(), events("mef", "fw1", 0))
    clock, changes = step(clock, events("mef", "fw1", 1))
    assert changes == []


def test_a_new_source_is_remembered_not_reported() -> None:
    clock, _ = step(SourceClock(), events("mef", "fw1", 0))
    clock, changes = step(clock, events("moh", "fw2", 120))
    # mef went silent; moh, seen for the first time, raises nothing.
    assert [row[:4] for row in changes] == [
        ("mef", "family", "firewall", "silent"),
        ("mef", "host", "fw1", "silent"),
    ]
    assert ("moh", "family", "firewall") in clock.sources


def test_the_clock_survives_a_checkpoint_round_trip_mid_silence() -> None:
    clock, _ = step(SourceClock(), events("mef", "fw1", 0))
    clock, _ = step(clock, events("moh", "fw2", 40))
    restored = SourceClock.from_checkpoint(clock.to_checkpoint())
    assert restored == clock

    _, changes = step(restored, events("mef", "fw1", 50))
    assert [row[3] for row in changes] == ["resumed", "resumed"]


def test_alerts_are_deterministic_and_become_incidents_per_ministry() -> None:
    clock, _ = step(SourceClock(), events("mef", "fw1", 0))
    _, changes = watch_sources(
        clock, source_activity(events("moh", "fw2", 45), "firewall"), gap_s=GAP
    )
    now = T0 + timedelta(hours=2)
    alerts = silence_alerts(changes, ingested=now)
    again = silence_alerts(changes, ingested=now + timedelta(hours=1))

    assert alerts["_id"].to_list() == again["_id"].to_list()
    since = "no events for 30 min since 2026-11-20T08:00:00Z"
    assert alerts.select("rule.id", "organization.id", "host.name", "message").rows() == [
        (SILENT_RULE_ID, "mef", None, f"mef firewall logs: {since}"),
        (SILENT_RULE_ID, "mef", "fw1", f"mef host fw1: {since}"),
    ]
    linked, incidents = IncidentTracker().track(alerts)
    assert linked["neakta.incident.id"].null_count() == 0
    assert incidents.select("organization.id", "incident.title").height == 2


def test_events_without_ministry_or_time_are_no_source() -> None:
    frame = pl.DataFrame(
        {
            "organization.id": [None, "mef"],
            "@timestamp": [T0, None],
            "host.name": ["a", "b"],
        },
        schema_overrides={"organization.id": pl.String, "@timestamp": pl.Datetime("us", "UTC")},
    )
    assert source_activity(frame, "web").height == 0
