"""The sending half of incident routing: alert facts and source marks to the incident topic.

See :mod:`respond.routing` for why and how. :class:`IncidentRoute` is a sink of the
pipeline: the alert stage hands it the facts of a batch's alerts, and it writes them with
the batch's other sinks (packed: a few records per partition of the incident topic, not
one per alert), so before the batch's state is saved and its offsets committed. A
crash in between sends them again: the grouping side keeps each alert id once. After the
commit, :meth:`IncidentRoute.publish` sends the marks of the slots this process holds,
those that changed, to every partition: the state they describe is committed, so a new
owner of a slot restores a state at least as far along.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from detect.correlation import CorrelationSlots
from respond.errors import SinkUnavailableError
from respond.incident import FILE_SLOT
from respond.routing import SourceMark, fact_records, incident_partition, mark_record
from respond.sinks import Delivery, SinkBatch

__all__ = ["IncidentRoute"]

_log = logging.getLogger("neakta.incidents")


@dataclass
class IncidentRoute:
    """Send alert facts to the partition of their incident key, and slot marks to all.

    Parameters
    ----------
    producer
        A started aiokafka producer (``acks=all``).
    topic
        The incident topic.
    partitions
        Its partition count.
    sources
        How many source slots there are (the most partitions of an input topic).
    """

    producer: Any
    topic: str
    partitions: int
    sources: int
    routed: int = 0
    _pending: list[dict[str, Any]] = field(default_factory=list, init=False)
    _sent: dict[int, SourceMark] = field(default_factory=dict, init=False)

    def add(self, facts: Iterable[dict[str, Any]]) -> None:
        """Facts of alerts (:func:`respond.incident.alert_facts`), sent with the next write."""
        self._pending.extend(facts)

    async def write(self, batch: SinkBatch) -> Delivery:
        """Send the facts added since the last write; done when the broker has them all."""
        del batch  # the alerts themselves go to the other sinks
        if not self._pending:
            return Delivery()
        from aiokafka.errors import KafkaError

        # Facts go to the partition of their incident key, packed per partition and slot.
        packs: dict[tuple[int, int], list[dict[str, Any]]] = defaultdict(list)
        for fact in self._pending:
            packs[(incident_partition(fact["key"], self.partitions), fact["slot"])].append(fact)
        try:
            sent = [
                await self.producer.send(self.topic, record, partition=partition)
                for (partition, source), facts in sorted(packs.items())
                for record in fact_records(facts, source)
            ]
            await asyncio.gather(*sent)
        except KafkaError as error:
            raise SinkUnavailableError(f"incident topic {self.topic}: {error}") from error
        self.routed += len(self._pending)
        self._pending.clear()
        return Delivery()

    async def publish(self, slots: CorrelationSlots) -> None:
        """Send each held slot's mark that changed since it was last sent (after a commit)."""
        given = slots.marks()
        idle = slots.idle()
        held = sorted(s for s in slots.slots if s != FILE_SLOT)
        # A topic given more partitions since the start: its new slots report too.
        self.sources = max([self.sources, *(slot + 1 for slot in held)])
        current: dict[int, SourceMark] = {}
        for slot in held:
            final, latest = given.get(slot, (None, None))
            current[slot] = SourceMark(slot, self.sources, final, latest, slot in idle)
        changed = [report for slot, report in current.items() if self._sent.get(slot) != report]
        if not changed:
            return
        from aiokafka.errors import KafkaError

        try:
            sent = [
                await self.producer.send(self.topic, mark_record(report), partition=partition)
                for report in changed
                for partition in range(self.partitions)
            ]
            await asyncio.gather(*sent)
        except KafkaError as error:
            # Marks only let grouping go on: they are sent again after the next batch.
            _log.warning("incident topic %s: marks not sent, retried later: %s", self.topic, error)
            return
        for report in changed:
            self._sent[report.source] = report
        # A slot handed to another process: its marks are the new owner's to send.
        for slot in set(self._sent) - set(current):
            del self._sent[slot]

    async def close(self) -> None:
        """Stop the producer."""
        await self.producer.stop()
