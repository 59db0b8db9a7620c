"""``neakta incidents list|show|ack|close``: the incidents in the embedded SQLite store.

``--db`` names the store; the stores of ``neakta run --processes`` workers beside it
(``neakta.1.db`` ...) are read with it (:mod:`neakta.stores`).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any, TextIO

import orjson

from neakta import stores
from neakta.options import add_store_option
from neakta.settings import Settings
from respond.alerts import SEVERITY
from respond.incidents import severity_label
from respond.store import IncidentNotFoundError, IncidentStateError, SqliteStore

__all__ = ["register"]

_SEVERITIES = SEVERITY


def _severity(text: str) -> int:
    if text.lower() in _SEVERITIES:
        return _SEVERITIES[text.lower()]
    try:
        return int(text)
    except ValueError:
        choices = ", ".join(_SEVERITIES)
        raise argparse.ArgumentTypeError(f"{text!r}: use {choices} or a number") from None


def _paths(path: Path) -> list[Path]:
    """The store and its workers' stores; none: said on stderr."""
    found = stores.store_paths(path)
    if not found:
        print(f"neakta: no incident store at {path}", file=sys.stderr)
    return found


def _dump(value: Any, out: TextIO) -> None:
    out.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def _cut(text: object, width: int) -> str:
    value = "" if text is None else str(text)
    return value if len(value) <= width else value[: width - 1] + "…"


def _table(rows: list[list[str]], headers: list[str], out: TextIO) -> None:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip(), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(), file=out)


def cmd_list(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    paths = _paths(args.db)
    if not paths:
        return 2
    with stores.opened(paths) as opened:
        incidents = stores.list_incidents(
            opened,
            state=args.state,
            organization=args.ministry,
            min_severity=args.min_severity,
            limit=args.limit,
        )
    if args.json:
        _dump(incidents, out)
        return 0
    rows = [
        [
            i["id"],
            severity_label(i["severity"]),
            i["state"],
            i["organization_id"] or "-",
            str(i["alert_count"]),
            (i["last_seen"] or "")[:19].replace("T", " "),
            _cut(i["title"], 60),
        ]
        for i in incidents
    ]
    headers = ["id", "severity", "state", "ministry", "alerts", "last seen (UTC)", "title"]
    _table(rows, headers, out)
    print(f"{len(incidents)} incident(s)", file=out)
    return 0


def _print_incident(incident: dict[str, Any], out: TextIO) -> None:
    document = incident["document"].get("incident", {})
    print(f"incident  {incident['id']}", file=out)
    print(f"title     {incident['title']}", file=out)
    print(f"severity  {severity_label(incident['severity'])} ({incident['severity']})", file=out)
    print(f"state     {incident['state']}", file=out)
    print(f"ministry  {incident['organization_id'] or '-'}", file=out)
    print(f"entity    {document.get('entity', '-')}", file=out)
    print(f"seen      {incident['first_seen']} .. {incident['last_seen']}", file=out)
    print(f"alerts    {incident['alert_count']}", file=out)
    print(f"rules     {', '.join(document.get('rules', []))}", file=out)
    print(f"tactics   {', '.join(document.get('tactics', [])) or '-'}", file=out)
    print("\nhistory", file=out)
    for change in incident["history"]:
        who = f" by {change['who']}" if change["who"] else ""
        note = f": {change['note']}" if change["note"] else ""
        print(f"  {change['at']}  {change['state']}{who}{note}", file=out)
    print("\nalerts", file=out)
    rows = [
        [
            alert["_id"][:16],
            str(alert.get("@timestamp", "-"))[:19].replace("T", " "),
            str(alert.get("event", {}).get("severity", "-")),
            _cut(alert.get("message"), 70),
        ]
        for alert in incident["alerts"]
    ]
    _table(rows, ["alert", "time (UTC)", "sev", "message"], out)
    listed = len(incident["alerts"])
    if incident["alert_count"] > listed:
        print(f"({incident['alert_count'] - listed} more alerts not listed)", file=out)


def cmd_show(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    paths = _paths(args.db)
    if not paths:
        return 2
    try:
        with stores.opened(paths) as opened:
            incident = stores.get_incident(opened, args.id)
    except IncidentNotFoundError as error:
        print(f"neakta: {error}", file=sys.stderr)
        return 1
    if args.json:
        _dump(incident, out)
    else:
        _print_incident(incident, out)
    return 0


def cmd_state(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    paths = _paths(args.db)
    if not paths:
        return 2
    try:
        with stores.opened(paths) as opened:
            incident = stores.set_state(
                opened, args.id, args.new_state, who=args.by, note=args.note
            )
    except (IncidentNotFoundError, IncidentStateError) as error:
        print(f"neakta: {error}", file=sys.stderr)
        return 1
    if args.json:
        _dump(incident, out)
    else:
        print(f"{incident['id']}: {incident['state']} by {args.by}", file=out)
    return 0


def _common(parser: argparse.ArgumentParser, settings: Settings) -> None:
    add_store_option(parser, settings)
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], settings: Settings
) -> None:
    """Add ``neakta incidents`` and its sub-commands."""
    incidents = commands.add_parser("incidents", help="list, show, acknowledge, close incidents")
    verbs = incidents.add_subparsers(dest="incidents_command", required=True)

    listing = verbs.add_parser("list", help="incidents, most severe and most recent first")
    listing.add_argument("--state", choices=SqliteStore.STATES, help="only this state")
    listing.add_argument("--ministry", help="only this organization.id")
    listing.add_argument(
        "--min-severity",
        type=_severity,
        default=0,
        help="informational, low, medium, high, critical or 1-100 (default: all)",
    )
    listing.add_argument("--limit", type=int, default=100, help="at most this many (100)")
    _common(listing, settings)
    listing.set_defaults(handler=cmd_list)

    show = verbs.add_parser("show", help="one incident with its history and alerts")
    show.add_argument("id", help="the incident id")
    _common(show, settings)
    show.set_defaults(handler=cmd_show)

    for verb, state, text in (
        ("ack", "acknowledged", "acknowledge an incident"),
        ("close", "closed", "close an incident (it never reopens)"),
    ):
        change = verbs.add_parser(verb, help=text)
        change.add_argument("id", help="the incident id")
        change.add_argument("--by", default=_user(), help="who (default: the login name, env USER)")
        change.add_argument("--note", help="why, for the history")
        _common(change, settings)
        change.set_defaults(handler=cmd_state, new_state=state)


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"
