"""``neakta report`` over Elasticsearch (the local contract server): the same alerts and
incidents written through the Elasticsearch sink and the SQLite store read back alike."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import NotFoundError

from neakta.cli import main
from respond.elastic import build_client, build_elastic_sink, install_templates, render_templates
from respond.report import ReportSourceError, read_elastic, read_sqlite
from respond.report.silent import SilentSource
from respond.store import SqliteStore
from tests.elastic_server import ElasticServer
from tests.test_respond.factories import at
from tests.test_respond.report_support import batch, track_sources, write, write_all, write_store

STREAM = "logs-neakta.alerts-default"
ALIAS = "neakta-incidents"


@pytest.fixture
def server() -> Iterator[ElasticServer]:
    running = ElasticServer()
    running.start()
    yield running
    running.stop()


@pytest.fixture
async def filled(server: ElasticServer) -> ElasticServer:
    client = build_client(hosts=[server.url])
    await install_templates(client, render_templates(), incidents_alias=ALIAS)
    await client.close()
    await write(build_elastic_sink(hosts=[server.url]), batch())
    return server


async def test_elasticsearch_and_the_store_give_the_same_frames(
    filled: ElasticServer, tmp_path: Path
) -> None:
    await write_store(tmp_path / "neakta.db")
    for ministry, since in ((None, None), ("mef", None), (None, at(60)), ("moh", at(60))):
        stored = read_sqlite(tmp_path / "neakta.db", ministry=ministry, since=since)
        client = build_client(hosts=[filled.url])
        try:
            searched = await read_elastic(
                client, alerts_index=STREAM, incidents_index=ALIAS, ministry=ministry, since=since
            )
        finally:
            await client.close()
        assert searched.alerts.sort("id").equals(stored.alerts.sort("id")), (ministry, since)
        assert searched.incidents.sort("id").equals(stored.incidents.sort("id")), (ministry, since)
        assert stored.silent_sources is None
        assert searched.silent_sources == []
        assert not searched.truncated


async def test_elasticsearch_finds_the_silent_sources_in_the_silence_alerts(
    server: ElasticServer, tmp_path: Path
) -> None:
    client = build_client(hosts=[server.url])
    await install_templates(client, render_templates(), incidents_alias=ALIAS)
    await client.close()
    watched = track_sources(tmp_path / "neakta.db")
    await write_all(build_elastic_sink(hosts=[server.url]), watched)
    await write_all(SqliteStore(tmp_path / "neakta.db"), watched)

    stored = read_sqlite(tmp_path / "neakta.db", ministry=None, since=None)
    assert stored.silent_sources is not None
    for ministry in (None, "mef", "moh"):
        client = build_client(hosts=[server.url])
        try:
            searched = await read_elastic(
                client, alerts_index=STREAM, incidents_index=ALIAS, ministry=ministry, since=at(0)
            )
        finally:
            await client.close()
        assert searched.silent_sources == [
            SilentSource(s.ministry, s.kind, s.source, s.last_event, None)
            for s in stored.silent_sources
            if ministry in (None, s.ministry)
        ], ministry
    assert [(s.ministry, s.kind, s.source) for s in stored.silent_sources] == [
        ("mef", "family", "firewall"),
        ("mef", "host", "fg-1"),
    ]


async def test_a_search_that_matches_more_than_it_returns_is_marked_truncated(
    filled: ElasticServer,
) -> None:
    client = build_client(hosts=[filled.url])
    try:
        data = await read_elastic(
            client, alerts_index=STREAM, incidents_index=ALIAS, ministry=None, since=None, size=2
        )
    finally:
        await client.close()
    assert data.alerts["id"].to_list() == ["a1", "a2"]
    assert data.truncated


async def test_an_empty_cluster_gives_an_empty_report_and_a_dead_one_an_error(
    server: ElasticServer,
) -> None:
    client = build_client(hosts=[server.url])
    try:
        data = await read_elastic(
            client, alerts_index=STREAM, incidents_index=ALIAS, ministry=None, since=None
        )
        assert (data.alerts.height, data.incidents.height) == (0, 0)
        server.stop()
        with pytest.raises(ReportSourceError, match="Elasticsearch"):
            await read_elastic(
                client, alerts_index=STREAM, incidents_index=ALIAS, ministry=None, since=None
            )
    finally:
        await client.close()


async def test_the_search_contract_follows_elasticsearch(filled: ElasticServer) -> None:
    client = build_client(hosts=[filled.url])
    try:
        with pytest.raises(NotFoundError, match="index_not_found_exception"):
            await client.search(index="nothing-here", query={"match_all": {}})
        answer = await client.search(
            index="logs-neakta.alerts-*",
            query={"bool": {"must_not": [{"terms": {"organization.id": ["mef", "moh"]}}]}},
            sort=[{"@timestamp": "desc"}],
        )
        hits = answer["hits"]
        assert hits["total"] == {"value": 1, "relation": "eq"}
        assert hits["hits"][0]["_id"] == "a5"
        assert hits["hits"][0]["_index"].startswith(f".ds-{STREAM}-")
        assert isinstance(hits["hits"][0]["sort"][0], int)
        with pytest.raises(Exception, match="parsing_exception"):
            await client.search(index=STREAM, query={"fuzzy": {"rule.name": "x"}})
    finally:
        await client.close()


def test_the_command_reads_elasticsearch_when_hosts_are_given(
    filled: ElasticServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "national.html"
    args = ["report", "--hosts", filled.url, "--out", str(out)]
    assert main(args) == 0
    assert capsys.readouterr().out == f"report: {out} (4 incidents, 5 alerts)\n"
    assert f"Elasticsearch {STREAM}, {ALIAS}" in out.read_text(encoding="utf-8")
    filled.stop()
    assert main(args) == 1
    assert capsys.readouterr().err.startswith("neakta report: Elasticsearch: ")
