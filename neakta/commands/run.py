"""``neakta run`` and ``neakta replay``: the running pipeline, from Kafka or from files.

``run`` consumes Kafka when ``kafka.bootstrap_servers`` is set (``--bootstrap-servers``)
and reads ``--input`` files otherwise; ``replay FILES...`` always reads files. Alerts go
to ``--alerts`` (NDJSON, ``-`` for stdout) and to Elasticsearch when ``elastic.hosts`` is
set; dead letters to ``<topic>.dlq`` in Kafka mode and to ``--dead-letters`` (NDJSON) in
file mode. SIGTERM and SIGINT end the run after the batch in hand, committed. A status
line goes to stderr when it is a terminal (or with ``--status``); a summary at the end.

In Kafka mode correlation state is kept per partition number and checkpointed together
with the offsets, in ``--checkpoints`` (SQLite, the default) or in the consumer group's
changelog topic (``NEAKTA_CORRELATION__STORE=kafka``): saved after the sinks acknowledged
a batch and before its offsets are committed, restored when partitions are assigned. The
consumer uses the range assignor, so partition p of every co-partitioned topic goes to
the same process. Event time and clock skew: see ``docs/stream.md``.

Operator errors (a missing file, a bad setting, an unreachable broker, refused
credentials) end the run with one line on stderr and exit status 2 (see
:mod:`neakta.preflight`).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TextIO

from detect import CompiledRuleSet
from detect.correlation import CheckpointError
from ingest.deadletter import DeadLetterSink, NdjsonDeadLetters
from ingest.sources import FileSource, Source
from neakta import kafka_wiring, outputs, wiring
from neakta.alerting import AlertStage
from neakta.commands.run_checks import preflight, secrets
from neakta.commands.run_options import add_common_options, add_run_options
from neakta.heap import quiet_collector
from neakta.pipeline import Pipeline
from neakta.preflight import OPERATOR_EXIT, OperatorError, describe, redact
from neakta.reload import RuleReload
from neakta.settings import Settings, rules_cache_dir
from neakta.status import (
    Status,
    StatusLine,
    StatusReport,
    configure_logging,
    format_summary,
    stop_when_idle,
)
from neakta.supervisor import Supervisor, command_for, stop_when_orphaned

__all__ = ["cmd_replay", "cmd_run", "register"]

_log = logging.getLogger("neakta.run")


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], settings: Settings
) -> None:
    """Add ``run`` and ``replay``."""
    run = commands.add_parser(
        "run", help="run the pipeline: Kafka when bootstrap servers are set, else files"
    )
    add_run_options(run, settings)
    add_common_options(run, settings)
    run.set_defaults(handler=cmd_run)

    replay = commands.add_parser("replay", help="run the pipeline over log files")
    replay.add_argument("files", nargs="+", type=Path, help="log files or folders")
    add_common_options(replay, settings)
    replay.set_defaults(handler=cmd_replay, bootstrap_servers=None, checkpoints=None)


def cmd_run(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """Handler of ``neakta run``; with ``--processes`` other than 1, the workers' supervisor."""
    if args.processes != 1:
        return _supervise(args, settings)
    return asyncio.run(_run(args, settings, out))


def cmd_replay(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """Handler of ``neakta replay``."""
    args.inputs = args.files
    return asyncio.run(_run(args, settings, out))


def _stages(
    args: argparse.Namespace, settings: Settings, rules: CompiledRuleSet
) -> tuple[wiring.Stages, Callable[[], Awaitable[None]] | None]:
    """The alert stages, and what closes a checkpoint store's broker client."""
    live = bool(args.bootstrap_servers) or args.follow
    store = None
    close = None
    if args.bootstrap_servers:
        store, close = kafka_wiring.checkpoint_store(
            settings,
            bootstrap_servers=args.bootstrap_servers,
            group_id=args.group_id,
            path=args.checkpoints,
        )
    stages = wiring.build_stages(
        settings,
        store=args.store,
        rules=args.rules,
        base=rules,
        checkpoints=store,
        cache_dir=rules_cache_dir(settings),
        group_id=args.group_id if args.bootstrap_servers else "",
        clock=time.time if live else None,
    )
    return stages, close


def _supervise(args: argparse.Namespace, settings: Settings) -> int:
    """``--processes N``: check what the operator gave once, then start and watch N workers."""
    configure_logging(sys.stderr, fmt=args.log_format)
    try:
        if args.processes > 1 and not args.bootstrap_servers:
            raise OperatorError(
                f"--processes {args.processes} needs Kafka mode (--bootstrap-servers): "
                "input files are read by one process"
            )
        preflight(args, settings)
    except OperatorError as error:
        print(f"neakta: {redact(str(error), secrets(settings))}", file=sys.stderr)
        return OPERATOR_EXIT
    command = command_for(args, settings.respond.ndjson_path)
    supervisor = Supervisor(
        command, args.processes, status=StatusLine(sys.stderr, enabled=args.status)
    )
    code = supervisor.run()
    totals = supervisor.totals()
    summary = format_summary(totals, time.monotonic() - totals.started)
    workers = f"{args.processes} workers"
    print("\n".join(f"{workers}: {line}" for line in summary.splitlines()), file=sys.stderr)
    return code


def _rule_sets(args: argparse.Namespace, settings: Settings) -> dict[str, CompiledRuleSet]:
    """The compiled rule sets; rejected rules logged (by the first of several workers)."""
    rulesets = wiring.compile_rulesets(
        args.rules, placeholders=settings.placeholders, cache_dir=rules_cache_dir(settings)
    )
    first = next(iter(rulesets.values()))
    if settings.run.worker in (None, 1):
        for problem in first.rejected:
            _log.warning("rule rejected: %s", problem)
    if not first.rules:
        raise OperatorError(f"--rules {' '.join(map(str, args.rules))}: no rule could be loaded")
    return rulesets


async def _run(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    configure_logging(sys.stderr, fmt=args.log_format, worker=settings.run.worker)
    try:
        return await _run_checked(args, settings, out)
    except (OperatorError, CheckpointError) as error:
        print(f"neakta: {redact(str(error), secrets(settings))}", file=sys.stderr)
        return OPERATOR_EXIT


async def _run_checked(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    started = time.monotonic()
    if not args.bootstrap_servers and not args.inputs:
        raise OperatorError("nothing to read: give --input FILES or set Kafka")
    preflight(args, settings)
    rulesets = _rule_sets(args, settings)
    first = next(iter(rulesets.values()))
    stages, close_store = _stages(args, settings, first)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    source: Source | None = None
    pipeline = None
    routing: kafka_wiring.IncidentRouting | None = None
    reload = RuleReload.of(
        args.rules, rulesets, stages.correlations, placeholders=settings.placeholders
    )
    code = 0
    try:
        source, dead_letters, mode = await _source(args, settings, stages, stop)
        pipeline = wiring.build_pipeline(
            rulesets,
            stages,
            sinks=outputs.alert_sinks(settings, args.alerts, out),
            dead_letters=dead_letters,
            settings=settings,
            stop=stop,
            archive=args.archive,
        )
        if _routes_incidents(args, settings, stages):
            routing = await kafka_wiring.incident_routing(
                settings,
                bootstrap_servers=args.bootstrap_servers,
                topics=args.topics,
                group_id=args.group_id,
                path=args.checkpoints,
            )
            routing.attach(pipeline, stages.stage)
        reload.attach(pipeline, interval_s=settings.run.reload_interval_s)
        _log.info("started: %s, %d rules", mode, len(first.rules))
        with quiet_collector():
            code = await _consume(pipeline, source, args, settings)
    finally:
        reload.detach()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        if source is not None:
            await source.close()
        if routing is not None:
            await routing.close()
        if pipeline is not None:
            await pipeline.close()
        stages.close()
        if close_store is not None:
            await close_store()
    assert pipeline is not None
    summary = format_summary(pipeline.stats, time.monotonic() - started)
    worker = settings.run.worker
    if worker is not None:  # one of several: each of its lines says whose it is
        summary = "\n".join(f"worker {worker}: {line}" for line in summary.splitlines())
    print(summary, file=sys.stderr)
    _print_skipped(stages.stage)
    return code


def _routes_incidents(args: argparse.Namespace, settings: Settings, stages: wiring.Stages) -> bool:
    """Kafka, a store and correlation rules: incidents are grouped by key, across partitions."""
    stage = stages.stage
    return bool(
        args.bootstrap_servers
        and settings.kafka.route_incidents
        and stage.tracker is not None
        and stage.slots is not None
        and stage.slots.checkpoints is not None
    )


async def _source(
    args: argparse.Namespace, settings: Settings, stages: wiring.Stages, stop: asyncio.Event
) -> tuple[Source, DeadLetterSink, str]:
    """The source, its dead-letter destination, and a word on the mode."""
    if not args.bootstrap_servers:
        source = FileSource(
            args.inputs,
            family=args.family,
            follow=args.follow,
            batch_size=args.batch_size,
            max_record_bytes=args.max_record_bytes,
            stop=stop,
        )
        mode = "files " + " ".join(map(str, args.inputs))
        return source, NdjsonDeadLetters(args.dead_letters), mode
    quiet = logging.getLogger("aiokafka")
    level = quiet.level
    # aiokafka logs each failed connection itself; the operator gets one line.
    quiet.setLevel(logging.CRITICAL)
    try:
        kafka, dead_letters = await kafka_wiring.kafka_source(
            settings.kafka,
            bootstrap_servers=args.bootstrap_servers,
            topics=args.topics,
            group_id=args.group_id,
            max_record_bytes=args.max_record_bytes,
            stop=stop,
            checkpoint=stages.checkpoint,
        )
    except Exception as error:
        line = describe(error)
        if line is None:
            raise
        raise OperatorError(
            f"cannot start on Kafka at {args.bootstrap_servers}: {line.removeprefix('Kafka: ')}"
        ) from error
    finally:
        quiet.setLevel(level)
    return kafka, dead_letters, f"kafka {args.bootstrap_servers} group {args.group_id}"


def _status(args: argparse.Namespace, settings: Settings) -> Status:
    """The status line; a worker's totals go to its supervisor instead."""
    fd = settings.run.status_fd
    if fd is not None:
        try:
            return StatusReport(fd)
        except OSError as error:
            _log.warning("no status reports to the supervisor (descriptor %d: %s)", fd, error)
    return StatusLine(sys.stderr, enabled=args.status)


async def _consume(
    pipeline: Pipeline, source: Source, args: argparse.Namespace, settings: Settings
) -> int:
    """Run the pipeline; an operator error ends it with one line and status 2."""
    watchers = []
    if args.idle_exit:
        watchers.append(
            asyncio.create_task(
                stop_when_idle(pipeline.stop, lambda: pipeline.active, source, args.idle_exit)
            )
        )
    if settings.run.worker is not None:
        watchers.append(asyncio.create_task(stop_when_orphaned(pipeline.stop, os.getppid())))
    try:
        await pipeline.run(source, status=_status(args, settings))
    except Exception as error:
        line = describe(error)
        if line is None:
            _log.exception("stopped by an error; the batch in hand was not committed")
            return 1
        print(f"neakta: {redact(line, secrets(settings))}", file=sys.stderr)
        print("neakta: stopped; the batch in hand was not committed", file=sys.stderr)
        return OPERATOR_EXIT
    finally:
        for watcher in watchers:
            watcher.cancel()
    return 0


def _print_skipped(stage: AlertStage) -> None:
    """Matched events the correlation rules could not count (late, no time, no group)."""
    if stage.skipped:
        reasons = ", ".join(f"{reason} {n:,}" for reason, n in stage.skipped.most_common())
        print(f"not counted by correlation rules: {reasons}", file=sys.stderr)
    skewed = stage.slots.skewed if stage.slots is not None else None
    if skewed:
        sources = ", ".join(f"{name} {n:,}" for name, n in skewed.most_common())
        print(
            "clock skew (stamped beyond the clock plus the allowed skew; detected, but "
            f"moved no watermark): {sources}",
            file=sys.stderr,
        )
