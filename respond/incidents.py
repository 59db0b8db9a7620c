"""Alerts grouped into incidents analysts act on, with state carried across batches.

An incident's key is (``organization.id``, group, entity): the group is the alert's
``rule.id``, or with ``group_by="tactic"`` its first ``threat.tactic.id`` (the rule id
when it has none); the entity is the first non-null of ``entity_fields`` (``host.name``,
then ``source.ip``). Alerts are taken in event time (``@timestamp``, else
``event.ingested``) order; an alert joins the key's incident when it falls within
``window`` of the incident's alerts, so the window slides from the incident's last alert.
Otherwise a new incident opens. A closed incident takes no more alerts: the next one for
its key opens a new incident.

Severity is the highest alert severity snapped to the ECS steps 1/21/47/73/99, raised one
step for each of: ``escalate_count`` alerts or more, an asset criticality of ``high`` or
``critical`` (``neakta.asset.criticality``), two tactics or more; critical at most.

The incident id is a hash of the key, the first alert's time and the first alert's id, so a
replay of the same alerts gives the same ids; an alert id an incident has already counted
is not counted again.

Event-time order whatever the arrival order: the alerts of a *watched* slot (a Kafka
partition number, or the files of a replay) are held until the slot's release mark (the
combined event-time watermark of its inputs, given by the caller) passes them, then
grouped in ``(@timestamp, alert id)`` order, so batch sizes, interleaving, restarts and
hand-overs do not change the incidents nor their ids. An alert older than the mark when it
comes is *late*: grouped at once, into an incident of its key still in memory whose window
it falls in, else a new one, and counted in :attr:`IncidentTracker.late`. Incidents whose
last alert is more than ``window + retention`` behind the mark (unwatched slots: the latest
event time seen) are dropped from memory (they stay in the store).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import orjson
import polars as pl

from respond.incident import (
    FILE_SLOT,
    INCIDENT_SCHEMA,
    Incident,
    alert_facts,
    fact_from_state,
    fact_state,
    incident_frame,
    incident_id,
    severity_label,
    stepped_severity,
)

__all__ = [
    "FILE_SLOT",
    "INCIDENT_SCHEMA",
    "NO_CHANGES",
    "Incident",
    "IncidentTracker",
    "TrackerChanges",
    "incident_id",
    "severity_label",
]


def _due(time: datetime, mark: datetime | None, latest: datetime | None) -> bool:
    """A held alert is grouped once the mark passed it, or if it is beyond every input."""
    return (mark is not None and time < mark) or (latest is not None and time > latest)


@dataclass(frozen=True, slots=True)
class TrackerChanges:
    """What a tracker changed since it was last saved (see :meth:`IncidentTracker.changes`).

    Attributes
    ----------
    states
        (incident id, :meth:`Incident.state_json`) of each incident opened or changed,
        oldest first.
    dropped
        Ids of incidents no longer held (evicted or closed).
    whole
        ``states`` is every incident held: what was saved before is to be replaced.
    forgotten
        (incident id, alert id) of the counted alerts an incident no longer remembers
        (:meth:`respond.incident.Incident.remember`): the store keeps them for it.
    """

    states: list[tuple[str, bytes]]
    dropped: list[str]
    whole: bool
    forgotten: list[tuple[str, str]] = field(default_factory=list)


NO_CHANGES = TrackerChanges([], [], whole=False)
"""Changes of no tracker: a batch that carries them makes a store save none of its own."""


@dataclass
class IncidentTracker:
    """Groups alerts into incidents; ``update`` returns the incidents a batch changed.

    Alerts of a *watched* slot (see :meth:`watch`) are held until :meth:`release` passes
    their event time, then grouped in event-time order (``@timestamp``, then alert id):
    how they arrived does not change the incidents. Alerts of other slots are grouped as
    they come, each batch in event-time order. State is kept per slot (the Kafka
    partition number, ``neakta.partition``; :data:`FILE_SLOT` without one), so that a
    slot's incidents and held alerts move with its partitions (:meth:`slot_state`,
    :meth:`load_slot`).

    Parameters
    ----------
    window
        How far apart in event time two alerts of one incident may be.
    group_by
        ``"rule"`` (one incident per rule and entity) or ``"tactic"`` (per ATT&CK tactic).
    entity_fields
        Columns naming the main entity, first non-null wins.
    escalate_count
        Alert count from which severity goes one step up.
    max_alert_ids
        How many alert ids an incident lists (the first ones).
    retention
        How long past its window an incident stays in memory for late and replayed alerts.
    known
        Which of these alert ids a store remembers as counted, and by which incident
        (:meth:`respond.store.SqliteStore.seen_alerts`); None: no store.

    An incident counts each alert id once. It keeps in memory (and in its checkpoints) the
    ids of its alerts up to ``window + retention`` behind its last one; older ones go to
    the store with the next save (:attr:`TrackerChanges.forgotten`). An alert older than
    that behind the latest alert time, as in a replay of logs already seen, is looked up
    there: so a replay into the same store still counts nothing twice. Without a store, a
    copy of an alert that comes that late is counted again.
    """

    window: timedelta = timedelta(hours=1)
    group_by: Literal["rule", "tactic"] = "rule"
    entity_fields: tuple[str, ...] = ("host.name", "source.ip")
    escalate_count: int = 10
    max_alert_ids: int = 100
    retention: timedelta = timedelta(hours=1)
    known: Callable[[Sequence[str]], set[tuple[str, str]]] | None = field(default=None, repr=False)
    watermark: datetime | None = None
    assigned: dict[str, str] = field(default_factory=dict)
    late: int = 0
    ahead: int = 0
    _active: dict[tuple[int, tuple[str, str, str]], list[Incident]] = field(default_factory=dict)
    # Watched slots: the event time up to which their alerts were released (None: none yet),
    # and the alerts they hold, by id.
    _marks: dict[int, datetime | None] = field(default_factory=dict, init=False, repr=False)
    _held: dict[int, dict[str, dict[str, Any]]] = field(
        default_factory=dict, init=False, repr=False
    )
    # Since the last save: incidents changed, ids dropped, or everything (a fresh tracker).
    _changed: dict[str, Incident] = field(default_factory=dict, init=False, repr=False)
    _dropped: set[str] = field(default_factory=set, init=False, repr=False)
    _whole: bool = field(default=True, init=False, repr=False)
    _forgotten: list[tuple[str, str]] = field(default_factory=list, init=False, repr=False)
    # Changes taken (take_changes) and not yet written by the store: their forgotten ids.
    _taken: list[TrackerChanges] = field(default_factory=list, init=False, repr=False)
    # Per slot, a heap of (a time at or before its last alert, order noted, incident),
    # one entry per incident: eviction pops what is behind the horizon instead of looking
    # at every group, puts back an incident whose last alert has moved past it since, and
    # skips one that is gone.
    _by_time: dict[int, list[tuple[datetime, int, Incident]]] = field(
        default_factory=dict, init=False, repr=False
    )
    _noted: Iterator[int] = field(default_factory=itertools.count, init=False, repr=False)

    @property
    def incidents(self) -> list[Incident]:
        """The incidents in memory, oldest first."""
        every = [i for group in self._active.values() for i in group]
        return sorted(every, key=lambda i: (i.first_seen, i.id))

    @property
    def held(self) -> int:
        """Alerts held until the event time passes them."""
        return sum(len(alerts) for alerts in self._held.values())

    def update(self, alerts: pl.DataFrame) -> pl.DataFrame:
        """Add a batch of alerts; return every incident it opened or changed.

        Alerts of a watched slot at or after its release point are held instead; older
        ones are *late*: grouped at once (see :meth:`release`).

        Examples
        --------
        >>> from datetime import UTC, datetime
        >>> t = datetime(2026, 1, 1, tzinfo=UTC)
        >>> alerts = pl.DataFrame({"_id": ["a1", "a2"], "@timestamp": [t, t],
        ...     "rule.id": ["r1", "r1"], "rule.name": ["Mimikatz"] * 2,
        ...     "host.name": ["pc1"] * 2, "event.severity": [73, 73]})
        >>> changed = IncidentTracker().update(alerts)
        >>> changed.select("incident.title", "incident.alert_count", "incident.severity").row(0)
        ('Mimikatz on pc1', 2, 73)
        """
        self.assigned = {}
        if alerts.height == 0:
            return pl.DataFrame(schema=INCIDENT_SCHEMA)
        return self.take(list(self._rows(alerts)))

    def take(self, facts: Iterable[dict[str, Any]]) -> pl.DataFrame:
        """:meth:`update` for alerts already taken apart (:func:`respond.incident.alert_facts`).

        Each fact goes to its ``slot``: held there when the slot is watched, unless it is
        late, or marked ``ahead``: stamped beyond every event time its source accepted when
        it was raised (a clock that ran ahead: no mark would ever pass it), grouped at
        once and counted in :attr:`ahead`.
        """
        self.assigned = {}
        now: list[dict[str, Any]] = []
        for alert in facts:
            slot = alert["slot"]
            if alert.get("ahead"):
                self.ahead += 1
                now.append(alert)
                continue
            if slot in self._marks:
                mark = self._marks[slot]
                if mark is None or alert["time"] >= mark:
                    self._held.setdefault(slot, {}).setdefault(alert["id"], alert)
                    continue
                self.late += 1
            now.append(alert)
        return self._group(sorted(now, key=lambda a: (a["time"], a["id"])))

    def watch(self, slots: Iterable[int]) -> None:
        """Hold the alerts of these slots until :meth:`release` passes their event time."""
        for slot in slots:
            self._marks.setdefault(slot, None)

    def release(
        self,
        marks: Mapping[int, datetime | None],
        latest: Mapping[int, datetime | None] | None = None,
    ) -> pl.DataFrame:
        """Group the held alerts older than each slot's mark; the incidents that changed.

        A slot's mark is the event time before which no alert is still to come, but late
        ones: the combined event-time watermark of its inputs. It only moves forward, and
        each watched slot's alerts are grouped in event-time order behind it. A late alert
        (older than the mark when it comes) is grouped at once: it joins an incident of its
        key still in memory whose window it falls in, else opens one; it never changes an
        incident's id (:attr:`late` counts them).

        ``latest``: per slot, the latest event time its inputs accepted. A held alert
        stamped beyond it came from an event whose clock ran ahead (it moved no
        watermark, so no mark would pass it): it is grouped at once (:attr:`ahead`).

        Examples
        --------
        >>> from datetime import UTC, datetime
        >>> at = [datetime(2026, 1, 1, 8, m, tzinfo=UTC) for m in (5, 1)]
        >>> alerts = pl.DataFrame({"_id": ["b", "a"], "@timestamp": at,
        ...     "rule.id": ["r1", "r1"], "host.name": ["pc1", "pc1"]})
        >>> tracker = IncidentTracker()
        >>> tracker.watch([-1])
        >>> tracker.update(alerts).height, tracker.held
        (0, 2)
        >>> opened = tracker.release({-1: datetime(2026, 1, 1, 8, 3, tzinfo=UTC)})
        >>> opened["incident.alert_ids"].to_list(), tracker.held
        ([['a']], 1)
        >>> tracker.flush()["incident.alert_ids"].to_list()
        [['a', 'b']]
        """
        self.assigned = {}
        ready: list[dict[str, Any]] = []
        for slot, given in marks.items():
            before = self._marks.get(slot)
            mark = before if before is not None and (given is None or given < before) else given
            self._marks[slot] = mark
            held = self._held.get(slot)
            if not held:
                continue
            due = []
            newest = None if latest is None else latest.get(slot)
            for alert in held.values():
                if _due(alert["time"], mark, newest):
                    due.append(alert)
                    self.ahead += newest is not None and alert["time"] > newest
            for alert in due:
                del held[alert["id"]]
            ready.extend(due)
        return self._group(sorted(ready, key=lambda a: (a["time"], a["id"])), evict=marks)

    def flush(self, slots: Iterable[int] | None = None) -> pl.DataFrame:
        """Group every alert held (of ``slots``, default all): the input has ended."""
        self.assigned = {}
        chosen = list(self._held) if slots is None else list(slots)
        ready = [alert for slot in chosen for alert in self._held.pop(slot, {}).values()]
        return self._group(sorted(ready, key=lambda a: (a["time"], a["id"])))

    def slot_state(self, slot: int) -> dict[str, Any]:
        """A slot's incidents, held alerts and release mark, JSON-ready (:meth:`load_slot`)."""
        return self._slot_state(slot, [i.to_state() for i in self._slot_incidents(slot)])

    def slot_state_json(self, slot: int) -> bytes:
        """:meth:`slot_state` as JSON, with each incident's bytes kept while it is unchanged.

        A slot's state is saved with every checkpoint, whole; most of its incidents did not
        change since the last one (:meth:`Incident.state_json`).
        """
        incidents = [orjson.Fragment(i.state_json()) for i in self._slot_incidents(slot)]
        return orjson.dumps(self._slot_state(slot, incidents))

    def _slot_state(self, slot: int, incidents: list[Any]) -> dict[str, Any]:
        mark = self._marks.get(slot)
        held = sorted(self._held.get(slot, {}).values(), key=lambda a: (a["time"], a["id"]))
        return {
            "incidents": incidents,
            "held": [fact_state(alert) for alert in held],
            "mark": None if mark is None else mark.isoformat(),
            "watched": slot in self._marks,
        }

    def _slot_incidents(self, slot: int) -> list[Incident]:
        """The slot's incidents in memory, oldest first (without sorting every slot's)."""
        mine = [i for (where, _), group in self._active.items() if where == slot for i in group]
        return sorted(mine, key=lambda i: (i.first_seen, i.id))

    def load_slot(self, slot: int, state: Mapping[str, Any] | None) -> None:
        """Replace a slot's state by one :meth:`slot_state` gave (None: an empty slot).

        For a partition assigned to this process: its incidents go on with the same ids,
        its held alerts are grouped when the event time passes them.
        """
        self.forget_slot(slot, saved=False)
        if state is None:
            return
        for saved in state["incidents"]:
            incident = Incident.from_state(saved)
            incident.slot = slot
            self._active.setdefault((slot, incident.key), []).append(incident)
            self._note(incident)
            self._changed[incident.id] = incident  # the store saves it with the next batch
            self._dropped.discard(incident.id)
        held = {}
        for saved_alert in state["held"]:
            alert = fact_from_state(saved_alert)
            held[alert["id"]] = {**alert, "slot": slot}
        if held:
            self._held[slot] = held
        if state.get("watched", True):
            mark = state["mark"]
            self._marks[slot] = None if mark is None else datetime.fromisoformat(mark)

    def forget_slot(self, slot: int, *, saved: bool = True) -> None:
        """Drop a slot's incidents and held alerts (its partitions went to another owner).

        ``saved``: the store also forgets its incidents (the new owner saves them).
        """
        for where in [where for where in self._active if where[0] == slot]:
            for incident in self._active.pop(where):
                if saved:
                    self._drop(incident.id)
                else:
                    self._changed.pop(incident.id, None)
        self._held.pop(slot, None)
        self._marks.pop(slot, None)
        self._by_time.pop(slot, None)

    def slots(self) -> set[int]:
        """The slots that hold incidents or alerts, or are watched."""
        return {slot for slot, _ in self._active} | set(self._held) | set(self._marks)

    def _group(
        self, alerts: list[dict[str, Any]], evict: Mapping[int, datetime | None] | None = None
    ) -> pl.DataFrame:
        """Place alerts (in the order given) into incidents; the incidents they changed."""
        before: dict[str, int | None] = {}
        touched: dict[str, Incident] = {}
        forgotten = self._forgotten_among(alerts)
        for alert in alerts:
            incident = self._place(alert)
            self.assigned[alert["id"]] = incident.id
            if incident.id not in before:
                before[incident.id] = None if incident.alert_count == 0 else incident.severity
            if (incident.id, alert["id"]) in forgotten:
                continue  # counted long ago: the incident forgot it, the store did not
            if self._add(incident, alert):
                touched[incident.id] = incident
        for incident in touched.values():
            self._changed[incident.id] = incident
            self._dropped.discard(incident.id)
        self._evict(evict)
        rows = []
        for incident in sorted(touched.values(), key=lambda i: (i.first_seen, i.id)):
            previous = before[incident.id]
            change = (
                "opened"
                if previous is None
                else ("escalated" if incident.severity > previous else "updated")
            )
            rows.append(incident.to_row(change))
        return incident_frame(rows)

    def track(self, alerts: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        """:meth:`update`, and the alerts with the id of their incident.

        Returns
        -------
        tuple of polars.DataFrame
            The alerts with a ``neakta.incident.id`` column (a replayed alert gets the same
            incident as the first time), and the incidents the batch opened or changed.

        Examples
        --------
        >>> alerts = pl.DataFrame({"_id": ["a1"], "rule.id": ["r1"], "host.name": ["pc1"]})
        >>> linked, changed = IncidentTracker().track(alerts)
        >>> linked["neakta.incident.id"].to_list() == changed["incident.id"].to_list()
        True
        """
        changed = self.update(alerts)
        ids = [self.assigned.get(a) for a in alerts["_id"].cast(pl.String).to_list()]
        linked = alerts.with_columns(pl.Series("neakta.incident.id", ids, dtype=pl.String))
        return linked, changed

    def set_state(self, states: Mapping[str, str]) -> None:
        """Take analysts' decisions (``acknowledged``, ``closed``) made elsewhere."""
        for where, group in list(self._active.items()):
            for incident in list(group):
                state = states.get(incident.id)
                if state == "closed":
                    group.remove(incident)
                    self._drop(incident.id)
                elif state is not None:
                    incident.state = state
                    self._changed[incident.id] = incident
            if not group:
                del self._active[where]

    def snapshot(self) -> list[dict[str, Any]]:
        """The tracker's incidents as JSON-ready dicts, for :meth:`restore`."""
        return [incident.to_state() for incident in self.incidents]

    def changes(self) -> TrackerChanges:
        """What changed since :meth:`saved`; a store writes these instead of a snapshot.

        A batch changes the incidents its alerts touch, so saving the changes costs in
        proportion to the batch, not to every incident held. A fresh or restored tracker
        gives its whole snapshot once. Each incident's JSON is kept for its next save
        (:meth:`Incident.state_json`): call this from the thread that adds the alerts.

        Examples
        --------
        >>> alerts = pl.DataFrame({"_id": ["a1"], "rule.id": ["r1"], "host.name": ["pc1"]})
        >>> tracker = IncidentTracker()
        >>> _ = tracker.update(alerts)
        >>> tracker.changes().whole
        True
        >>> tracker.saved()
        >>> later = pl.DataFrame({"_id": ["a2"], "rule.id": ["r1"], "host.name": ["pc2"]})
        >>> _ = tracker.update(later)
        >>> [orjson.loads(state)["key"][2] for _, state in tracker.changes().states]
        ['pc2']
        """
        forgotten = list(self._forgotten)
        if self._whole:
            every = [(i.id, i.state_json()) for i in self.incidents]
            return TrackerChanges(every, [], whole=True, forgotten=forgotten)
        ordered = sorted(self._changed.values(), key=lambda i: (i.first_seen, i.id))
        return TrackerChanges(
            [(i.id, i.state_json()) for i in ordered], sorted(self._dropped), False, forgotten
        )

    def saved(self) -> None:
        """The last :meth:`changes` are saved: start counting anew."""
        self._changed.clear()
        self._dropped.clear()
        self._forgotten.clear()
        self._whole = False

    def take_changes(self) -> TrackerChanges:
        """:meth:`changes`, counting anew at once: for a store that writes them later.

        The pipeline takes a batch's changes as soon as the batch is detected, so that the
        next batch may be detected while the store writes them. Until the store says so
        (:meth:`written`), the alert ids they say were forgotten are still looked up here.

        >>> alerts = pl.DataFrame({"_id": ["a1"], "rule.id": ["r1"], "host.name": ["pc1"]})
        >>> tracker = IncidentTracker()
        >>> _ = tracker.update(alerts)
        >>> taken = tracker.take_changes()
        >>> len(taken.states), tracker.changes().states
        (1, [])
        >>> tracker.written(taken)
        """
        changes = self.changes()
        self.saved()
        if changes.forgotten:
            self._taken.append(changes)
        return changes

    def written(self, changes: TrackerChanges) -> None:
        """The store wrote ``changes`` (from :meth:`take_changes`)."""
        self._taken = [taken for taken in self._taken if taken is not changes]

    def _drop(self, incident_id: str) -> None:
        self._changed.pop(incident_id, None)
        self._dropped.add(incident_id)

    def restore(self, states: Iterable[Mapping[str, Any]]) -> None:
        """Resume the incidents of a :meth:`snapshot` (replacing those in memory)."""
        self._whole = True
        self._active.clear()
        self._by_time.clear()
        for state in states:
            incident = Incident.from_state(state)
            self._active.setdefault((incident.slot, incident.key), []).append(incident)
            self._note(incident)
            if self.watermark is None or incident.last_seen > self.watermark:
                self.watermark = incident.last_seen

    def merge(self, states: Iterable[Mapping[str, Any]]) -> int:
        """Add the incidents of a :meth:`snapshot` not held yet (by id); how many were added.

        For incidents handed over with a partition: the new owner goes on with them, and
        the incident ids stay what they were.
        """
        held = {incident.id for incident in self.incidents}
        added = 0
        for state in states:
            incident = Incident.from_state(state)
            if incident.id in held:
                continue
            held.add(incident.id)
            self._active.setdefault((incident.slot, incident.key), []).append(incident)
            self._note(incident)
            self._changed[incident.id] = incident  # the store saves it with the next batch
            self._dropped.discard(incident.id)
            if self.watermark is None or incident.last_seen > self.watermark:
                self.watermark = incident.last_seen
            added += 1
        return added

    def _rows(self, alerts: pl.DataFrame) -> Iterable[dict[str, Any]]:
        return alert_facts(alerts, group_by=self.group_by, entity_fields=self.entity_fields)

    def _place(self, alert: Mapping[str, Any]) -> Incident:
        time: datetime = alert["time"]
        where = (alert["slot"], alert["key"])
        group = self._active.get(where)
        if group is None:
            group = self._active[where] = []
        window = self.window
        for incident in group:
            if incident.first_seen - window <= time <= incident.last_seen + window:
                return incident
        incident = Incident(
            id=incident_id(alert["key"], time, alert["id"]),
            key=alert["key"],
            title=alert["title"],
            group_by=self.group_by,
            first_seen=time,
            last_seen=time,
            slot=alert["slot"],
        )
        group.append(incident)
        self._note(incident)
        return incident

    def _note(self, incident: Incident) -> None:
        """Enter ``incident``'s last alert time in its slot's heap.

        Every incident enters through here once; its last alert only moves later, so the
        entry stays at or before it.
        """
        heap = self._by_time.setdefault(incident.slot, [])
        heapq.heappush(heap, (incident.last_seen, next(self._noted), incident))

    def _forgotten_among(self, alerts: list[dict[str, Any]]) -> set[tuple[str, str]]:
        """(incident id, alert id) of the alerts here that an incident counted and forgot.

        Only an alert ``window + retention`` behind the latest alert time can be one: an
        incident forgets an id once its own last alert is that far past it.
        """
        if self.watermark is None:
            return set()
        horizon = self.watermark - (self.window + self.retention)
        old = [alert["id"] for alert in alerts if alert["time"] < horizon]
        if not old:
            return set()
        wanted = set(old)
        # Not saved yet: still to be taken, or taken and not yet written.
        pending = [*self._forgotten, *(p for taken in list(self._taken) for p in taken.forgotten)]
        found = {pair for pair in pending if pair[1] in wanted}
        if self.known is not None:
            found |= self.known(old)
        return found

    def _add(self, incident: Incident, alert: Mapping[str, Any]) -> bool:
        alert_id: str = alert["id"]
        if alert_id in incident.seen:
            return False
        time: datetime = alert["time"]
        incident.alert_count += 1
        if len(incident.alert_ids) < self.max_alert_ids:
            incident.alert_ids.append(alert_id)
        incident.first_seen = min(incident.first_seen, time)
        incident.last_seen = max(incident.last_seen, time)
        forgotten = incident.remember(alert_id, time, self.window + self.retention)
        if forgotten and self.known is not None:  # else no store takes them: forgotten for good
            self._forgotten.extend((incident.id, old) for old in forgotten)
        if alert["rule"] not in incident.rules:
            incident.rules.append(alert["rule"])
        tactics = incident.tactics
        for tactic in alert["tactics"]:
            if tactic not in tactics:
                tactics.append(tactic)
        incident.alert_severity = max(incident.alert_severity, alert["severity"])
        if alert["criticality"] is not None:
            incident.raise_criticality(alert["criticality"])
        incident.severity = stepped_severity(incident, self.escalate_count)
        if self.watermark is None or time > self.watermark:
            self.watermark = time
        return True

    def _evict(self, marks: Mapping[int, datetime | None] | None = None) -> None:
        """Forget incidents far behind: a watched slot's mark, else the latest alert time.

        Behind a watched slot's mark no alert but a late one can come, so an incident whose
        last alert is ``window + retention`` behind it is complete; it stays in the store.
        """
        for slot, horizon in self._horizons(marks).items():
            heap = self._by_time[slot]
            while heap and heap[0][0] < horizon:
                _, _, incident = heapq.heappop(heap)
                where = (slot, incident.key)
                group = self._active.get(where, [])
                if not any(held is incident for held in group):
                    continue  # closed, or handed over and back as another object
                if incident.last_seen >= horizon:  # its last alert moved on since
                    heapq.heappush(heap, (incident.last_seen, next(self._noted), incident))
                    continue
                group[:] = [held for held in group if held is not incident]
                if not group:
                    del self._active[where]
                self._drop(incident.id)
            if not heap:
                del self._by_time[slot]

    def _horizons(self, marks: Mapping[int, datetime | None] | None) -> dict[int, datetime]:
        """The slots holding an incident maybe behind their horizon, with that horizon."""
        due: dict[int, datetime] = {}
        for slot, heap in self._by_time.items():
            if not heap:
                continue
            oldest = heap[0][0]  # at or before every incident's last alert in the slot
            if slot in self._marks:
                if marks is None or slot not in marks:
                    continue
                mark = self._marks[slot]
            else:
                mark = self.watermark
            if mark is None:
                continue
            horizon = mark - self.window - self.retention
            if oldest < horizon:
                due[slot] = horizon
        return due
