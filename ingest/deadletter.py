"""Dead letters: records that could not become events, kept with their bytes and the reason.

Every dead letter carries the record's original bytes (``raw``), where it came from
(``source``: the topic or file; ``origin``: ``topic/partition/offset`` or ``path:line``)
and why it was set aside (``reason``). Nothing is dropped silently.

Two destinations ship here, behind the one-method :class:`DeadLetterSink` protocol:

* :class:`NdjsonDeadLetters` appends one JSON object per dead letter to a file (the raw
  bytes as text when they are UTF-8, else base64 under ``raw_base64``);
* :class:`KafkaDeadLetters` produces each one to ``<source topic>.dlq`` with the original
  bytes as the value and the reason and position as headers.

A pipeline writes a batch's dead letters before it commits the batch's offsets.
"""

from __future__ import annotations

import base64
import logging
from pathlib import Path
from typing import Any, ClassVar, Final, Literal, Protocol

import orjson
import polars as pl

from ingest.errors import IngestError

__all__ = [
    "DEAD_RECORD_SCHEMA",
    "DLQ_SUFFIX",
    "DeadLetterSink",
    "DeadLetterUnavailableError",
    "KafkaDeadLetters",
    "NdjsonDeadLetters",
    "dead_letter_documents",
    "start_producer",
]

_log = logging.getLogger("neakta.deadletter")

DEAD_RECORD_SCHEMA: Final[dict[str, pl.DataType]] = {
    "source": pl.String(),
    "origin": pl.String(),
    "reason": pl.String(),
    "raw": pl.Binary(),
}
"""One dead letter: the topic or file, the exact position, the reason, the original bytes."""

DLQ_SUFFIX: Final = ".dlq"


class DeadLetterUnavailableError(IngestError):
    """The dead-letter destination cannot take letters now; offer them again later."""

    retriable: ClassVar[bool] = True


class DeadLetterSink(Protocol):
    """Where dead letters go; ``write`` returns once they are durably handed over."""

    async def write(self, dead: pl.DataFrame) -> None:
        """Write dead letters (:data:`DEAD_RECORD_SCHEMA`)."""
        ...

    async def close(self) -> None:
        """Flush and release the destination."""
        ...


def dead_letter_documents(dead: pl.DataFrame) -> list[dict[str, Any]]:
    """Dead letters as JSON-ready objects (raw bytes as text, or base64 when not UTF-8).

    Examples
    --------
    >>> frame = pl.DataFrame({"source": ["a.log", "a.log"], "origin": ["a.log:1", "a.log:2"],
    ...     "reason": ["r", "r"], "raw": [b"text", b"\\xff"]})
    >>> dead_letter_documents(frame)[1]
    {'source': 'a.log', 'origin': 'a.log:2', 'reason': 'r', 'raw_base64': '/w=='}
    """
    documents: list[dict[str, Any]] = []
    for source, origin, reason, raw in dead.select(list(DEAD_RECORD_SCHEMA)).iter_rows():
        document: dict[str, Any] = {"source": source, "origin": origin, "reason": reason}
        value = raw or b""
        try:
            document["raw"] = value.decode("utf-8")
        except UnicodeDecodeError:
            document["raw_base64"] = base64.b64encode(value).decode("ascii")
        documents.append(document)
    return documents


class NdjsonDeadLetters:
    """Appends dead letters to an NDJSON file, flushed before ``write`` returns."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._file: Any = None

    async def write(self, dead: pl.DataFrame) -> None:
        """Append the dead letters to the file and flush it."""
        if dead.height == 0:
            return
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("ab")
        self._file.write(b"".join(orjson.dumps(d) + b"\n" for d in dead_letter_documents(dead)))
        self._file.flush()

    async def close(self) -> None:
        """Close the file."""
        if self._file is not None:
            self._file.close()
            self._file = None


class KafkaDeadLetters:
    """Produces dead letters to ``<topic>.dlq`` (files' dead letters to ``fallback_topic``).

    Parameters
    ----------
    producer
        A started ``aiokafka.AIOKafkaProducer`` (``enable_idempotence=True`` in
        production); this object stops it on :meth:`close`.
    fallback_topic
        Topic for dead letters whose source is not a topic.
    """

    def __init__(self, producer: Any, *, fallback_topic: str = "neakta.dlq") -> None:
        self._producer = producer
        self.fallback_topic = fallback_topic

    async def write(self, dead: pl.DataFrame) -> None:
        """Send the dead letters and wait until the broker acknowledged them."""
        if dead.height == 0:
            return
        sends = []
        for source, origin, reason, raw in dead.select(list(DEAD_RECORD_SCHEMA)).iter_rows():
            kafka = _is_topic_origin(source, origin)
            topic = f"{source}{DLQ_SUFFIX}" if kafka else self.fallback_topic
            headers = [
                ("reason", str(reason).encode()),
                ("position", str(origin).encode()),
            ]
            sends.append(await self._producer.send(topic, raw, headers=headers))
        for sent in sends:
            await sent

    async def close(self) -> None:
        """Flush and stop the producer."""
        await self._producer.stop()


def _is_topic_origin(source: str | None, origin: str | None) -> bool:
    """Whether ``origin`` is ``<source>/<partition>/<offset>`` (a Kafka position)."""
    if not source or not origin or not origin.startswith(source + "/"):
        return False
    parts = origin[len(source) + 1 :].split("/")
    return len(parts) == 2 and all(part.isdigit() for part in parts)


async def start_producer(
    *, bootstrap_servers: str, idempotence: bool | Literal["auto"] = "auto", **options: Any
) -> tuple[Any, bool]:
    """Start the dead-letter producer; returns it and whether it is idempotent.

    ``"auto"`` asks for an idempotent producer (``acks=all``, no duplicates on retries)
    and, where the broker cannot give one (Tansu answers ``InitProducerId`` with an
    unknown error, older brokers with an unsupported version), falls back to a plain
    producer with ``acks=all``, saying so in one log line. A dead letter written twice
    is harmless; one lost is not.
    """
    from aiokafka import AIOKafkaProducer
    from aiokafka.errors import KafkaConnectionError, KafkaError

    if idempotence is not False:
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers, enable_idempotence=True, **options
        )
        try:
            await producer.start()
            return producer, True
        except KafkaConnectionError:
            await producer.stop()
            raise
        except KafkaError as error:
            await producer.stop()
            if idempotence is True:
                raise
            _log.info(
                "the broker gives no idempotent producer (%s): dead letters use acks=all",
                type(error).__name__,
            )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all", **options)
    await producer.start()
    return producer, False
