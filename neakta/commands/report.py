"""``neakta report``: a ministry's or the national report, and an ATT&CK Navigator layer.

The report is one HTML file; the layer holds the techniques seen, scored by alerts.

The data comes from Elasticsearch when hosts are configured (``NEAKTA_ELASTIC__HOSTS``),
else from the embedded SQLite store; ``--source`` picks one explicitly.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from enrich.errors import SourceFileError
from neakta.options import add_option, add_store_option
from neakta.settings import ElasticSettings, Settings
from neakta.stores import combined_report_data, store_paths
from respond.report import (
    LANGUAGES,
    ReportData,
    ReportSourceError,
    read_elastic,
    read_sqlite,
    write_report,
)

__all__ = ["DEFAULT_ASSETS", "parse_since", "register"]

DEFAULT_ASSETS = Path(__file__).resolve().parents[2] / "enrich" / "data" / "assets.csv"
_SINCE = re.compile(r"(\d+)([mhdw])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str) -> timedelta:
    """``30m``, ``12h``, ``7d`` or ``2w`` as a duration.

    >>> parse_since("7d")
    datetime.timedelta(days=7)
    """
    match = _SINCE.fullmatch(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise argparse.ArgumentTypeError(f"{text!r}: use a number and m, h, d or w, e.g. 7d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _read_elastic(
    elastic: ElasticSettings, hosts: list[str], ministry: str | None, since: datetime | None
) -> ReportData:
    from respond.elastic import alerts_data_stream, build_client

    async def read() -> ReportData:
        client = build_client(hosts=hosts, **elastic.credentials())
        try:
            return await read_elastic(
                client,
                alerts_index=alerts_data_stream(elastic.namespace),
                incidents_index=elastic.incidents_alias,
                ministry=ministry,
                since=since,
            )
        finally:
            await client.close()

    return asyncio.run(read())


def cmd_report(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    if args.out is None and args.navigator is None:
        print("neakta report: give --out FILE.html, --navigator FILE.json or both", file=sys.stderr)
        return 2
    since = None if args.since is None else datetime.now(UTC) - args.since
    source = args.source
    if source == "auto":
        source = "elastic" if args.hosts else "sqlite"
    try:
        if source == "elastic":
            if not args.hosts:
                print("neakta report: no hosts (--hosts or NEAKTA_ELASTIC__HOSTS)", file=sys.stderr)
                return 2
            data = _read_elastic(settings.elastic, args.hosts, args.ministry, since)
        else:
            # The store and its workers' stores (neakta run --processes), as one.
            paths = store_paths(Path(args.db)) or [Path(args.db)]
            data = combined_report_data(
                [read_sqlite(path, ministry=args.ministry, since=since) for path in paths]
            )
        report = write_report(
            data,
            out=args.out,
            navigator=args.navigator,
            ministry=args.ministry,
            since=since,
            lang=args.lang,
            assets=args.assets,
        )
    except (ReportSourceError, SourceFileError, OSError, ValueError) as error:
        print(f"neakta report: {error}", file=sys.stderr)
        return 1
    totals = report.totals
    summary = f"{totals['incidents']} incidents, {totals['alerts']} alerts"
    if args.out is not None:
        print(f"report: {args.out} ({summary})", file=out)
    if args.navigator is not None:
        print(f"ATT&CK Navigator layer: {args.navigator} ({len(report.techniques)} techniques)",
              file=out)  # fmt: skip
    if data.truncated:
        print("neakta report: the source held more than was read; see the report", file=sys.stderr)
    return 0


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], settings: Settings
) -> None:
    """Add ``neakta report``."""
    parser = commands.add_parser(
        "report",
        help="a ministry's or the national report (HTML), an ATT&CK Navigator layer",
        description="Reads Elasticsearch when NEAKTA_ELASTIC__HOSTS is set, else the "
        "embedded SQLite store; credentials as for neakta setup elastic.",
    )
    parser.add_argument("--ministry", help="only this organization.id (default: national)")
    parser.add_argument(
        "--since", type=parse_since, help="only the last 30m, 12h, 7d, 2w... (default: all)"
    )
    parser.add_argument("--lang", choices=LANGUAGES, default="en", help="labels (default en)")
    parser.add_argument("--out", type=Path, help="write the HTML report here")
    parser.add_argument("--navigator", type=Path, help="write the ATT&CK Navigator layer here")
    parser.add_argument(
        "--source",
        choices=("auto", "sqlite", "elastic"),
        default="auto",
        help="where to read (default auto: elastic when hosts are set, else sqlite)",
    )
    add_store_option(parser, settings)
    add_option(
        parser,
        "--hosts",
        env="NEAKTA_ELASTIC__HOSTS",
        help="Elasticsearch URLs",
        default_help=None,
        nargs="+",
        default=list(settings.elastic.hosts),
    )
    add_option(
        parser,
        "--assets",
        env="NEAKTA_ENRICH__ASSETS",
        help="asset inventory CSV",
        default_help="the bundled sample",
        type=Path,
        default=settings.enrich.assets or DEFAULT_ASSETS,
    )
    parser.set_defaults(handler=cmd_report)
