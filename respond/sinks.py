"""Where alerts and incidents go: one protocol, several destinations.

A pipeline hands every sink one :class:`SinkBatch` per input batch and moves the source's
offsets only after every sink returned a :class:`Delivery`. A sink that cannot write now
raises :class:`respond.errors.SinkUnavailableError` (retriable); the pipeline then offers
the same batch again, so a sink must accept a batch it has already (partly) written
without duplicating anything: every document carries a deterministic ``_id``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol

import polars as pl

if TYPE_CHECKING:
    from respond.incidents import TrackerChanges

__all__ = ["DEAD_DOCUMENT_SCHEMA", "AlertSink", "Delivery", "SinkBatch"]

DEAD_DOCUMENT_SCHEMA: Final[dict[str, pl.DataType]] = {
    "_id": pl.String(),
    "index": pl.String(),
    "reason": pl.String(),
    "document": pl.String(),
}
"""Documents a sink refused for good: their id, target, why, and the JSON that was sent."""


def _no_dead() -> pl.DataFrame:
    return pl.DataFrame(schema=DEAD_DOCUMENT_SCHEMA)


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema={"_id": pl.String()})


@dataclass(frozen=True, slots=True)
class SinkBatch:
    """What one input batch produced for the SOC.

    Attributes
    ----------
    alerts
        One row per alert: a ``_id`` column (deterministic, from rule id and event id)
        and flat, dotted ECS columns (``event.kind``, ``rule.id``, ``host.name``...).
    incidents
        One row per incident this batch opened or changed, in its current state: a ``_id``
        column (the incident id) and flat, dotted columns (``incident.*`` and the keys).
    tracker
        The incident tracker's changes as this batch left them, taken when it was detected
        (:meth:`respond.incidents.IncidentTracker.take_changes`): the store saves these.
        None: the store asks its tracker for what changed when it writes the batch.
    facts
        Where incidents are routed by key (:mod:`respond.routing`): the facts of this
        batch's alerts, which the route sends to the owner of each incident key.
    """

    alerts: pl.DataFrame = field(default_factory=_empty)
    incidents: pl.DataFrame = field(default_factory=_empty)
    tracker: TrackerChanges | None = None
    facts: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class Delivery:
    """A sink's acknowledgement of one batch.

    Attributes
    ----------
    written
        Documents the destination now holds that it did not hold before.
    duplicates
        Documents it already held (a replay of the same events): not written twice.
    dead
        Documents refused for good, with the reason (``DEAD_DOCUMENT_SCHEMA``).
    """

    written: int = 0
    duplicates: int = 0
    dead: pl.DataFrame = field(default_factory=_no_dead)


class AlertSink(Protocol):
    """A destination for alerts and incidents."""

    async def write(self, batch: SinkBatch) -> Delivery:
        """Write one batch; raise ``SinkUnavailableError`` if it cannot be written now."""
        ...

    async def close(self) -> None:
        """Flush and release what the sink holds."""
        ...
