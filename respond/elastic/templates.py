"""The ILM policy, component templates and index templates neakta installs.

The bodies live as JSON in ``respond/elastic/resources/`` (what Elasticsearch receives,
readable and diffable); a few values are parameters, written there as ``"__NAME__"``
strings and replaced here with typed values:

=================================  ==========================================
resource                           installed as
=================================  ==========================================
ilm-neakta-alerts.json             ``PUT _ilm/policy/neakta-alerts``
component-neakta-*.json            ``PUT _component_template/neakta-*``
index-template-neakta-alerts.json  ``PUT _index_template/neakta-alerts``
                                   (``data_stream: {}``, ``logs-neakta.alerts-*``)
index-template-neakta-            ``PUT _index_template/neakta-incidents``
incidents.json                     (``<incidents alias>-*``)
=================================  ==========================================
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final

__all__ = [
    "ALERTS_POLICY",
    "ElasticTemplates",
    "incidents_index",
    "load_resource",
    "render_templates",
]

ALERTS_POLICY: Final = "neakta-alerts"
_COMPONENTS: Final = (
    "neakta-ecs-dynamic",
    "neakta-alerts-settings",
    "neakta-alerts-mappings",
    "neakta-incidents-mappings",
)
_INDEX_TEMPLATES: Final = ("neakta-alerts", "neakta-incidents")


def load_resource(name: str) -> dict[str, Any]:
    """Read one JSON body from ``respond/elastic/resources``."""
    text = (
        resources.files("respond.elastic").joinpath("resources").joinpath(name).read_text("utf-8")
    )
    body: dict[str, Any] = json.loads(text)
    return body


def _fill(node: Any, values: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        return {key: _fill(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [_fill(value, values) for value in node]
    if isinstance(node, str) and node.startswith("__") and node.endswith("__"):
        return values[node.strip("_")]
    if isinstance(node, str) and "__" in node:
        for name, value in values.items():
            node = node.replace(f"__{name}__", str(value))
    return node


def incidents_index(alias: str) -> str:
    """The first concrete index behind the incidents alias.

    Examples
    --------
    >>> incidents_index("neakta-incidents")
    'neakta-incidents-000001'
    """
    return f"{alias}-000001"


@dataclass(frozen=True, slots=True)
class ElasticTemplates:
    """Everything :func:`render_templates` produced, by name, in install order."""

    policies: dict[str, dict[str, Any]]
    components: dict[str, dict[str, Any]]
    index_templates: dict[str, dict[str, Any]]


def render_templates(
    *,
    incidents_alias: str = "neakta-incidents",
    retention_days: int = 180,
    rollover_max_age: str = "30d",
    rollover_max_primary_shard_size: str = "50gb",
    replicas: int = 1,
) -> ElasticTemplates:
    """The bodies to install, with the parameters filled in.

    Parameters
    ----------
    incidents_alias
        The alias incidents are written through; its indices are ``<alias>-NNNNNN``.
    retention_days
        Days after rollover when alert indices are deleted.
    rollover_max_age, rollover_max_primary_shard_size
        When the alerts data stream rolls over to a new backing index.
    replicas
        Replicas per shard (0 on a single-node cluster).

    Examples
    --------
    >>> templates = render_templates(retention_days=90, replicas=0)
    >>> templates.policies["neakta-alerts"]["policy"]["phases"]["delete"]["min_age"]
    '90d'
    >>> templates.index_templates["neakta-incidents"]["index_patterns"]
    ['neakta-incidents-*']
    >>> index = templates.components["neakta-alerts-settings"]["template"]["settings"]["index"]
    >>> index["number_of_replicas"], index["mapping"]
    (0, {'ignore_malformed': True})
    """
    if retention_days < 1:
        raise ValueError(f"retention_days must be at least 1, not {retention_days}")
    values: dict[str, Any] = {
        "ILM_POLICY": ALERTS_POLICY,
        "RETENTION": f"{retention_days}d",
        "ROLLOVER_MAX_AGE": rollover_max_age,
        "ROLLOVER_MAX_PRIMARY_SHARD_SIZE": rollover_max_primary_shard_size,
        "REPLICAS": replicas,
        "INCIDENTS_ALIAS": incidents_alias,
    }
    return ElasticTemplates(
        policies={ALERTS_POLICY: _fill(load_resource(f"ilm-{ALERTS_POLICY}.json"), values)},
        components={
            name: _fill(load_resource(f"component-{name}.json"), values) for name in _COMPONENTS
        },
        index_templates={
            name: _fill(load_resource(f"index-template-{name}.json"), values)
            for name in _INDEX_TEMPLATES
        },
    )
