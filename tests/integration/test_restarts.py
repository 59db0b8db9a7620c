"""Kills among two members of a group: the stream still gives the replay's alerts.

The bundled sample logs go to three topics of two partitions as forwarders send them (see
:mod:`testsupport.stream`); two ``neakta run`` processes, each in its own working
directory, read them in one group, and are SIGKILLed three times between them, each
restarted at once. Every restart rebalances the group and restores the slots it is given
from the checkpoint store: the SQLite file the two share (one host) or the group's
changelog topic (no shared disk). The alerts, single-event and correlation, must be
exactly those of ``neakta replay`` of the same files, compared by alert id.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from neakta.settings import DEFAULT_RULES
from tests.integration.conftest import Broker, run, unique
from tests.integration.test_kafka_run import SAMPLES
from testsupport.stream import (
    FAMILIES,
    Stream,
    alert_ids,
    documents,
    fill_topics,
    holds_the_replay,
    member_env,
    play,
    replay,
)

pytestmark = pytest.mark.integration

PARTITIONS = 2
IDLE_S = 1.5


@pytest.mark.parametrize("store", ["sqlite", "kafka"])
def test_three_kills_among_two_processes_give_the_replay_alerts(
    broker: Broker, tmp_path: Path, store: str
) -> None:
    rng = random.Random(7)
    suffix = unique("r")
    topics = {family: f"{family}-{suffix}" for family in FAMILIES}
    total = run(fill_topics(broker.bootstrap, topics, SAMPLES, rng, PARTITIONS))
    stream = Stream(
        bootstrap=broker.bootstrap,
        topics=topics,
        group=unique("g"),
        partitions=PARTITIONS,
        total=total,
        env=member_env(store, topics, idle_s=IDLE_S),
        rules=DEFAULT_RULES,
        root=tmp_path / "run",
    )
    steps = [
        (0.0, "start", "a"),
        (0.0, "start", "b"),
        (0.1, "kill", "a"),
        (0.3, "kill", "b"),
        (0.5, "kill", "a"),
    ]
    replayed = replay(SAMPLES, DEFAULT_RULES, tmp_path / "replay")
    play(
        stream,
        steps,
        rng,
        idle_s=IDLE_S,
        patience=120,
        settled=holds_the_replay(stream.alert_files, replayed),
    )

    logs = [(folder / "neakta.log").read_text() for folder in stream.folders()]
    # Each member was restarted and given partitions again after its kill.
    assert all(log.count("partitions assigned") >= 2 for log in logs), logs
    assert not any("late: " in log for log in logs), logs
    streamed = [a for folder in stream.folders() for a in documents(folder / "alerts.ndjson")]
    assert len(alert_ids(replayed, correlation=True)) >= 5
    assert alert_ids(replayed, correlation=False)
    assert alert_ids(streamed, correlation=True) == alert_ids(replayed, correlation=True)
    assert alert_ids(streamed, correlation=False) == alert_ids(replayed, correlation=False)
