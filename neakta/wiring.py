"""Build the pipeline's parts from settings: rule sets, stages, sinks, stores, sources.

Every command, the demo and the benchmarks build through here, so one setting means the
same thing everywhere. Nothing here runs a batch: :class:`neakta.pipeline.Pipeline` does.
Where alerts go is built by :mod:`neakta.outputs`, the parts of a Kafka run by
:mod:`neakta.kafka_wiring`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from detect import CompiledRuleSet
from detect.correlation import CheckpointStore, CorrelationSet, CorrelationSlots
from enrich import load_assets, load_attack, load_indicators, open_geoip
from ingest.archive import ParquetArchive
from ingest.deadletter import DeadLetterSink
from neakta.alerting import AlertStage
from neakta.checkpoint import Checkpoint
from neakta.outputs import (
    ndjson_sink_from_settings,
    notifier_from_settings,
    store_from_settings,
    tracker_from_settings,
)
from neakta.pipeline import Pipeline
from neakta.rulesets import compile_correlations, compile_rulesets
from neakta.settings import EnrichSettings, Settings
from respond.assembly import Lookups
from respond.incidents import IncidentTracker
from respond.sinks import AlertSink
from respond.source_watch import SourceWatch
from respond.sources import SourceStats

__all__ = [
    "Stages",
    "build_pipeline",
    "build_stages",
    "compile_correlations",
    "compile_rulesets",
    "enrichment_from_settings",
    "source_watch",
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
    cache_dir: Path | None = None,
) -> Stages:
    """The alert stage (enrichment, correlation, incidents), its sinks and checkpoint.

    With a store path, incidents are kept in the SQLite store there, which also resumes the
    incidents a previous run left open; without one, alerts carry no incidents. With
    ``checkpoints`` (opened only when there are correlation rules), correlation state is
    saved there under ``group_id``. ``clock`` is the processing clock of a live run (idle
    inputs, clock skew); None in replay (see :mod:`detect.correlation.eventtime`).
    ``cache_dir`` caches the compiled correlation rules beside the rule sets.
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
    correlations = compile_correlations(
        rules, base, placeholders=settings.placeholders, cache_dir=cache_dir
    )
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
        ahead=settings.run.ahead,
    )
