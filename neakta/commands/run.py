"""``neakta run`` and ``neakta replay``: the running pipeline, from Kafka or from files.

``run`` consumes Kafka when ``kafka.bootstrap_servers`` is set (``--bootstrap-servers``)
and reads ``--input`` files otherwise; ``replay FILES...`` always reads files. Alerts go
to ``--alerts`` (NDJSON, ``-`` for stdout) and to Elasticsearch when ``elastic.hosts`` is
set; dead letters to ``<topic>.dlq`` in Kafka mode and to ``--dead-letters`` (NDJSON) in
file mode. SIGTERM and SIGINT end the run after the batch in hand, committed. A status
line goes to stderr when it is a terminal (or with ``--status``); a summary at the end.

In Kafka mode correlation state is kept per partition number and checkpointed in
``--checkpoints`` (SQLite) together with the offsets: saved after the sinks acknowledged
a batch and before its offsets are committed, restored when partitions are assigned. The
consumer uses the range assignor, so partition p of every co-partitioned topic goes to
the same process.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import time
from functools import partial
from pathlib import Path
from typing import TextIO

from detect import CompiledRuleSet
from detect.correlation import CheckpointError, SQLiteCheckpointStore
from ingest.deadletter import DeadLetterSink, NdjsonDeadLetters
from ingest.sources import FAMILIES, FileSource, Source
from neakta import wiring
from neakta.alerting import AlertStage
from neakta.options import add_option, add_rules_option
from neakta.settings import Settings, rules_cache_dir
from neakta.status import StatusLine, configure_logging, format_summary, stop_when_idle

__all__ = ["cmd_replay", "cmd_run", "register"]

_log = logging.getLogger("neakta.run")


def _common(parser: argparse.ArgumentParser, settings: Settings) -> None:
    run = settings.run
    add_rules_option(parser, settings)
    add_option(
        parser,
        "--family",
        env="NEAKTA_RUN__FAMILY",
        help="log family of every input file; guessed per file by name and content when unset",
        default_help=None,
        choices=FAMILIES,
        default=run.family,
    )
    parser.add_argument(
        "--follow", action="store_true", help="keep reading input files as they grow"
    )
    add_option(
        parser,
        "--alerts",
        env="NEAKTA_RUN__ALERTS",
        help="NDJSON file the alerts are appended to, - for stdout",
        default=run.alerts,
    )
    add_option(
        parser,
        "--dead-letters",
        env="NEAKTA_RUN__DEAD_LETTERS",
        help="NDJSON file for dead letters in file mode",
        type=Path,
        default=run.dead_letters,
    )
    add_option(
        parser,
        "--db",
        env="NEAKTA_RESPOND__STORE_PATH",
        help="SQLite file keeping alerts and incidents",
        dest="store",
        type=Path,
        default=settings.respond.store_path,
    )
    add_option(
        parser,
        "--max-record-bytes",
        env="NEAKTA_RUN__MAX_RECORD_BYTES",
        help="longer records are dead letters",
        type=int,
        default=run.max_record_bytes,
    )
    add_option(
        parser,
        "--batch-size",
        env="NEAKTA_BATCH_SIZE",
        help="most records per file batch",
        type=int,
        default=settings.batch_size,
    )
    add_option(
        parser,
        "--status",
        env="NEAKTA_RUN__STATUS",
        help="live status line on stderr; default: only when stderr is a terminal",
        default_help=None,
        action=argparse.BooleanOptionalAction,
        default=run.status,
    )
    add_option(
        parser,
        "--log-format",
        env="NEAKTA_RUN__LOG_FORMAT",
        help="stderr log lines as key=value or JSON",
        choices=("kv", "json"),
        default=run.log_format,
    )
    parser.add_argument(
        "--idle-exit",
        type=float,
        default=run.idle_exit,
        metavar="SECONDS",
        help="stop once no batch arrived for this long (env NEAKTA_RUN__IDLE_EXIT; "
        "default: run until stopped, or until the files end)",
    )


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], settings: Settings
) -> None:
    """Add ``run`` and ``replay``."""
    kafka = settings.kafka
    run = commands.add_parser(
        "run", help="run the pipeline: Kafka when bootstrap servers are set, else files"
    )
    run.add_argument(
        "--input",
        dest="inputs",
        nargs="+",
        type=Path,
        default=list(settings.run.inputs),
        help="files or folders to read in file mode (env NEAKTA_RUN__INPUTS, a JSON list)",
    )
    add_option(
        run,
        "--bootstrap-servers",
        env="NEAKTA_KAFKA__BOOTSTRAP_SERVERS",
        help="Kafka brokers host:port[,...]; set means Kafka mode",
        default_help=None,
        default=kafka.bootstrap_servers,
    )
    add_option(
        run,
        "--group-id",
        env="NEAKTA_KAFKA__GROUP_ID",
        help="consumer group",
        default=kafka.group_id,
    )
    run.add_argument(
        "--topics",
        nargs="+",
        default=list(kafka.topics),
        help="topics to consume (env NEAKTA_KAFKA__TOPICS, a JSON list; default %(default)s)",
    )
    add_option(
        run,
        "--checkpoints",
        env="NEAKTA_CORRELATION__CHECKPOINT_PATH",
        help="SQLite file of correlation state checkpoints in Kafka mode",
        type=Path,
        default=settings.correlation.checkpoint_path,
    )
    _common(run, settings)
    run.set_defaults(handler=cmd_run)

    replay = commands.add_parser("replay", help="run the pipeline over log files")
    replay.add_argument("files", nargs="+", type=Path, help="log files or folders")
    _common(replay, settings)
    replay.set_defaults(handler=cmd_replay, bootstrap_servers=None, checkpoints=None)


def cmd_run(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """Handler of ``neakta run``."""
    return asyncio.run(_run(args, settings, out))


def cmd_replay(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """Handler of ``neakta replay``."""
    args.inputs = args.files
    return asyncio.run(_run(args, settings, out))


def _stages(
    args: argparse.Namespace, settings: Settings, rules: CompiledRuleSet
) -> wiring.Stages | None:
    """The alert stages; None (reported) when the checkpoint store cannot be opened."""
    live = bool(args.bootstrap_servers) or args.follow
    kept = settings.correlation.checkpoints_kept
    try:
        return wiring.build_stages(
            settings,
            store=args.store,
            rules=args.rules,
            base=rules,
            lateness_s=settings.correlation.lateness_s if live else wiring.REPLAY_LATENESS_S,
            checkpoints=partial(SQLiteCheckpointStore, args.checkpoints, keep=kept)
            if args.bootstrap_servers
            else None,
            group_id=args.group_id if args.bootstrap_servers else "",
        )
    except CheckpointError as error:
        print(f"neakta: {error}", file=sys.stderr)
        return None


async def _run(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    configure_logging(sys.stderr, fmt=args.log_format)
    started = time.monotonic()
    if not args.bootstrap_servers and not args.inputs:
        print("neakta: nothing to read: give --input FILES or set Kafka", file=sys.stderr)
        return 2
    rulesets = wiring.compile_rulesets(
        args.rules, placeholders=settings.placeholders, cache_dir=rules_cache_dir(settings)
    )
    first = next(iter(rulesets.values()))
    for problem in first.rejected:
        _log.warning("rule rejected: %s", problem)
    stages = _stages(args, settings, first)
    if stages is None:
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    source: Source
    dead_letters: DeadLetterSink
    if args.bootstrap_servers:
        source, dead_letters = await wiring.kafka_source(
            settings.kafka,
            bootstrap_servers=args.bootstrap_servers,
            topics=args.topics,
            group_id=args.group_id,
            max_record_bytes=args.max_record_bytes,
            stop=stop,
            checkpoint=stages.checkpoint,
        )
        mode = f"kafka {args.bootstrap_servers} group {args.group_id}"
    else:
        source = FileSource(
            args.inputs,
            family=args.family,
            follow=args.follow,
            batch_size=args.batch_size,
            max_record_bytes=args.max_record_bytes,
            stop=stop,
        )
        dead_letters = NdjsonDeadLetters(args.dead_letters)
        mode = "files " + " ".join(map(str, args.inputs))
    pipeline = wiring.build_pipeline(
        rulesets,
        stages,
        sinks=wiring.alert_sinks(settings, args.alerts, out),
        dead_letters=dead_letters,
        settings=settings,
        stop=stop,
    )
    _log.info("started: %s, %d rules", mode, len(first.rules))
    watcher = (
        asyncio.create_task(
            stop_when_idle(pipeline.stop, lambda: pipeline.last_batch, source, args.idle_exit)
        )
        if args.idle_exit
        else None
    )
    code = 0
    try:
        stats = await pipeline.run(source, status=StatusLine(sys.stderr, enabled=args.status))
    except Exception:
        _log.exception("stopped by an error; the batch in hand was not committed")
        stats = pipeline.stats
        code = 1
    finally:
        if watcher is not None:
            watcher.cancel()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        await source.close()
        await pipeline.close()
        stages.close()
    print(format_summary(stats, time.monotonic() - started), file=sys.stderr)
    _print_skipped(stages.stage)
    return code


def _print_skipped(stage: AlertStage) -> None:
    """Matched events the correlation rules could not count (late, no time, no group)."""
    if stage.skipped:
        reasons = ", ".join(f"{reason} {n:,}" for reason, n in stage.skipped.most_common())
        print(f"not counted by correlation rules: {reasons}", file=sys.stderr)
