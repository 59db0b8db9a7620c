"""``neakta setup elastic`` against the fake cluster: templates, ILM, alias, idempotence."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from neakta.cli import build_parser
from neakta.settings import ElasticSettings, Settings
from respond.elastic import render_templates
from tests.elastic_server import ElasticServer, FakeElastic


@pytest.fixture
def server() -> Iterator[ElasticServer]:
    running = ElasticServer()
    running.start()
    yield running
    running.stop()


def run_setup(settings: Settings, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    args = build_parser(settings).parse_args(["setup", "elastic", *argv])
    code: int = args.handler(args, settings, out)
    return code, out.getvalue()


def settings_for(server: ElasticServer, **changes: object) -> Settings:
    elastic = ElasticSettings(hosts=(server.url,), kibana_url=server.url, replicas=0)
    return Settings(elastic=elastic.model_copy(update=changes))


def alerts_field_types(state: FakeElastic) -> dict[str, str]:
    template = state.index_templates["neakta-alerts"]
    types: dict[str, str] = {}

    def walk(properties: dict[str, dict[str, object]], prefix: str) -> None:
        for name, mapping in properties.items():
            inner = mapping.get("properties")
            if isinstance(inner, dict):
                walk(inner, f"{prefix}{name}.")
            else:
                types[f"{prefix}{name}"] = str(mapping["type"])

    for component in template["composed_of"]:
        mappings = state.components[component]["template"].get("mappings", {})
        walk(mappings.get("properties", {}), "")
    return types


def test_setup_installs_policy_templates_alias_and_kibana_objects(server: ElasticServer) -> None:
    code, output = run_setup(settings_for(server))

    assert code == 0
    state = server.state
    phases = state.policies["neakta-alerts"]["policy"]["phases"]
    assert phases["hot"]["actions"]["rollover"] == {
        "max_age": "30d",
        "max_primary_shard_size": "50gb",
    }
    assert phases["delete"] == {"min_age": "180d", "actions": {"delete": {}}}
    assert sorted(state.components) == [
        "neakta-alerts-mappings",
        "neakta-alerts-settings",
        "neakta-ecs-dynamic",
        "neakta-incidents-mappings",
    ]
    alerts = state.index_templates["neakta-alerts"]
    assert alerts["index_patterns"] == ["logs-neakta.alerts-*"]
    assert alerts["data_stream"] == {}
    assert state.indices == {
        "neakta-incidents-000001": {"aliases": {"neakta-incidents": {"is_write_index": True}}}
    }
    assert len(state.saved_objects) == 7
    assert output.splitlines()[-2:] == [
        "created index neakta-incidents-000001 with alias neakta-incidents",
        "imported 7 Kibana saved objects into the default space",
    ]


def test_setup_twice_is_fine_and_keeps_the_incidents_index(server: ElasticServer) -> None:
    settings = settings_for(server)
    run_setup(settings)
    server.state.documents["neakta-incidents-000001"]["inc1"] = {"incident": {"id": "inc1"}}

    code, output = run_setup(settings)

    assert code == 0
    assert "kept incidents alias neakta-incidents (exists)" in output
    assert list(server.state.indices) == ["neakta-incidents-000001"]
    assert server.state.documents["neakta-incidents-000001"] == {
        "inc1": {"incident": {"id": "inc1"}}
    }
    assert [i["overwrite"] for i in server.state.imports] == [True, True]


def test_alert_fields_have_the_types_analysts_search_by(server: ElasticServer) -> None:
    run_setup(settings_for(server))

    types = alerts_field_types(server.state)

    assert {
        field: types[field]
        for field in (
            "@timestamp",
            "event.severity",
            "event.risk_score",
            "source.ip",
            "destination.ip",
            "destination.port",
            "process.command_line",
            "url.original",
            "source.geo.location",
            "threat.tactic.id",
            "threat.technique.name",
            "rule.id",
            "organization.id",
            "neakta.asset.ministry.name",
            "neakta.asset.criticality",
        )
    } == {
        "@timestamp": "date",
        "event.severity": "long",
        "event.risk_score": "float",
        "source.ip": "ip",
        "destination.ip": "ip",
        "destination.port": "long",
        "process.command_line": "wildcard",
        "url.original": "wildcard",
        "source.geo.location": "geo_point",
        "threat.tactic.id": "keyword",
        "threat.technique.name": "keyword",
        "rule.id": "keyword",
        "organization.id": "keyword",
        "neakta.asset.ministry.name": "keyword",
        "neakta.asset.criticality": "keyword",
    }


def test_unmapped_fields_fall_to_dynamic_templates() -> None:
    dynamic = render_templates().components["neakta-ecs-dynamic"]["template"]["mappings"]
    names = [next(iter(entry)) for entry in dynamic["dynamic_templates"]]

    assert names == ["ip_addresses", "geo_locations", "command_lines", "strings_as_keyword"]
    assert dynamic["date_detection"] is False


def test_incident_fields_are_mapped_explicitly() -> None:
    mappings = render_templates().components["neakta-incidents-mappings"]["template"]["mappings"]
    incident = mappings["properties"]["incident"]["properties"]

    assert {name: incident[name]["type"] for name in sorted(incident)} == {
        "alert_count": "long",
        "alert_ids": "keyword",
        "first_seen": "date",
        "id": "keyword",
        "last_seen": "date",
        "change": "keyword",
        "entity": "keyword",
        "group": "keyword",
        "group_by": "keyword",
        "rules": "keyword",
        "severity": "long",
        "severity_label": "keyword",
        "state": "keyword",
        "tactics": "keyword",
        "title": "keyword",
    }


def test_retention_and_replicas_come_from_the_options(server: ElasticServer) -> None:
    code, _ = run_setup(settings_for(server), "--retention-days", "90", "--replicas", "1")

    assert code == 0
    policy = server.state.policies["neakta-alerts"]["policy"]
    assert policy["phases"]["delete"]["min_age"] == "90d"
    settings = server.state.components["neakta-alerts-settings"]["template"]["settings"]
    assert settings["index"] == {
        "lifecycle": {"name": "neakta-alerts"},
        "codec": "best_compression",
        "number_of_replicas": 1,
        "mapping": {"ignore_malformed": True},
    }


def test_saved_objects_go_to_the_named_space(server: ElasticServer) -> None:
    code, output = run_setup(settings_for(server, kibana_space="mef"))

    assert code == 0
    assert {space for space, _, _ in server.state.saved_objects} == {"mef"}
    assert output.endswith("imported 7 Kibana saved objects into space mef\n")


def test_without_kibana_url_only_elasticsearch_is_set_up(server: ElasticServer) -> None:
    code, output = run_setup(settings_for(server, kibana_url=None))

    assert code == 0
    assert server.state.saved_objects == {}
    assert output.endswith("no Kibana URL: saved objects not imported\n")


def test_an_unreachable_cluster_fails_with_the_step_named(
    server: ElasticServer, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_for(server)
    server.stop()

    code, _ = run_setup(settings)

    assert code == 1
    error = capsys.readouterr().err
    assert error.startswith(
        "neakta setup elastic: ILM policy neakta-alerts: Elasticsearch unreachable"
    )


def test_no_hosts_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run_setup(Settings(elastic=ElasticSettings()))

    assert code == 2
    assert "no hosts" in capsys.readouterr().err
