"""The Kibana saved objects neakta ships: two data views, four Lens charts, one dashboard.

``saved_objects.ndjson`` next to this module is generated from :func:`saved_objects`
(``python -m respond.kibana > respond/kibana/saved_objects.ndjson``) and a test
checks they agree. The shapes are those Kibana 8.9+ exports (``index-pattern`` data views,
``lens`` objects with a ``formBased`` datasource, a dashboard whose panels point to the
Lens objects through ``panelRefName`` and ``<panelIndex>:<panelRefName>`` references);
``typeMigrationVersion`` tells newer Kibana which migrations to run on import.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any, Final

__all__ = [
    "ALERTS_DATA_VIEW",
    "DASHBOARD",
    "INCIDENTS_DATA_VIEW",
    "load_ndjson",
    "render_ndjson",
    "saved_objects",
]

ALERTS_DATA_VIEW: Final = "neakta-alerts"
INCIDENTS_DATA_VIEW: Final = "neakta-incidents"
DASHBOARD: Final = "neakta-soc-overview"
_CORE: Final = {"coreMigrationVersion": "8.8.0", "managed": False}

Column = dict[str, Any]


def _data_view(view_id: str, title: str, name: str, time_field: str) -> dict[str, Any]:
    attributes = {
        "title": title,
        "name": name,
        "timeFieldName": time_field,
        "fieldFormatMap": "{}",
        "fieldAttrs": "{}",
        "runtimeFieldMap": "{}",
        "sourceFilters": "[]",
    }
    return {
        "type": "index-pattern",
        "id": view_id,
        "attributes": attributes,
        "references": [],
        **_CORE,
        "typeMigrationVersion": "8.0.0",
    }


def _count() -> Column:
    return {
        "label": "Alerts",
        "customLabel": True,
        "dataType": "number",
        "operationType": "count",
        "sourceField": "___records___",
        "isBucketed": False,
        "scale": "ratio",
        "params": {"emptyAsNull": True},
    }


def _terms(field: str, label: str, size: int) -> Column:
    params = {
        "size": size,
        "orderBy": {"type": "column", "columnId": "count"},
        "orderDirection": "desc",
        "otherBucket": True,
        "missingBucket": False,
    }
    return {
        "label": label,
        "customLabel": True,
        "dataType": "string",
        "operationType": "terms",
        "sourceField": field,
        "isBucketed": True,
        "scale": "ordinal",
        "params": params,
    }


def _histogram() -> Column:
    return {
        "label": "@timestamp",
        "dataType": "date",
        "operationType": "date_histogram",
        "sourceField": "@timestamp",
        "isBucketed": True,
        "scale": "interval",
        "params": {"interval": "auto", "includeEmptyRows": True, "dropPartials": False},
    }


def _lens(  # noqa: PLR0917
    lens_id: str,
    title: str,
    view_id: str,
    columns: dict[str, Column],
    visualization_type: str,
    visualization: dict[str, Any],
    query: str = "",
) -> dict[str, Any]:
    layer = {"columns": columns, "columnOrder": list(columns), "incompleteColumns": {}}
    state = {
        "visualization": visualization,
        "query": {"query": query, "language": "kuery"},
        "filters": [],
        "datasourceStates": {"formBased": {"layers": {"layer1": layer}}},
        "internalReferences": [],
        "adHocDataViews": {},
    }
    attributes = {
        "title": title,
        "description": "",
        "visualizationType": visualization_type,
        "state": state,
    }
    reference = {
        "type": "index-pattern",
        "id": view_id,
        "name": "indexpattern-datasource-layer-layer1",
    }
    return {
        "type": "lens",
        "id": lens_id,
        "attributes": attributes,
        "references": [reference],
        **_CORE,
        "typeMigrationVersion": "8.9.0",
    }


def _xy(series: str, x: str, split: str | None = None) -> dict[str, Any]:
    layer: dict[str, Any] = {
        "layerId": "layer1",
        "layerType": "data",
        "seriesType": series,
        "xAccessor": x,
        "accessors": ["count"],
    }
    if split:
        layer["splitAccessor"] = split
    return {
        "legend": {"isVisible": True, "position": "right"},
        "valueLabels": "hide",
        "preferredSeriesType": series,
        "layers": [layer],
    }


def _charts() -> list[dict[str, Any]]:
    by_ministry = _lens(
        "neakta-alerts-over-time-by-ministry",
        "Alerts over time by ministry",
        ALERTS_DATA_VIEW,
        {
            "time": _histogram(),
            "count": _count(),
            "ministry": _terms("neakta.asset.ministry.name", "Ministry", 10),
        },
        "lnsXY",
        _xy("bar_stacked", "time", "ministry"),
    )
    top_rules = _lens(
        "neakta-top-rules",
        "Top rules",
        ALERTS_DATA_VIEW,
        {"rule": _terms("rule.name", "Rule", 10), "count": _count()},
        "lnsXY",
        _xy("bar_horizontal", "rule"),
    )
    pie = {
        "shape": "donut",
        "layers": [
            {
                "layerId": "layer1",
                "layerType": "data",
                "primaryGroups": ["tactic"],
                "metrics": ["count"],
                "numberDisplay": "percent",
                "categoryDisplay": "default",
                "legendDisplay": "default",
                "nestedLegend": False,
            }
        ],
    }
    tactics = _lens(
        "neakta-attack-tactics",
        "ATT&CK tactics",
        ALERTS_DATA_VIEW,
        {"tactic": _terms("threat.tactic.name", "Tactic", 14), "count": _count()},
        "lnsPie",
        pie,
    )
    incidents_count = {**_count(), "label": "Open incidents"}
    open_incidents = _lens(
        "neakta-open-incidents-by-severity",
        "Open incidents by severity",
        INCIDENTS_DATA_VIEW,
        {"severity": _terms("incident.severity_label", "Severity", 5), "count": incidents_count},
        "lnsXY",
        _xy("bar_horizontal", "severity"),
        query='incident.state : "open"',
    )
    return [by_ministry, top_rules, tactics, open_incidents]


def _dashboard(charts: list[dict[str, Any]]) -> dict[str, Any]:
    panels: list[dict[str, Any]] = []
    references: list[dict[str, str]] = []
    for number, chart in enumerate(charts, start=1):
        index = f"panel{number}"
        grid = {
            "x": 0 if number % 2 else 24,
            "y": 15 * ((number - 1) // 2),
            "w": 24,
            "h": 15,
            "i": index,
        }
        panels.append(
            {
                "version": "8.9.0",
                "type": "lens",
                "gridData": grid,
                "panelIndex": index,
                "embeddableConfig": {"enhancements": {}},
                "panelRefName": f"panel_{index}",
            }
        )
        references.append({"name": f"{index}:panel_{index}", "type": "lens", "id": chart["id"]})
    search = {"query": {"query": "", "language": "kuery"}, "filter": []}
    attributes = {
        "title": "neakta SOC overview",
        "description": "Alerts by ministry, top rules, ATT&CK tactics and open incidents.",
        "panelsJSON": json.dumps(panels, separators=(",", ":")),
        "optionsJSON": json.dumps(
            {
                "useMargins": True,
                "syncColors": False,
                "syncTooltips": False,
                "hidePanelTitles": False,
            }
        ),
        "timeRestore": True,
        "timeFrom": "now-7d",
        "timeTo": "now",
        "refreshInterval": {"pause": False, "value": 60000},
        "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(search)},
    }
    return {
        "type": "dashboard",
        "id": DASHBOARD,
        "attributes": attributes,
        "references": references,
        **_CORE,
        "typeMigrationVersion": "8.9.0",
    }


def saved_objects() -> list[dict[str, Any]]:
    """Every object, referenced objects first (the order Kibana exports them in).

    Examples
    --------
    >>> [o["type"] for o in saved_objects()]
    ['index-pattern', 'index-pattern', 'lens', 'lens', 'lens', 'lens', 'dashboard']
    """
    charts = _charts()
    return [
        _data_view(ALERTS_DATA_VIEW, "logs-neakta.alerts-*", "neakta alerts", "@timestamp"),
        _data_view(
            INCIDENTS_DATA_VIEW, "neakta-incidents", "neakta incidents", "incident.last_seen"
        ),
        *charts,
        _dashboard(charts),
    ]


def render_ndjson() -> str:
    """The saved objects as NDJSON, one object per line."""
    return "".join(json.dumps(o, sort_keys=True) + "\n" for o in saved_objects())


def load_ndjson() -> bytes:
    """The shipped ``saved_objects.ndjson``."""
    return resources.files("respond.kibana").joinpath("saved_objects.ndjson").read_bytes()
