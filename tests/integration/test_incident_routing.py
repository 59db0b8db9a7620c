"""An incident whose alerts come from several partitions is the replay's incident.

A forwarder that sends without keys spreads one host's events over every partition, so
that host's alerts are raised in several partition slots; grouped where they were raised,
each slot would open its own incident. Routed by incident key (:mod:`respond.routing`),
they are grouped by one owner, in event-time order behind the marks of every source slot.

Three hours of generated ministry logs go to three topics of four partitions (endpoint
events without keys, the others keyed as the correlations need); two ``neakta run``
members (no shared file: checkpoints in changelog topics) read them, one is SIGKILLed and
restarted, the other joins later. The alerts and the incidents, ids, alert lists and
severities included, must be those of ``neakta replay``, and some of those incidents must
hold alerts of two partitions or more. Grouped per partition, this data gives 3 lost and
14 extra incidents.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from neakta.settings import DEFAULT_RULES
from samples.day import write_day
from tests.integration.conftest import Broker, run, unique
from testsupport.stream import (
    FAMILIES,
    Stream,
    compare,
    documents,
    fill_topics,
    holds_the_replay,
    latest_incidents,
    member_env,
    play,
    replay,
)

pytestmark = pytest.mark.integration

PARTITIONS = 4
IDLE_S = 2.0


def spread(alerts: list[dict[str, Any]], stores: list[Path]) -> int:
    """Incidents whose alerts were raised in two partitions or more."""
    partition = {str(alert["_id"]): alert.get("neakta", {}).get("partition") for alert in alerts}
    return sum(
        len({partition.get(alert_id) for alert_id in incident["alert_ids"]}) > 1
        for incident in latest_incidents(*stores).values()
    )


def test_incidents_across_partitions_equal_the_replay(broker: Broker, tmp_path: Path) -> None:
    rng = random.Random(5)
    logs = tmp_path / "day"
    write_day(logs, seed=5, lines=6_000, hours=3)
    suffix = unique("i")
    topics = {family: f"{family}-{suffix}" for family in FAMILIES}
    scatter = frozenset({"endpoint"})
    total = run(fill_topics(broker.bootstrap, topics, logs, rng, PARTITIONS, scatter=scatter))
    stream = Stream(
        bootstrap=broker.bootstrap,
        topics=topics,
        group=unique("g"),
        partitions=PARTITIONS,
        total=total,
        env=member_env("kafka", topics, idle_s=IDLE_S),
        rules=DEFAULT_RULES,
        root=tmp_path / "run",
    )
    replayed = replay(logs, DEFAULT_RULES, tmp_path / "replay")
    play(
        stream,
        [(0.0, "start", "a"), (0.3, "kill", "a"), (0.5, "start", "b")],
        rng,
        idle_s=IDLE_S,
        patience=180,
        settled=holds_the_replay(
            stream.alert_files, replayed, stream.stores, tmp_path / "replay" / "neakta.db"
        ),
    )

    logs_text = [(folder / "neakta.log").read_text() for folder in stream.folders()]
    assert all("incidents grouped by key" in log for log in logs_text), logs_text
    streamed = [a for folder in stream.folders() for a in documents(folder / "alerts.ndjson")]
    stores = stream.stores()
    assert len(latest_incidents(tmp_path / "replay" / "neakta.db")) >= 20
    assert spread(streamed, stores) >= 3
    found = compare(streamed, stores, replayed, tmp_path / "replay" / "neakta.db")
    assert found == {"single": (0, 0), "correlation": (0, 0), "incidents": (0, 0)}
