"""Installing what the sink writes into: ILM policy, templates, the incidents index.

Every step is a PUT of the whole object or a create-if-missing, so running the
installation twice leaves the cluster as running it once.
"""

from __future__ import annotations

from elasticsearch import ApiError, AsyncElasticsearch, TransportError

from respond.elastic.bulk import describe_transport_error
from respond.elastic.errors import ElasticSetupError
from respond.elastic.templates import ElasticTemplates, incidents_index

__all__ = ["install_templates"]


async def install_templates(
    client: AsyncElasticsearch, templates: ElasticTemplates, *, incidents_alias: str
) -> list[str]:
    """Install the policies, component and index templates, and the incidents index.

    Parameters
    ----------
    client
        A connected client.
    templates
        The bodies, from :func:`respond.elastic.templates.render_templates`.
    incidents_alias
        Created with ``<alias>-000001`` as its write index when no index holds it yet.

    Returns
    -------
    list[str]
        One line per step, saying what was done.

    Raises
    ------
    ElasticSetupError
        A step was refused or the cluster could not be reached; the message names the step.
    """
    done: list[str] = []
    step = "connect"
    try:
        for name, body in templates.policies.items():
            step = f"ILM policy {name}"
            await client.ilm.put_lifecycle(name=name, body=body)
            done.append(f"installed {step}")
        for name, body in templates.components.items():
            step = f"component template {name}"
            await client.cluster.put_component_template(name=name, body=body)
            done.append(f"installed {step}")
        for name, body in templates.index_templates.items():
            step = f"index template {name}"
            await client.indices.put_index_template(name=name, body=body)
            done.append(f"installed {step}")
        step = f"incidents alias {incidents_alias}"
        if await client.indices.exists_alias(name=incidents_alias):
            done.append(f"kept {step} (exists)")
        else:
            index = incidents_index(incidents_alias)
            await client.indices.create(
                index=index, aliases={incidents_alias: {"is_write_index": True}}
            )
            done.append(f"created index {index} with alias {incidents_alias}")
    except ApiError as error:
        raise ElasticSetupError(f"{step}: Elasticsearch answered {error}") from error
    except TransportError as error:
        raise ElasticSetupError(
            f"{step}: Elasticsearch unreachable: {describe_transport_error(error)}"
        ) from error
    return done
