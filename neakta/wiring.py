"""Build the pipeline's parts from settings: rule sets, stages, sinks, stores, sources.

Every command, the demo and the benchmarks build through here, so one setting means the
same thing everywhere. Nothing here runs a batch: :class:`neakta.pipeline.Pipeline` does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any, TextIO

from detect import CompiledRuleSet
from detect.correlation import (
    ChangelogCheckpointStore,
    CheckpointStore,
    CorrelationSet,
    CorrelationSlots,
    SQLiteCheckpointStore,
)
from enrich import load_assets, load_attack, load_indicators, open_geoip
from ingest.archive import ParquetArchive
from ingest.deadletter import DeadLetterSink, KafkaDeadLetters, start_producer
from ingest.sources import Source
from neakta.alerting import AlertStage
from neakta.checkpoint import Checkpoint
from neakta.pipeline import Pipeline, compile_correlations, compile_rulesets
from neakta.settings import (
    ElasticSettings,
    EnrichSettings,
    KafkaSettings,
    RespondSettings,
    Settings,
    reveal,
)
from respond.assembly import Lookups
from respond.elastic import ElasticSink, build_elastic_sink
from respond.incidents import IncidentTracker
from respond.ndjson import NdjsonAlertWriter, NdjsonSink
from respond.notify import WebhookNotifier
from respond.sinks import AlertSink
from respond.source_watch import SourceWatch
from respond.sources import SourceStats
from respond.store import SqliteStore

__all__ = [
    "Stages",
    "alert_sinks",
    "build_pipeline",
    "build_stages",
    "checkpoint_store",
    "compile_correlations",
    "compile_rulesets",
    "elastic_sink_from_settings",
    "enrichment_from_settings",
    "kafka_source",
    "ndjson_sink_from_settings",
    "notifier_from_settings",
    "open_store",
    "source_watch",
    "store_from_settings",
    "tracker_from_settings",
]

_log = logging.getLogger("neakta.run")


def enrichment_from_settings(enrich: EnrichSettings) -> Lookups:
    """Load the configured files (raises :class:`enrich.SourceFileError` for a bad one)."""
    return Lookups(
        inventory=None if enrich.assets is None else load_assets(enrich.assets),
        indicators=load_indicators(enrich.indicators) if enrich.indicators else None,
        geoip=open_geoip(enrich.geoip_city),
        asn=open_geoip(enrich.geoip_asn),
        attack=load_attack(enrich.attack),
    )


def tracker_from_settings(respond: RespondSettings) -> IncidentTracker:
    """The incident tracker the settings describe."""
    return IncidentTracker(
        window=timedelta(seconds=respond.incident_window_s),
        group_by=respond.incident_group_by,
        escalate_count=respond.incident_escalate_count,
    )


def open_store(path: Path, tracker: IncidentTracker | None = None) -> SqliteStore:
    """The embedded store at ``path``; with a tracker, it saves it with every batch."""
    return SqliteStore(path, tracker=tracker)


def store_from_settings(
    respond: RespondSettings, tracker: IncidentTracker | None = None
) -> SqliteStore:
    """The embedded store the settings name (see :func:`open_store`)."""
    return open_store(respond.store_path, tracker)


def ndjson_sink_from_settings(respond: RespondSettings) -> NdjsonSink | None:
    """The NDJSON export, or ``None`` when no path is set."""
    if respond.ndjson_path is None:
        return None
    return NdjsonSink(respond.ndjson_path, alert_index=respond.ndjson_alert_index)


def notifier_from_settings(respond: RespondSettings) -> WebhookNotifier | None:
    """The webhook notifier, or ``None`` when no URL is set."""
    if respond.notify_url is None:
        return None
    return WebhookNotifier(
        url=respond.notify_url.get_secret_value(),
        kind=respond.notify_kind,
        chat_id=respond.notify_chat_id,
        min_severity=respond.notify_min_severity,
        rate_per_minute=respond.notify_rate_per_minute,
        burst=respond.notify_burst,
    )


def elastic_sink_from_settings(elastic: ElasticSettings) -> ElasticSink | None:
    """The Elasticsearch sink the settings describe, or ``None`` when no hosts are set."""
    if not elastic.hosts:
        return None
    return build_elastic_sink(
        hosts=elastic.hosts,
        **elastic.credentials(),
        namespace=elastic.namespace,
        incidents_alias=elastic.incidents_alias,
    )


def alert_sinks(settings: Settings, alerts: str | Path, out: TextIO) -> list[AlertSink]:
    """The NDJSON alert file (``-``: ``out``) and Elasticsearch when hosts are set."""
    sinks: list[AlertSink] = [NdjsonAlertWriter(alerts, stdout=out)]
    elastic = elastic_sink_from_settings(settings.elastic)
    if elastic is not None:
        sinks.append(elastic)
    return sinks


@dataclass
class Stages:
    """The alert stage, the sinks it feeds (store, export, notifier), and its checkpoint."""

    stage: AlertStage
    sinks: list[AlertSink]
    checkpoint: Checkpoint
    correlations: CorrelationSet
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        """Close what the stages opened besides the sinks (the checkpoint store)."""
        for close in self.closers:
            close()


def build_stages(
    settings: Settings,
    *,
    store: Path | None,
    rules: Sequence[Path],
    base: CompiledRuleSet,
    lateness_s: float | None = None,
    checkpoints: Callable[[], CheckpointStore] | None = None,
    group_id: str = "",
    clock: Callable[[], float] | None = None,
) -> Stages:
    """The alert stage (enrichment, correlation, incidents), its sinks and checkpoint.

    With a store path, incidents are kept in the SQLite store there, which also resumes the
    incidents a previous run left open; without one, alerts carry no incidents. With
    ``checkpoints`` (opened only when there are correlation rules), correlation state is
    saved there under ``group_id``. ``clock`` is the processing clock of a live run (idle
    inputs, clock skew); None in replay (see :mod:`detect.correlation.eventtime`).
    """
    lookups = enrichment_from_settings(settings.enrich)
    sinks: list[AlertSink] = []
    tracker = None
    incidents = None
    if store is not None:
        tracker = tracker_from_settings(settings.respond)
        where = settings.respond.model_copy(update={"store_path": store})
        incidents = store_from_settings(where, tracker)
        sinks.append(incidents)
    export = ndjson_sink_from_settings(settings.respond)
    notifier = notifier_from_settings(settings.respond)
    sinks.extend(sink for sink in (export, notifier) if sink is not None)
    correlations = compile_correlations(rules, base)
    for problem in correlations.rejected:
        _log.warning("correlation rule rejected: %s", problem)
    slots = None
    closers: list[Callable[[], None]] = []
    if correlations.rules:
        correlation = settings.correlation
        correlator = correlations.correlator(
            lateness_s=correlation.lateness_s if lateness_s is None else lateness_s,
            max_event_ids=correlation.max_event_ids,
            max_skew_s=correlation.max_skew_s,
            idle_s=correlation.idle_s if clock is not None else None,
        )
        opened = checkpoints() if checkpoints is not None else None
        if opened is not None:
            closers.append(opened.close)
        slots = CorrelationSlots(correlator, checkpoints=opened, group_id=group_id, clock=clock)
    watch = source_watch(settings, store=store, tracker=tracker)
    closers.append(watch.close)
    checkpoint = Checkpoint(slots, incidents=incidents, tracker=tracker, sources=watch)
    checkpoint.resume()
    stage = AlertStage(lookups, tracker=tracker, slots=slots)
    return Stages(stage, sinks, checkpoint, correlations, closers)


def source_watch(
    settings: Settings, *, store: Path | None, tracker: IncidentTracker | None
) -> SourceWatch:
    """Per-source counting and silent-source alerts; counters kept in the store, if any."""
    ministries = settings.ministries
    return SourceWatch(
        gap_s=ministries.silence_gap_s if ministries.silence else None,
        stats=SourceStats(store) if store is not None else None,
        tracker=tracker,
    )


def build_pipeline(
    rulesets: dict[str, CompiledRuleSet],
    stages: Stages,
    *,
    sinks: Sequence[AlertSink] = (),
    dead_letters: DeadLetterSink,
    settings: Settings,
    stop: asyncio.Event | None = None,
    archive: Path | None = None,
) -> Pipeline:
    """The pipeline over ``rulesets`` with ``stages``: the given sinks, then the stages'.

    With ``archive``, each batch's parsed events are also kept there (:mod:`ingest.archive`,
    days kept: ``settings.run.archive_retention_days``).
    """
    return Pipeline(
        rulesets,
        sinks=[*sinks, *stages.sinks],
        make_alerts=stages.stage,
        checkpoint=stages.checkpoint,
        dead_letters=dead_letters,
        forwarders=settings.run.forwarders,
        sources=stages.checkpoint.sources,
        stop=stop,
        archive=None
        if archive is None
        else ParquetArchive(archive, retention_days=settings.run.archive_retention_days),
    )


def _kafka_options(kafka: KafkaSettings) -> dict[str, Any]:
    from ingest.sources.kafka import security_options

    return {
        "client_id": kafka.client_id,
        **security_options(
            security_protocol=kafka.security_protocol,
            sasl_mechanism=kafka.sasl_mechanism,
            username=kafka.username,
            password=reveal(kafka.password),
            ca_file=kafka.ca_file,
        ),
    }


async def kafka_source(
    kafka: KafkaSettings,
    *,
    bootstrap_servers: str,
    topics: Sequence[str],
    group_id: str,
    max_record_bytes: int,
    stop: asyncio.Event,
    checkpoint: Checkpoint,
) -> tuple[Source, DeadLetterSink]:
    """The Kafka consumer (range assignor: one slot per partition number) and its DLQ."""
    from aiokafka import TopicPartition
    from aiokafka.coordinator.assignors.range import RangePartitionAssignor

    from ingest.sources.kafka import KafkaSource

    async def on_assigned(committed: dict[TopicPartition, int | None]) -> dict[Any, int]:
        await checkpoint.load()
        return checkpoint.assign(committed)

    async def on_revoked(partitions: list[TopicPartition]) -> None:
        checkpoint.revoke(partitions)

    options = _kafka_options(kafka)
    producer, _ = await start_producer(
        bootstrap_servers=bootstrap_servers, idempotence=kafka.dlq_idempotence, **options
    )
    source = KafkaSource(
        bootstrap_servers=bootstrap_servers,
        topics=list(topics),
        group_id=group_id,
        families=kafka.families,
        max_records=kafka.max_records,
        timeout_ms=kafka.poll_timeout_ms,
        max_record_bytes=max_record_bytes,
        stop=stop,
        session_timeout_ms=kafka.session_timeout_ms,
        heartbeat_interval_ms=kafka.heartbeat_interval_ms,
        # Partition p of every co-partitioned topic to one consumer: one correlation slot.
        partition_assignment_strategy=(RangePartitionAssignor,),
        on_assigned=on_assigned,
        on_revoked=on_revoked,
        # Empty polls reach the pipeline too: idle inputs are released without records.
        ticks=True,
        **options,
    )
    return source, KafkaDeadLetters(producer)


def checkpoint_store(
    settings: Settings, *, bootstrap_servers: str, group_id: str, path: Path
) -> tuple[Callable[[], CheckpointStore], Callable[[], Awaitable[None]]]:
    """The checkpoint store of a Kafka run, and what closes its client when the run ends.

    ``correlation.store``: ``sqlite`` (the file at ``path``, on this host) or ``kafka`` (the
    group's compacted changelog topic: members on different hosts share no file).
    """
    correlation = settings.correlation
    if correlation.store == "sqlite":

        async def nothing() -> None:
            return None

        return partial(SQLiteCheckpointStore, path, keep=correlation.checkpoints_kept), nothing
    from ingest.sources.changelog import KafkaChangelog, changelog_topic

    changelog = KafkaChangelog(
        bootstrap_servers=bootstrap_servers,
        topic=changelog_topic(group_id),
        **_kafka_options(settings.kafka),
    )
    return partial(ChangelogCheckpointStore, changelog), changelog.close
