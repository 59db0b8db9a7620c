"""ElasticSink against the local fake cluster: replays, retries, dead documents, outages."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import polars as pl
import pytest

from respond.elastic import (
    ElasticSink,
    build_client,
    build_elastic_sink,
    install_templates,
    render_templates,
)
from respond.errors import SinkCredentialsError, SinkUnavailableError
from respond.sinks import DEAD_DOCUMENT_SCHEMA, AlertSink, SinkBatch
from tests.elastic_server import ElasticServer

STREAM = "logs-neakta.alerts-default"
INCIDENTS = "neakta-incidents-000001"


def alerts(**changes: list[Any]) -> pl.DataFrame:
    columns: dict[str, list[Any]] = {
        "_id": ["a1", "a2", "a3"],
        "@timestamp": [datetime(2024, 5, 1, 8, 30, tzinfo=UTC)] * 3,
        "event.kind": ["alert"] * 3,
        "event.severity": [73, 47, 99],
        "event.risk_score": [73.0, 47.0, 99.0],
        "rule.id": ["r-enc", "r-certutil", "r-mimikatz"],
        "rule.name": ["Encoded PowerShell", "Certutil download", "Mimikatz"],
        "source.ip": ["10.1.2.3", "10.1.2.4", None],
        "process.command_line": ["powershell -enc SQBFAFgA", "certutil -urlcache", None],
        "neakta.asset.ministry.name": ["MEF", "MOH", "MEF"],
    }
    columns.update(changes)
    return pl.DataFrame(columns)


def incidents() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "_id": ["inc1"],
            "incident.id": ["inc1"],
            "incident.state": ["open"],
            "incident.severity": [73],
            "incident.severity_label": ["high"],
            "incident.first_seen": [datetime(2024, 5, 1, 8, 30, tzinfo=UTC)],
            "incident.last_seen": [datetime(2024, 5, 1, 8, 31, tzinfo=UTC)],
            "incident.alert_ids": [["a1", "a3"]],
        }
    )


class Sleeps:
    """Records the backoff delays instead of waiting them out."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def server() -> Iterator[ElasticServer]:
    running = ElasticServer()
    running.start()
    yield running
    running.stop()


@pytest.fixture
async def installed(server: ElasticServer) -> ElasticServer:
    client = build_client(hosts=[server.url])
    await install_templates(client, render_templates(), incidents_alias="neakta-incidents")
    await client.close()
    return server


@pytest.fixture
async def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def sink(installed: ElasticServer, sleeps: Sleeps) -> AsyncIterator[ElasticSink]:
    opened = ElasticSink(
        build_client(hosts=[installed.url]), max_retries=2, initial_backoff=0.5, sleep=sleeps
    )
    yield opened
    await opened.close()


async def test_a_batch_lands_in_the_data_stream_and_the_incidents_index(
    sink: ElasticSink, installed: ElasticServer
) -> None:
    delivery = await sink.write(SinkBatch(alerts=alerts(), incidents=incidents()))

    assert (delivery.written, delivery.duplicates, delivery.dead.height) == (4, 0, 0)
    state = installed.state
    assert state.data_streams == {STREAM}
    assert sorted(state.documents[STREAM]) == ["a1", "a2", "a3"]
    assert state.documents[STREAM]["a1"] == {
        "@timestamp": "2024-05-01T08:30:00.000000Z",
        "event": {"kind": "alert", "severity": 73, "risk_score": 73.0},
        "rule": {"id": "r-enc", "name": "Encoded PowerShell"},
        "source": {"ip": "10.1.2.3"},
        "process": {"command_line": "powershell -enc SQBFAFgA"},
        "neakta": {"asset": {"ministry": {"name": "MEF"}}},
    }
    assert state.documents[INCIDENTS]["inc1"]["incident"]["last_seen"] == (
        "2024-05-01T08:31:00.000000Z"
    )


async def test_the_elasticsink_is_an_alert_sink(sink: ElasticSink) -> None:
    as_protocol: AlertSink = sink
    assert as_protocol is sink
    assert sink.alerts_stream == STREAM


async def test_a_replayed_batch_is_all_duplicates_and_adds_nothing(
    sink: ElasticSink, installed: ElasticServer
) -> None:
    await sink.write(SinkBatch(alerts=alerts(), incidents=incidents()))
    again = await sink.write(SinkBatch(alerts=alerts(), incidents=incidents()))

    assert (again.written, again.duplicates, again.dead.height) == (1, 3, 0)
    assert len(installed.state.documents[STREAM]) == 3
    assert len(installed.state.documents[INCIDENTS]) == 1


async def test_an_alerts_only_replay_writes_nothing_new(sink: ElasticSink) -> None:
    await sink.write(SinkBatch(alerts=alerts()))
    again = await sink.write(SinkBatch(alerts=alerts()))

    assert (again.written, again.duplicates) == (0, 3)


async def test_an_updated_incident_replaces_the_stored_one(
    sink: ElasticSink, installed: ElasticServer
) -> None:
    await sink.write(SinkBatch(incidents=incidents()))
    closed = incidents().with_columns(pl.lit("closed").alias("incident.state"))
    delivery = await sink.write(SinkBatch(incidents=closed))

    assert delivery.written == 1
    assert installed.state.documents[INCIDENTS]["inc1"]["incident"]["state"] == "closed"


async def test_an_item_answered_429_is_retried_alone_and_written_once(
    sink: ElasticSink, installed: ElasticServer, sleeps: Sleeps
) -> None:
    installed.state.item_faults["a2"] = [429]

    delivery = await sink.write(SinkBatch(alerts=alerts()))

    assert (delivery.written, delivery.duplicates, delivery.dead.height) == (3, 0, 0)
    assert installed.state.bulk_ids == [["a1", "a2", "a3"], ["a2"]]
    assert sleeps.delays == [0.5]
    assert sorted(installed.state.documents[STREAM]) == ["a1", "a2", "a3"]


async def test_whole_request_429_then_503_are_retried_with_doubling_backoff(
    sink: ElasticSink, installed: ElasticServer, sleeps: Sleeps
) -> None:
    installed.state.request_faults.extend([429, 503])

    delivery = await sink.write(SinkBatch(alerts=alerts()))

    assert delivery.written == 3
    assert len(installed.state.bulk_ids) == 3
    assert sleeps.delays == [0.5, 1.0]


async def test_a_malformed_alert_field_is_kept_rather_than_refused(
    sink: ElasticSink, installed: ElasticServer
) -> None:
    odd = alerts(**{"source.ip": ["10.1.2.3", "not-an-address", None]})

    delivery = await sink.write(SinkBatch(alerts=odd))

    assert (delivery.written, delivery.dead.height) == (3, 0)
    assert installed.state.documents[STREAM]["a2"]["source"] == {"ip": "not-an-address"}


async def test_a_mapping_error_is_dead_with_its_reason_and_never_retried(
    sink: ElasticSink, installed: ElasticServer
) -> None:
    bad = pl.concat(
        [incidents(), incidents().with_columns(pl.lit("inc2").alias("_id"))]
    ).with_columns(pl.Series("incident.alert_count", ["2", "many"]))

    delivery = await sink.write(SinkBatch(alerts=alerts(), incidents=bad))

    assert (delivery.written, delivery.duplicates) == (4, 0)
    assert delivery.dead.schema == pl.Schema(DEAD_DOCUMENT_SCHEMA)
    (dead,) = delivery.dead.iter_rows(named=True)
    assert dead["_id"] == "inc2"
    assert dead["index"] == "neakta-incidents"
    assert dead["reason"].startswith("400 document_parsing_exception: failed to parse field")
    assert "[incident.alert_count] of type [long]" in dead["reason"]
    assert json.loads(dead["document"])["incident"]["alert_count"] == "many"
    assert len(installed.state.bulk_ids) == 1
    assert list(installed.state.documents[INCIDENTS]) == ["inc1"]


async def test_an_alert_without_timestamp_is_dead_not_lost(sink: ElasticSink) -> None:
    delivery = await sink.write(SinkBatch(alerts=alerts().drop("@timestamp")))

    assert delivery.written == 0
    assert (
        delivery.dead["reason"].to_list()
        == ["400 document_parsing_exception: data stream timestamp field [@timestamp] is missing"]
        * 3
    )


async def test_an_injected_400_item_is_dead_and_the_others_are_written(
    sink: ElasticSink, installed: ElasticServer
) -> None:
    installed.state.item_faults["a3"] = [400]

    delivery = await sink.write(SinkBatch(alerts=alerts()))

    assert delivery.written == 2
    assert delivery.dead["_id"].to_list() == ["a3"]
    assert len(installed.state.bulk_ids) == 1


async def test_503_past_the_retry_budget_raises_sink_unavailable(
    sink: ElasticSink, installed: ElasticServer
) -> None:
    installed.state.request_faults.extend([503, 503, 503])

    with pytest.raises(
        SinkUnavailableError, match="after 3 attempts; last: bulk request answered 503"
    ):
        await sink.write(SinkBatch(alerts=alerts()))
    assert STREAM not in installed.state.documents


async def test_items_still_429_past_the_budget_raise_and_a_replay_completes_without_duplicates(
    installed: ElasticServer, sleeps: Sleeps
) -> None:
    sink = ElasticSink(
        build_client(hosts=[installed.url]), chunk_size=2, max_retries=1, sleep=sleeps
    )
    installed.state.item_faults["a3"] = [429, 429]

    with pytest.raises(SinkUnavailableError, match="1 of 1 documents not written"):
        await sink.write(SinkBatch(alerts=alerts()))
    assert sorted(installed.state.documents[STREAM]) == ["a1", "a2"]

    replay = await sink.write(SinkBatch(alerts=alerts()))
    await sink.close()

    assert (replay.written, replay.duplicates) == (1, 2)
    assert sorted(installed.state.documents[STREAM]) == ["a1", "a2", "a3"]


async def test_an_outage_raises_and_the_reoffered_batch_is_written_completely(
    sink: ElasticSink, installed: ElasticServer, sleeps: Sleeps
) -> None:
    first = alerts()[:1]
    assert (await sink.write(SinkBatch(alerts=first))).written == 1

    installed.stop()
    with pytest.raises(SinkUnavailableError, match="Elasticsearch unreachable"):
        await sink.write(SinkBatch(alerts=alerts(), incidents=incidents()))
    assert sleeps.delays == [0.5, 1.0]

    installed.start()
    delivery = await sink.write(SinkBatch(alerts=alerts(), incidents=incidents()))

    assert (delivery.written, delivery.duplicates, delivery.dead.height) == (3, 1, 0)
    assert sorted(installed.state.documents[STREAM]) == ["a1", "a2", "a3"]
    assert list(installed.state.documents[INCIDENTS]) == ["inc1"]


async def test_the_client_speaks_the_9x_compatible_media_types(
    sink: ElasticSink, installed: ElasticServer
) -> None:
    await sink.write(SinkBatch(alerts=alerts()))

    bulk_headers = next(h for m, p, h in installed.state.requests if p == "/_bulk")
    assert bulk_headers["accept"] == "application/vnd.elasticsearch+json; compatible-with=9"
    assert bulk_headers["content-type"] == (
        "application/vnd.elasticsearch+x-ndjson; compatible-with=9"
    )


async def test_an_api_key_is_sent_as_authorization(installed: ElasticServer) -> None:
    sink = build_elastic_sink(hosts=[installed.url], api_key="a2V5OnNlY3JldA==")
    await sink.write(SinkBatch(alerts=alerts()))
    await sink.close()

    headers = next(h for m, p, h in installed.state.requests if p == "/_bulk")
    assert headers["authorization"] == "ApiKey a2V5OnNlY3JldA=="


async def test_basic_auth_is_sent_when_no_api_key_is_given(installed: ElasticServer) -> None:
    sink = build_elastic_sink(hosts=[installed.url], username="neakta", password="s3cret")
    await sink.write(SinkBatch(alerts=alerts()))
    await sink.close()

    headers = next(h for m, p, h in installed.state.requests if p == "/_bulk")
    assert headers["authorization"] == "Basic bmVha3RhOnMzY3JldA=="


def test_a_namespace_with_a_dash_is_refused() -> None:
    with pytest.raises(ValueError, match="namespace 'mef-prod'"):
        build_elastic_sink(hosts=["http://127.0.0.1:9"], namespace="mef-prod")


async def test_an_empty_batch_is_an_empty_delivery(
    sink: ElasticSink, installed: ElasticServer
) -> None:
    delivery = await sink.write(SinkBatch())

    assert (delivery.written, delivery.duplicates, delivery.dead.height) == (0, 0, 0)
    assert installed.state.bulk_ids == []


async def test_refused_credentials_raise_a_credentials_error_without_retrying(
    installed: ElasticServer, sleeps: Sleeps
) -> None:
    installed.state.authorization = "Basic bmVha3RhOnMzY3JldA=="
    sink = ElasticSink(
        build_client(hosts=[installed.url], username="neakta", password="wrong"), sleep=sleeps
    )

    with pytest.raises(SinkCredentialsError, match=r"refused the credentials \(401\)") as raised:
        await sink.write(SinkBatch(alerts=alerts()))
    assert not raised.value.retriable
    assert "wrong" not in str(raised.value)
    await sink.close()

    assert sleeps.delays == []
    assert [path for _, path, _ in installed.state.requests].count("/_bulk") == 1
    assert STREAM not in installed.state.documents
