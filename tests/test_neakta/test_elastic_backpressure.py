"""The whole chain against the local Elasticsearch: while the cluster is down nothing is
committed and nothing new is read; when it is back every alert is there exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from enrich import load_attack
from ingest.testing import ListDeadLetters, MemorySource
from neakta.alerting import AlertStage
from neakta.pipeline import Pipeline
from respond import IncidentTracker
from respond.assembly import Lookups
from respond.elastic import build_client, build_elastic_sink, install_templates, render_templates
from tests.elastic_server import ElasticServer
from tests.test_neakta.test_pipeline import ATTACK, BENIGN, rulesets

STREAM = "logs-neakta.alerts-default"


@pytest.fixture
async def server() -> AsyncIterator[ElasticServer]:
    running = ElasticServer()
    running.start()
    client = build_client(hosts=[running.url])
    await install_templates(client, render_templates(), incidents_alias="neakta-incidents")
    await client.close()
    yield running
    running.stop()


async def test_an_outage_holds_the_offsets_and_the_batch_lands_once_the_cluster_is_back(
    server: ElasticServer,
) -> None:
    # Two batches, three attacks on three hosts: three alerts.
    first, second, third = (ATTACK.replace('"ws1"', f'"ws{n}"') for n in (1, 2, 3))
    source = MemorySource.of_lines("endpoint", [first, BENIGN, second, third], batch_size=2)
    sink = build_elastic_sink(hosts=[server.url], max_retries=1, initial_backoff=0.01)
    stage = AlertStage(Lookups(attack=load_attack()), tracker=IncidentTracker())
    pipeline = Pipeline(
        rulesets(),
        sinks=[sink],
        dead_letters=ListDeadLetters(),
        make_alerts=stage,
        backoff=0.05,
        max_backoff=0.1,
    )
    server.stop()
    running = asyncio.create_task(pipeline.run(source))
    await asyncio.sleep(1.0)
    # The first batch waits for the cluster: not committed, and the next one not read.
    assert source.committed == []
    assert pipeline.stats.batches == 0
    server.start()
    stats = await asyncio.wait_for(running, 20)
    await pipeline.close()
    assert source.committed == source.given
    stored = server.state.documents.get(STREAM, {})
    assert len(stored) == stats.alerts == 3
    assert stats.duplicates == 0
