"""Elasticsearch: the alerts data stream and incidents index, their templates and ILM."""

from respond.elastic.actions import BulkAction, bulk_actions, format_timestamps
from respond.elastic.bulk import RETRIABLE_STATUSES, BulkOutcome, send_bulk
from respond.elastic.client import alerts_data_stream, build_client, check_namespace
from respond.elastic.encode import encode_documents
from respond.elastic.errors import ElasticSetupError
from respond.elastic.install import install_templates
from respond.elastic.sink import ElasticSink, build_elastic_sink
from respond.elastic.templates import ElasticTemplates, incidents_index, render_templates

__all__ = [
    "RETRIABLE_STATUSES",
    "BulkAction",
    "BulkOutcome",
    "ElasticSetupError",
    "ElasticSink",
    "ElasticTemplates",
    "alerts_data_stream",
    "build_client",
    "build_elastic_sink",
    "bulk_actions",
    "check_namespace",
    "encode_documents",
    "format_timestamps",
    "incidents_index",
    "install_templates",
    "render_templates",
    "send_bulk",
]
