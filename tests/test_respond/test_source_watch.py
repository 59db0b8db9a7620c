"""SourceWatch: silence alerts per batch, counters and the clock saved at each checkpoint."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from respond.incidents import IncidentTracker
from respond.sinks import SinkBatch
from respond.source_watch import SourceWatch
from respond.sources import SourceStats

T0 = datetime(2026, 11, 20, 8, tzinfo=UTC)
NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)


def batch(org: str, host: str, *minutes: float) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "organization.id": [org] * len(minutes),
            "@timestamp": [T0 + timedelta(minutes=m) for m in minutes],
            "observer.hostname": [host] * len(minutes),
        }
    )


def test_counters_are_written_at_checkpoints_only(tmp_path: Path) -> None:
    stats = SourceStats(tmp_path / "n.db")
    watch = SourceWatch(gap_s=600, stats=stats, clock=lambda: NOW)

    _, counts = watch.observe(
        {"firewall": batch("mef", "fw1", 0, 1, 2), "web": batch("mef", "w1", 1)}
    )
    assert counts == {"mef/firewall": 3, "mef/web": 1}
    assert stats.ministries(now=NOW) == []

    watch.observe({"firewall": batch("mef", "fw1", 3)})
    watch.checkpoint()

    rows = {(r.source, r.events, r.last_event) for r in stats.ministries(now=NOW)}
    assert rows == {
        ("firewall", 4, T0 + timedelta(minutes=3)),
        ("web", 1, T0 + timedelta(minutes=1)),
    }
    hosts = {(r.source, r.events) for r in stats.ministries(now=NOW, kind="host")}
    assert hosts == {("fw1", 4), ("w1", 1)}


def test_a_restart_resumes_the_clock_and_still_reports_the_silence(tmp_path: Path) -> None:
    path = tmp_path / "n.db"
    first = SourceWatch(gap_s=600, stats=SourceStats(path), clock=lambda: NOW)
    first.observe({"firewall": batch("mef", "fw1", 0)})
    first.checkpoint()

    second = SourceWatch(gap_s=600, stats=SourceStats(path), clock=lambda: NOW)
    output, _ = second.observe({"firewall": batch("moh", "fw2", 30)})

    assert output.alerts.select("organization.id", "neakta.silence.source", "rule.name").rows() == [
        ("mef", "firewall", "Log source silent"),
        ("mef", "fw1", "Log source silent"),
    ]
    resumed, _ = second.observe({"firewall": batch("mef", "fw1", 31)})
    assert resumed.alerts["rule.name"].to_list() == ["Log source resumed"] * 2


def test_without_a_gap_nothing_is_alerted_but_sources_are_counted() -> None:
    watch = SourceWatch(gap_s=None)
    watch.observe({"web": batch("mef", "w1", 0)})
    output, counts = watch.observe({"web": batch("moh", "w2", 600)})

    assert output.alerts.height == 0
    assert counts == {"moh/web": 1}


def test_silence_alerts_open_incidents_per_ministry_and_source() -> None:
    watch = SourceWatch(gap_s=600, tracker=IncidentTracker())
    watch.observe({"firewall": batch("mef", "fw1", 0), "web": batch("moh", "w1", 0)})
    output, _ = watch.observe({"web": batch("moh", "w1", 20)})

    linked = output.alerts.select("organization.id", "host.name", "neakta.incident.id")
    assert linked.height == 2 and linked["neakta.incident.id"].null_count() == 0
    assert output.incidents.select("organization.id", "incident.title").sort(
        "incident.title"
    ).rows() == [
        ("mef", "Log source silent on fw1"),
        ("mef", "Log source silent on unknown"),
    ]


def read_from(frame: pl.DataFrame, partition: int) -> pl.DataFrame:
    """The events as the Kafka source reads them: from one partition."""
    return frame.with_columns(pl.lit(partition, dtype=pl.Int32).alias("neakta.partition"))


def silent(output: SinkBatch) -> list[tuple[str, str]]:
    if not output.alerts.height:
        return []
    chosen = output.alerts.filter(pl.col("rule.name") == "Log source silent")
    return sorted(chosen.select("organization.id", "neakta.silence.source").rows())


def test_sources_read_only_from_partitions_gone_elsewhere_are_not_called_silent(
    tmp_path: Path,
) -> None:
    # mef is read from partition 0, moh from partitions 0 and 1, mfa from partition 1.
    # Partition 1 goes to another process: mfa's events go there, so this process must
    # not call mfa silent; moh is still read here, and is still watched here.
    path = tmp_path / "n.db"
    watch = SourceWatch(gap_s=600, stats=SourceStats(path), clock=lambda: NOW)
    watch.observe(
        {
            "firewall": pl.concat(
                [
                    read_from(batch("mef", "fw1", 0), 0),
                    read_from(batch("moh", "fw2", 0), 0),
                    read_from(batch("moh", "fw2", 1), 1),
                    read_from(batch("mfa", "fw3", 0), 1),
                ]
            )
        }
    )
    watch.checkpoint()
    assert watch.held_slots() == {0, 1}
    watch.forget_slots({1})
    output, _ = watch.observe({"firewall": read_from(batch("mef", "fw1", 30), 0)})
    assert silent(output) == [("moh", "firewall"), ("moh", "fw2")]

    # The slots are saved with the clock: a restart that gets partition 1 only forgets
    # what was read from partition 0 alone (mef; moh went silent there already).
    watch.checkpoint()
    again = SourceWatch(gap_s=600, stats=SourceStats(path), clock=lambda: NOW)
    assert again.held_slots() == {0}
    again.forget_slots({0})
    assert again.state.sources == {}


def test_files_name_no_partition_and_nothing_is_forgotten() -> None:
    watch = SourceWatch(gap_s=600, clock=lambda: NOW)
    watch.observe({"firewall": batch("mef", "fw1", 0)})
    watch.forget_slots({0, 1})
    output, _ = watch.observe({"firewall": batch("moh", "fw2", 30)})
    assert silent(output) == [("mef", "firewall"), ("mef", "fw1")]
