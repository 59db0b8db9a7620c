"""The options of ``neakta run`` and ``neakta replay``, with their settings as defaults.

Each option names the environment variable that sets it (see :mod:`neakta.options`);
:func:`add_run_options` adds what only ``run`` takes (its inputs, Kafka, checkpoints),
:func:`add_common_options` what both take.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ingest.sources import FAMILIES
from neakta.options import add_option, add_rules_option, add_store_option
from neakta.settings import Settings

__all__ = ["add_common_options", "add_run_options"]


def add_run_options(parser: argparse.ArgumentParser, settings: Settings) -> None:
    """Add the options only ``run`` takes: file inputs, Kafka, the checkpoints file."""
    kafka = settings.kafka
    parser.add_argument(
        "--input",
        dest="inputs",
        nargs="+",
        type=Path,
        default=list(settings.run.inputs),
        help="files or folders to read in file mode (env NEAKTA_RUN__INPUTS, a JSON list)",
    )
    add_option(
        parser,
        "--bootstrap-servers",
        env="NEAKTA_KAFKA__BOOTSTRAP_SERVERS",
        help="Kafka brokers host:port[,...]; set means Kafka mode",
        default_help=None,
        default=kafka.bootstrap_servers,
    )
    add_option(
        parser,
        "--group-id",
        env="NEAKTA_KAFKA__GROUP_ID",
        help="consumer group",
        default=kafka.group_id,
    )
    parser.add_argument(
        "--topics",
        nargs="+",
        default=list(kafka.topics),
        help="topics to consume (env NEAKTA_KAFKA__TOPICS, a JSON list; default %(default)s)",
    )
    add_option(
        parser,
        "--checkpoints",
        env="NEAKTA_CORRELATION__CHECKPOINT_PATH",
        help="SQLite file of correlation state checkpoints in Kafka mode",
        type=Path,
        default=settings.correlation.checkpoint_path,
    )
    add_option(
        parser,
        "--processes",
        env="NEAKTA_RUN__PROCESSES",
        help="processes in the consumer group, started and watched by this one (Kafka mode)",
        type=int,
        default=settings.run.processes,
    )


def add_common_options(parser: argparse.ArgumentParser, settings: Settings) -> None:
    """Add the options ``run`` and ``replay`` share: rules, inputs' handling, outputs, status."""
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
    add_store_option(parser, settings, dest="store")
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
    add_option(
        parser,
        "--archive",
        env="NEAKTA_RUN__ARCHIVE",
        help="folder keeping the parsed events for `neakta rules backtest`",
        default_help="not kept",
        type=Path,
        default=run.archive,
    )
    parser.add_argument(
        "--idle-exit",
        type=float,
        default=run.idle_exit,
        metavar="SECONDS",
        help="stop once no batch arrived for this long (env NEAKTA_RUN__IDLE_EXIT; "
        "default: run until stopped, or until the files end)",
    )
