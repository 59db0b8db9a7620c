"""The sending half of incident routing: alert facts and source marks to the incident topic.

See :mod:`respond.routing` for why and how. :class:`IncidentRoute` is a sink of the
pipeline: the alert stage puts the facts of a batch's alerts on the batch
(:attr:`respond.sinks.SinkBatch.facts`), and the route writes them with the batch's other
sinks (packed: a few records per partition of the incident topic, not
one per alert), so before the batch's state is saved and its offsets committed. A
crash in between sends them again: the grouping side keeps each alert id once. After the
commit, :meth:`IncidentRoute.publish` sends the marks of the slots this process holds,
those that changed, to every partition: the state they describe is committed, so a new
owner of a slot restores a state at least as far along. The marks are those the slots
held when the batch was detected (:meth:`IncidentRoute.marks`, taken then), so a batch
detected meanwhile does not move them ahead of its own facts.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
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
    _sent: dict[int, SourceMark] = field(default_factory=dict, init=False)

    async def write(self, batch: SinkBatch) -> Delivery:
        """Send the batch's facts; done when the broker has them all.

        The alerts themselves go to the other sinks.
        """
        if not batch.facts:
            return Delivery()
        from aiokafka.errors import KafkaError

        # Facts go to the partition of their incident key, packed per partition and slot.
        packs: dict[tuple[int, int], list[dict[str, Any]]] = defaultdict(list)
        for fact in batch.facts:
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
        self.routed += len(batch.facts)
        return Delivery()

    def marks(self, slots: CorrelationSlots) -> dict[int, SourceMark]:
        """The mark of each slot held, as the slots are now (taken when a batch is detected)."""
        given = slots.marks()
        idle = slots.idle()
        held = sorted(s for s in slots.slots if s != FILE_SLOT)
        # A topic given more partitions since the start: its new slots report too.
        self.sources = max([self.sources, *(slot + 1 for slot in held)])
        current: dict[int, SourceMark] = {}
        for slot in held:
            final, latest = given.get(slot, (None, None))
            current[slot] = SourceMark(slot, self.sources, final, latest, slot in idle)
        return current

    async def publish(self, current: dict[int, SourceMark]) -> None:
        """Send each mark of :meth:`marks` that changed since it was last sent (after a commit)."""
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
