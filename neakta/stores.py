"""The embedded stores of one run: the store a path names, and its workers' stores beside it.

``neakta run --processes N`` gives each worker a store of its own, ``neakta.1.db`` ...
``neakta.N.db`` beside ``neakta.db`` (:func:`neakta.supervisor.worker_path`). An incident
is kept by the worker that groups it (the owner of its incident partition), its alerts by
the workers that raised them, a source's counters by each worker that read some of it.
The commands that read the store (``neakta incidents``, ``neakta ministries list``) read
them all through these functions:

- an incident in its latest version: most alerts, then latest last alert (one handed over
  with a partition is in two stores), with its alerts from whichever store holds them;
- an analyst's decision (acknowledge, close) written to every store that holds the
  incident, so that whichever worker groups it next takes it;
- a source's counters added up over the stores (events, rates), its last event the latest;
- a report's incidents (latest versions) and alerts over the stores, and the sources any
  worker finds silent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import polars as pl

from respond.report import ReportData
from respond.sources import MinistryRow
from respond.store import IncidentNotFoundError, IncidentStateError, SqliteStore

__all__ = [
    "combined_report_data",
    "get_incident",
    "list_incidents",
    "merge_ministry_rows",
    "opened",
    "set_state",
    "store_paths",
]


def store_paths(path: Path) -> list[Path]:
    """The store at ``path`` where there is one, then its workers' stores, by number.

    A worker's store is ``<stem>.<k><suffix>`` beside it; nothing else matches (``-wal``
    files, other numbers' spellings).
    """
    found = [path] if path.exists() else []
    pattern = re.compile(rf"{re.escape(path.stem)}\.([1-9][0-9]*){re.escape(path.suffix)}")
    workers = []
    if path.parent.is_dir():
        for candidate in path.parent.iterdir():
            match = pattern.fullmatch(candidate.name)
            if match is not None and candidate.is_file():
                workers.append((int(match.group(1)), candidate))
    return found + [candidate for _, candidate in sorted(workers)]


@contextmanager
def opened(paths: Sequence[Path]) -> Iterator[list[SqliteStore]]:
    """The stores at ``paths``, open for the block, closed after it."""
    stores: list[SqliteStore] = []
    try:
        for path in paths:
            stores.append(SqliteStore(path))
        yield stores
    finally:
        for store in stores:
            store.close_now()


def _newer(incident: dict[str, Any], than: dict[str, Any] | None) -> bool:
    """Whether ``incident`` is a later version than ``than``: more alerts, then a later one."""
    if than is None:
        return True
    return (incident["alert_count"], incident["last_seen"] or "") > (
        than["alert_count"],
        than["last_seen"] or "",
    )


def list_incidents(
    stores: Sequence[SqliteStore],
    *,
    state: str | None = None,
    organization: str | None = None,
    min_severity: int = 0,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """:meth:`SqliteStore.list_incidents` over every store, each incident once (latest)."""
    latest: dict[str, dict[str, Any]] = {}
    for store in stores:
        for incident in store.list_incidents(
            state=state, organization=organization, min_severity=min_severity, limit=limit
        ):
            if _newer(incident, latest.get(incident["id"])):
                latest[incident["id"]] = incident
    # The stores' own order: most severe first, then most recent last alert, then id.
    ordered = sorted(latest.values(), key=lambda i: i["id"])
    ordered.sort(key=lambda i: i["last_seen"] or "", reverse=True)
    ordered.sort(key=lambda i: i["severity"], reverse=True)
    return ordered[:limit]


def get_incident(stores: Sequence[SqliteStore], incident_id: str) -> dict[str, Any]:
    """One incident in its latest version, with its alerts from every store.

    Raises :class:`IncidentNotFoundError` where no store holds it.
    """
    versions = _versions(stores, incident_id)
    result = versions[0]
    for version in versions[1:]:
        if _newer(version, result):
            result = version
    ids = result["document"].get("incident", {}).get("alert_ids", [])
    found = {alert["_id"]: alert for alert in result["alerts"]}
    missing = [i for i in ids if i not in found]
    for store in stores:
        if not missing:
            break
        for identifier, document in store.alert_documents(missing).items():
            found[identifier] = {"_id": identifier, **document}
        missing = [i for i in missing if i not in found]
    result["alerts"] = [found[i] for i in ids if i in found]
    return result


def _versions(stores: Iterable[SqliteStore], incident_id: str) -> list[dict[str, Any]]:
    versions = []
    for store in stores:
        try:
            versions.append(store.get_incident(incident_id))
        except IncidentNotFoundError:
            continue
    if not versions:
        raise IncidentNotFoundError(f"no incident {incident_id!r}")
    return versions


def set_state(
    stores: Sequence[SqliteStore],
    incident_id: str,
    state: Literal["acknowledged", "closed"],
    *,
    who: str,
    note: str | None = None,
) -> dict[str, Any]:
    """Acknowledge or close the incident in every store that holds it; its latest version.

    Nothing changes where a store holds it closed (:class:`IncidentStateError`) or none
    holds it (:class:`IncidentNotFoundError`).
    """
    held = {store: store.incident_states([incident_id]).get(incident_id) for store in stores}
    holding = [store for store, held_state in held.items() if held_state is not None]
    if "closed" in held.values():
        raise IncidentStateError(f"incident {incident_id} is closed")
    if not holding:
        raise IncidentNotFoundError(f"no incident {incident_id!r}")
    for store in holding:
        store.set_state(incident_id, state, who=who, note=note)
    return get_incident(stores, incident_id)


def merge_ministry_rows(parts: Iterable[Sequence[MinistryRow]]) -> list[MinistryRow]:
    """Each store's :meth:`respond.sources.SourceStats.ministries` rows as one listing.

    A source counted by several workers adds up (events, rates) with its latest event;
    a ministry's row without a source stays only where no store saw one of its sources.

    >>> from datetime import UTC, datetime
    >>> at = [datetime(2026, 12, 1, h, tzinfo=UTC) for h in (8, 9)]
    >>> one = [MinistryRow("mef", "Finance", "family", "firewall", 10, at[0], 1.5),
    ...        MinistryRow("moh", "Health", "family", None, 0, None, 0.0)]
    >>> two = [MinistryRow("mef", None, "family", "firewall", 5, at[1], 0.5)]
    >>> [(r.ministry, r.name, r.events, r.last_event.hour, r.rate)
    ...  for r in merge_ministry_rows([one, two]) if r.source]
    [('mef', 'Finance', 15, 9, 2.0)]
    >>> [r.ministry for r in merge_ministry_rows([one, two])]
    ['mef', 'moh']
    """
    merged: dict[tuple[str, str | None, str | None], MinistryRow] = {}
    names: dict[str, str] = {}
    for rows in parts:
        for row in rows:
            if row.name:
                names.setdefault(row.ministry, row.name)
            key = (row.ministry, row.kind, row.source)
            held = merged.get(key)
            if held is None:
                merged[key] = row
                continue
            lasts = [t for t in (held.last_event, row.last_event) if t is not None]
            merged[key] = replace(
                held,
                events=held.events + row.events,
                last_event=max(lasts) if lasts else None,
                rate=held.rate + row.rate,
            )
    sourced = {ministry for ministry, _, source in merged if source is not None}
    rows = [
        replace(row, name=row.name or names.get(row.ministry))
        for (ministry, _, source), row in merged.items()
        if source is not None or ministry not in sourced
    ]
    return sorted(rows, key=lambda r: (r.ministry, r.source or ""))


def combined_report_data(parts: Sequence[ReportData]) -> ReportData:
    """The report data each store gave (:func:`respond.report.read_sqlite`), as one.

    Each incident once, in its latest version; each alert once; the sources any store
    finds silent (None where none tracks them).
    """
    if len(parts) == 1:
        return parts[0]
    incidents = (
        pl.concat([part.incidents for part in parts])
        .sort(["alert_count", "last_seen"], descending=True, nulls_last=True)
        .unique("id", keep="first", maintain_order=True)
    )
    alerts = (
        pl.concat([part.alerts for part in parts])
        .unique("id", keep="first", maintain_order=True)
        .sort(["timestamp", "id"], nulls_last=True)
    )
    tracked = [part.silent_sources for part in parts if part.silent_sources is not None]
    silent = None
    if tracked:
        silent = list(
            {(s.ministry, s.kind, s.source): s for group in tracked for s in group}.values()
        )
    return ReportData(
        incidents=incidents,
        alerts=alerts,
        silent_sources=silent,
        source=", ".join(part.source for part in parts),
        truncated=any(part.truncated for part in parts),
    )
