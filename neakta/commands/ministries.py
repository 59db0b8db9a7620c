"""``neakta ministries add|list``: onboard a ministry, and see what each ministry sends.

``add ID --name NAME`` prints everything a SOC operator and the ministry's administrator
need: the ministry's topics, its SCRAM user and password, the ``kafka-*.sh`` commands that
create topics, user and ACLs, and the rsyslog and Winlogbeat configurations for the
ministry (rendered from ``deploy/forwarders/``; ``--write DIR`` also writes them, with the
Vector one, to files). It registers the ministry in the embedded store.

``list`` shows each ministry's log families: events counted, the last event time and the
current events per second, from the counters the running pipeline saves in the store.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from neakta.onboarding import (
    FORWARDERS,
    ForwarderValues,
    OnboardingError,
    kafka_commands,
    ministry_topics,
    render_forwarder,
)
from neakta.options import add_option, add_store_option
from neakta.settings import Settings
from neakta.stores import merge_ministry_rows, store_paths
from respond.errors import RespondError
from respond.sources import SourceStats

__all__ = ["cmd_add", "cmd_list", "register"]

_FILES = {
    "rsyslog": "60-neakta.conf",
    "winlogbeat": "winlogbeat.yml",
    "vector": "vector.toml",
}
_WHERE = {
    "rsyslog": "/etc/rsyslog.d/60-neakta.conf on the ministry's log relay (Linux)",
    "winlogbeat": "C:\\Program Files\\Winlogbeat\\winlogbeat.yml on Windows hosts",
}


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], settings: Settings
) -> None:
    """Add ``neakta ministries add`` and ``neakta ministries list``."""
    ministries = commands.add_parser("ministries", help="onboard ministries, see their sources")
    verbs = ministries.add_subparsers(dest="ministries_command", required=True)
    add = verbs.add_parser(
        "add", help="print topics, Kafka user, ACL commands and forwarder configurations"
    )
    add.add_argument("ministry", help="ministry id: the topic suffix, e.g. mef")
    add.add_argument("--name", help="the ministry's full name")
    add_option(
        add,
        "--brokers",
        env="NEAKTA_MINISTRIES__BROKERS",
        help="Kafka address the forwarders reach",
        default=settings.ministries.brokers,
    )
    add_option(
        add,
        "--security-protocol",
        env="NEAKTA_MINISTRIES__SECURITY_PROTOCOL",
        help="how forwarders reach Kafka (SASL_PLAINTEXT for the compose stack)",
        choices=("SASL_SSL", "SASL_PLAINTEXT"),
        default=settings.ministries.security_protocol,
    )
    add_option(
        add,
        "--admin-bootstrap",
        env="NEAKTA_MINISTRIES__ADMIN_BOOTSTRAP",
        help="Kafka address for the kafka-*.sh commands",
        default=settings.ministries.admin_bootstrap,
    )
    add.add_argument("--password", help="the ministry's Kafka password (default: a new random one)")
    add.add_argument("--write", type=Path, metavar="DIR", help="also write the files into DIR")
    listing = verbs.add_parser("list", help="each ministry's last event and events/s per family")
    listing.add_argument(
        "--hosts", action="store_true", help="per forwarding host instead of per log family"
    )
    for parser in (add, listing):
        add_store_option(parser, settings)
    add.set_defaults(handler=cmd_add)
    listing.set_defaults(handler=cmd_list)


def cmd_add(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """Handler of ``neakta ministries add``."""
    try:
        values = ForwarderValues(
            args.ministry,
            args.password or secrets.token_urlsafe(24),
            brokers=args.brokers,
            security_protocol=args.security_protocol,
        )
        templates = settings.ministries.templates
        configs = {name: render_forwarder(name, values, templates=templates) for name in FORWARDERS}
    except OnboardingError as error:
        print(f"neakta: {error}", file=sys.stderr)
        return 2
    commands = kafka_commands(values, bootstrap=args.admin_bootstrap)
    title = f"{values.ministry} ({args.name})" if args.name else values.ministry
    lines = [
        f"Ministry {title}",
        "",
        "Topics (its Kafka user may write to these and no others):",
        *(f"  {topic}" for topic in ministry_topics(values.ministry)),
        "",
        f"Kafka user: {values.username}",
        f"Password:   {values.password}",
        "  (give it to the ministry's administrator over a safe channel; it is in the",
        "  configurations below and is not stored by neakta)",
        "",
        "On the Kafka broker (Apache Kafka's bin/ folder; with compose:",
        "docker compose exec kafka bash, then cd /opt/kafka/bin):",
        *(f"  {command}" for command in commands),
        "",
        "For compose's ministries.conf (the kafka-init service runs the same commands):",
        f"  {values.ministry} {values.password}",
    ]
    for name in ("rsyslog", "winlogbeat"):
        lines += ["", f"===== {name}: {_WHERE[name]} =====", configs[name].rstrip()]
    try:
        stats = SourceStats(args.db)
    except RespondError as error:
        print(f"neakta: {error}", file=sys.stderr)
        return 1
    try:
        stats.add_ministry(values.ministry, args.name, now=datetime.now(UTC))
    finally:
        stats.close()
    if args.write is not None:
        _write(args.write, configs, commands)
        lines += ["", f"Written to {args.write}/: {', '.join(sorted(_FILES.values()))}, "
                  "kafka-commands.sh"]  # fmt: skip
    print("\n".join(lines), file=out)
    return 0


def _write(folder: Path, configs: dict[str, str], commands: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in configs.items():
        (folder / _FILES[name]).write_text(text)
    script = "#!/bin/sh\nset -e\n" + "\n".join(commands) + "\n"
    (folder / "kafka-commands.sh").write_text(script)


def cmd_list(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """Handler of ``neakta ministries list``."""
    paths = store_paths(Path(args.db))
    if not paths:
        print(f"neakta: no store at {args.db}: run `neakta run` or `ministries add` first",
              file=sys.stderr)  # fmt: skip
        return 1
    now = datetime.now(UTC)
    parts = []
    for path in paths:  # the store and its workers' (neakta.stores)
        try:
            stats = SourceStats(path)
        except RespondError as error:
            print(f"neakta: {error}", file=sys.stderr)
            return 1
        try:
            parts.append(stats.ministries(now=now, kind="host" if args.hosts else "family"))
        finally:
            stats.close()
    rows = merge_ministry_rows(parts)
    header = (
        "ministry",
        "name",
        "host" if args.hosts else "family",
        "events",
        "last event",
        "events/s",
    )
    table = [header]
    for row in rows:
        last = "never" if row.last_event is None else row.last_event.strftime("%Y-%m-%dT%H:%M:%SZ")
        table.append(
            (
                row.ministry,
                row.name or "",
                row.source or "-",
                f"{row.events:,}",
                last,
                f"{row.rate:,.1f}",
            )
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        cells = (cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        print("  ".join(cells).rstrip(), file=out)
    return 0
