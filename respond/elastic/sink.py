"""``ElasticSink``: alerts to a data stream, incidents to an index behind an alias.

Alerts are appended with bulk ``create`` and their deterministic ``_id``: a batch offered
again after a failure answers 409 for what was already written, counted as a duplicate.
Incidents are written with ``index`` by incident id, so a newer state replaces the older.
Retries and what is dead are decided in :mod:`respond.elastic.bulk`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import polars as pl
from elasticsearch import AsyncElasticsearch

from respond.elastic.actions import BulkAction, bulk_actions
from respond.elastic.bulk import BulkOutcome, Sleep, send_bulk
from respond.elastic.client import alerts_data_stream, build_client
from respond.sinks import DEAD_DOCUMENT_SCHEMA, Delivery, SinkBatch

__all__ = ["ElasticSink", "build_elastic_sink"]


def _dead_frame(dead: list[tuple[BulkAction, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "_id": [action.id for action, _ in dead],
            "index": [action.index for action, _ in dead],
            "reason": [reason for _, reason in dead],
            "document": [action.source for action, _ in dead],
        },
        schema=DEAD_DOCUMENT_SCHEMA,
    )


class ElasticSink:
    """An :class:`respond.sinks.AlertSink` writing to Elasticsearch.

    Parameters
    ----------
    client
        An async client with its own retries off (see :func:`build_client`).
    namespace
        Ends the alerts data stream name, ``logs-neakta.alerts-<namespace>``; no ``-``.
    incidents_alias
        The alias incidents are written through.
    chunk_size
        Documents per ``_bulk`` request.
    max_retries, initial_backoff, max_backoff, sleep
        Retries of 429/5xx answers and unreachable clusters, see
        :func:`respond.elastic.bulk.send_bulk`.

    Notes
    -----
    ``Delivery.written`` counts alerts created and incidents created or replaced;
    ``duplicates`` counts alerts the data stream already held.
    """

    def __init__(
        self,
        client: AsyncElasticsearch,
        *,
        namespace: str = "default",
        incidents_alias: str = "neakta-incidents",
        chunk_size: int = 500,
        max_retries: int = 5,
        initial_backoff: float = 0.5,
        max_backoff: float = 30.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.client = client
        self.alerts_stream = alerts_data_stream(namespace)
        self.incidents_alias = incidents_alias
        self.chunk_size = chunk_size
        self._max_retries = max_retries
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        self._sleep = sleep

    async def write(self, batch: SinkBatch) -> Delivery:
        """Write the batch's alerts, then its incidents.

        Raises
        ------
        respond.errors.SinkUnavailableError
            Elasticsearch is unreachable or overloaded past the retry budget; offer the
            same batch again later.
        respond.errors.SinkCredentialsError
            Elasticsearch refused the credentials (401/403): the run must stop.
        """
        actions = bulk_actions(batch.alerts, index=self.alerts_stream, op="create")
        actions += bulk_actions(batch.incidents, index=self.incidents_alias, op="index")
        outcome = BulkOutcome()
        for start in range(0, len(actions), self.chunk_size):
            outcome.add(
                await send_bulk(
                    self.client,
                    actions[start : start + self.chunk_size],
                    max_retries=self._max_retries,
                    initial_backoff=self._initial_backoff,
                    max_backoff=self._max_backoff,
                    sleep=self._sleep,
                )
            )
        return Delivery(
            written=outcome.written, duplicates=outcome.duplicates, dead=_dead_frame(outcome.dead)
        )

    async def close(self) -> None:
        """Close the client's connections."""
        await self.client.close()


def build_elastic_sink(
    *,
    hosts: list[str] | tuple[str, ...],
    api_key: str | None = None,
    username: str | None = None,
    password: str | None = None,
    ca_file: Path | str | None = None,
    verify_certs: bool = True,
    request_timeout: float = 30.0,
    namespace: str = "default",
    incidents_alias: str = "neakta-incidents",
    chunk_size: int = 500,
    max_retries: int = 5,
    initial_backoff: float = 0.5,
    max_backoff: float = 30.0,
) -> ElasticSink:
    """An :class:`ElasticSink` with its own client, from plain connection options.

    Examples
    --------
    >>> sink = build_elastic_sink(hosts=["https://es01:9200"], api_key="a2V5", namespace="mef")
    >>> sink.alerts_stream, sink.incidents_alias
    ('logs-neakta.alerts-mef', 'neakta-incidents')
    """
    client = build_client(
        hosts=hosts,
        api_key=api_key,
        username=username,
        password=password,
        ca_file=ca_file,
        verify_certs=verify_certs,
        request_timeout=request_timeout,
    )
    return ElasticSink(
        client,
        namespace=namespace,
        incidents_alias=incidents_alias,
        chunk_size=chunk_size,
        max_retries=max_retries,
        initial_backoff=initial_backoff,
        max_backoff=max_backoff,
    )
