"""The shipped Kibana saved objects and their import through the fake Kibana endpoint."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from respond.elastic import ElasticSetupError, render_templates
from respond.kibana import import_saved_objects, load_ndjson, render_ndjson
from tests.elastic_server import ElasticServer


@pytest.fixture
def server() -> Iterator[ElasticServer]:
    running = ElasticServer()
    running.start()
    yield running
    running.stop()


def shipped() -> list[dict[str, Any]]:
    return [json.loads(line) for line in load_ndjson().decode().splitlines()]


def mapped_fields(component: str) -> set[str]:
    mappings = render_templates().components[component]["template"]["mappings"]
    fields: set[str] = set()

    def walk(properties: dict[str, Any], prefix: str) -> None:
        for name, mapping in properties.items():
            if "properties" in mapping:
                walk(mapping["properties"], f"{prefix}{name}.")
            else:
                fields.add(f"{prefix}{name}")

    walk(mappings["properties"], "")
    return fields


def test_the_shipped_file_is_what_the_generator_writes() -> None:
    assert load_ndjson().decode() == render_ndjson()


def test_every_line_is_a_saved_object_with_type_id_and_attributes() -> None:
    lines = load_ndjson().decode().splitlines()

    assert len(lines) == 7
    for line in lines:
        obj = json.loads(line)
        assert {"type", "id", "attributes", "references"} <= obj.keys()
        assert obj["attributes"]["title"]
    assert [(o["type"], o["id"]) for o in shipped()] == [
        ("index-pattern", "neakta-alerts"),
        ("index-pattern", "neakta-incidents"),
        ("lens", "neakta-alerts-over-time-by-ministry"),
        ("lens", "neakta-top-rules"),
        ("lens", "neakta-attack-tactics"),
        ("lens", "neakta-open-incidents-by-severity"),
        ("dashboard", "neakta-soc-overview"),
    ]


def test_data_views_cover_the_alerts_stream_and_the_incidents_alias() -> None:
    views = {o["id"]: o["attributes"] for o in shipped() if o["type"] == "index-pattern"}

    assert {i: (v["title"], v["timeFieldName"]) for i, v in views.items()} == {
        "neakta-alerts": ("logs-neakta.alerts-*", "@timestamp"),
        "neakta-incidents": ("neakta-incidents", "incident.last_seen"),
    }


def test_dashboard_panels_reach_existing_data_views_through_their_lens_objects() -> None:
    objects = {(o["type"], o["id"]): o for o in shipped()}
    dashboard = objects["dashboard", "neakta-soc-overview"]
    references = {r["name"]: r for r in dashboard["references"]}
    panels = json.loads(dashboard["attributes"]["panelsJSON"])

    views = []
    for panel in panels:
        reference = references[f"{panel['panelIndex']}:{panel['panelRefName']}"]
        lens = objects[reference["type"], reference["id"]]
        (layer,) = lens["references"]
        assert (layer["type"], layer["id"]) in objects
        views.append(layer["id"])
    assert views == ["neakta-alerts", "neakta-alerts", "neakta-alerts", "neakta-incidents"]


def test_every_charted_field_is_mapped_in_its_index_template() -> None:
    mapped = {
        "neakta-alerts": mapped_fields("neakta-alerts-mappings"),
        "neakta-incidents": mapped_fields("neakta-incidents-mappings"),
    }
    for lens in (o for o in shipped() if o["type"] == "lens"):
        view = lens["references"][0]["id"]
        layers = lens["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]
        for column in layers["layer1"]["columns"].values():
            field = column["sourceField"]
            assert field == "___records___" or field in mapped[view], (lens["id"], field)


async def test_import_posts_the_file_with_kbn_xsrf_and_kibana_takes_every_object(
    server: ElasticServer,
) -> None:
    result = await import_saved_objects(server.url, load_ndjson())

    assert (result.success_count, result.errors) == (7, [])
    ((method, path, headers),) = server.state.requests
    assert (method, path, headers["kbn-xsrf"]) == ("POST", "/api/saved_objects/_import", "true")
    assert server.state.imports[0]["overwrite"] is True
    assert server.state.imports[0]["objects"] == shipped()


async def test_import_into_a_space_uses_the_space_prefix(server: ElasticServer) -> None:
    await import_saved_objects(server.url, load_ndjson(), space="moh", username="u", password="p")

    ((_, path, headers),) = server.state.requests
    assert path == "/s/moh/api/saved_objects/_import"
    assert headers["authorization"] == "Basic dTpw"


async def test_objects_with_missing_references_are_reported(server: ElasticServer) -> None:
    dashboard_only = load_ndjson().splitlines()[-1] + b"\n"

    with pytest.raises(ElasticSetupError, match="Kibana refused 1 saved objects: dashboard"):
        await import_saved_objects(server.url, dashboard_only)


async def test_kibana_refuses_an_import_without_kbn_xsrf(server: ElasticServer) -> None:
    form = aiohttp.FormData()
    form.add_field("file", load_ndjson(), filename="export.ndjson")
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{server.url}/api/saved_objects/_import", data=form) as response,
    ):
        answer = await response.json()

    assert (response.status, answer["message"]) == (400, "Request must contain a kbn-xsrf header.")
    assert server.state.saved_objects == {}


async def test_an_unreachable_kibana_is_a_setup_error(server: ElasticServer) -> None:
    server.stop()

    with pytest.raises(ElasticSetupError, match=r"Kibana import at http://127\.0\.0\.1:"):
        await import_saved_objects(server.url, load_ndjson())
