"""What a running pipeline tells its operator: counters, a live status line, logs.

The status line goes to stderr at most once per ``interval`` seconds, rewritten in place
on a terminal and one line at a time otherwise (only when asked for). The summary is
printed once at the end. Logs are stdlib :mod:`logging` records, formatted as
``key=value`` pairs or one JSON object per line.

A ``neakta run --processes`` worker sends its totals to the supervisor instead
(:class:`StatusReport`, one JSON line per report on a pipe): the supervisor shows one
status line and one summary for all of them (:func:`combined`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, TextIO

import orjson

__all__ = [
    "STATUS_FD_ENV",
    "BatchResult",
    "RunStats",
    "Status",
    "StatusLine",
    "StatusReport",
    "combined",
    "configure_logging",
    "format_status",
    "format_summary",
    "from_snapshot",
    "reason_key",
    "report_conflicts",
    "snapshot",
    "stop_when_idle",
]

STATUS_FD_ENV: Final = "NEAKTA_RUN__STATUS_FD"
"""The variable that gives a worker the pipe its totals go to (set by the supervisor)."""


def reason_key(reason: str) -> str:
    """A dead-letter reason without its per-record detail, for counting.

    Examples
    --------
    >>> reason_key("record larger than 100 bytes (2048 bytes)")
    'record larger than 100 bytes'
    >>> reason_key("invalid JSON: unexpected character: line 1 column 2 (char 1)")
    'invalid JSON'
    """
    return reason.split(" (", maxsplit=1)[0].split(": ", maxsplit=1)[0]


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What one batch did."""

    records: int = 0
    events: int = 0
    matches: int = 0
    alerts: int = 0
    written: int = 0
    duplicates: int = 0
    dead: Mapping[str, int] = field(default_factory=dict)
    families: Mapping[str, int] = field(default_factory=dict)
    sources: Mapping[str, int] = field(default_factory=dict)
    conflicts: Mapping[str, int] = field(default_factory=dict)


@dataclass
class RunStats:
    """Totals of a run so far."""

    batches: int = 0
    records: int = 0
    events: int = 0
    matches: int = 0
    alerts: int = 0
    written: int = 0
    duplicates: int = 0
    dead: Counter[str] = field(default_factory=Counter)
    families: Counter[str] = field(default_factory=Counter)
    sources: Counter[str] = field(default_factory=Counter)
    """Events per ``ministry/family``."""
    conflicts: Counter[str] = field(default_factory=Counter)
    """Events per ministry whose header or forwarder entry named another ministry."""
    started: float = field(default_factory=time.monotonic)

    def add(self, result: BatchResult) -> None:
        """Count one batch in (an empty one, a poll that brought nothing, is no batch)."""
        self.batches += 1 if result.records else 0
        self.records += result.records
        self.events += result.events
        self.matches += result.matches
        self.alerts += result.alerts
        self.written += result.written
        self.duplicates += result.duplicates
        self.dead.update(result.dead)
        self.families.update(result.families)
        self.sources.update(result.sources)
        self.conflicts.update(result.conflicts)

    @property
    def dead_total(self) -> int:
        """Dead letters over all reasons."""
        return sum(self.dead.values())


_COUNTS: Final = ("batches", "records", "events", "matches", "alerts", "written", "duplicates")
_COUNTERS: Final = ("dead", "families", "sources", "conflicts")


def combined(parts: Iterable[RunStats], started: float) -> RunStats:
    """The totals of several runs (a supervisor's workers), timed from ``started``.

    >>> one = RunStats(records=3, dead=Counter({"invalid JSON": 1}))
    >>> two = RunStats(records=4, dead=Counter({"invalid JSON": 2}))
    >>> total = combined([one, two], started=0.0)
    >>> total.records, total.dead
    (7, Counter({'invalid JSON': 3}))
    """
    total = RunStats(started=started)
    for part in parts:
        for name in _COUNTS:
            setattr(total, name, getattr(total, name) + getattr(part, name))
        for name in _COUNTERS:
            getattr(total, name).update(getattr(part, name))
    return total


def snapshot(stats: RunStats, lag: Mapping[str, int]) -> bytes:
    """``stats`` and ``lag`` as one JSON line (:func:`from_snapshot` reads it back).

    >>> stats, lag = from_snapshot(snapshot(RunStats(records=2), {"logs.web/0": 5}))
    >>> stats.records, lag
    (2, {'logs.web/0': 5})
    """
    document: dict[str, Any] = {name: getattr(stats, name) for name in _COUNTS}
    document.update({name: dict(getattr(stats, name)) for name in _COUNTERS})
    document["lag"] = dict(lag)
    return orjson.dumps(document) + b"\n"


def from_snapshot(line: bytes) -> tuple[RunStats, dict[str, int]]:
    """The totals and lag of a :func:`snapshot` line; ValueError where it is not one."""
    try:
        document = orjson.loads(line)
        stats = RunStats()
        for name in _COUNTS:
            setattr(stats, name, int(document[name]))
        for name in _COUNTERS:
            getattr(stats, name).update({str(k): int(v) for k, v in dict(document[name]).items()})
        lag = {str(key): int(value) for key, value in dict(document["lag"]).items()}
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as error:
        raise ValueError(f"not a status snapshot: {error}") from error
    return stats, lag


def format_status(stats: RunStats, lag: Mapping[str, int], elapsed: float) -> str:
    """One status line.

    Examples
    --------
    >>> stats = RunStats(records=5000, events=4990, matches=3, dead=Counter({"empty line": 10}))
    >>> format_status(stats, {"logs.web/0": 12}, 2.0)
    'records 5,000 (2,500/s)  events 4,990  matches 3  dead 10 (empty line 10)  lag logs.web/0=12'
    >>> stats = RunStats(sources=Counter({"mef/firewall": 900, "moh/web": 4}),
    ...                  conflicts=Counter({"mef": 2}))
    >>> format_status(stats, {}, 2.0).split("  ")[-2:]
    ['sources mef/firewall=450/s moh/web=2/s', 'conflicts mef=2']
    """
    rate = stats.records / elapsed if elapsed > 0 else 0.0
    line = (
        f"records {stats.records:,} ({rate:,.0f}/s)  events {stats.events:,}  "
        f"matches {stats.matches:,}  dead {stats.dead_total:,}"
    )
    if stats.dead:
        line += " (" + ", ".join(f"{r} {n:,}" for r, n in stats.dead.most_common()) + ")"
    if stats.sources:
        busiest = stats.sources.most_common(_SHOWN_SOURCES)
        rates = " ".join(
            f"{name}={n / elapsed if elapsed > 0 else 0:,.0f}/s" for name, n in busiest
        )
        more = len(stats.sources) - len(busiest)
        line += "  sources " + rates + (f" (+{more})" if more > 0 else "")
    if stats.conflicts:
        line += "  conflicts " + " ".join(f"{m}={n:,}" for m, n in sorted(stats.conflicts.items()))
    if lag:
        line += "  lag " + " ".join(f"{tp}={n:,}" for tp, n in sorted(lag.items()))
    return line


def format_summary(stats: RunStats, elapsed: float) -> str:
    """The closing summary, several lines.

    Examples
    --------
    >>> stats = RunStats(batches=1, records=3, events=2, matches=1, alerts=1, written=1,
    ...     dead=Counter({"unrecognized web format": 1}), families=Counter({"web": 2}))
    >>> print(format_summary(stats, 0.5))
    neakta: 3 records in 1 batches, 0.50 s (6/s)
    events: 2 (web 2)
    matches: 1; alerts: 1 (1 written, 0 already held)
    dead letters: 1 (unrecognized web format 1)
    """
    rate = stats.records / elapsed if elapsed > 0 else 0.0
    families = ", ".join(f"{name} {n:,}" for name, n in sorted(stats.families.items()))
    reasons = ", ".join(f"{reason} {n:,}" for reason, n in stats.dead.most_common())
    return "\n".join(
        [
            f"neakta: {stats.records:,} records in {stats.batches:,} batches, "
            f"{elapsed:.2f} s ({rate:,.0f}/s)",
            f"events: {stats.events:,}" + (f" ({families})" if families else ""),
            f"matches: {stats.matches:,}; alerts: {stats.alerts:,} "
            f"({stats.written:,} written, {stats.duplicates:,} already held)",
            f"dead letters: {stats.dead_total:,}" + (f" ({reasons})" if reasons else ""),
            *_source_lines(stats),
        ]
    )


def report_conflicts(conflicts: Any, log: logging.Logger) -> dict[str, int]:
    """Log one warning per identity conflict row; the events per ministry.

    ``conflicts`` is a :data:`ingest.identity.CONFLICT_SCHEMA` frame.
    """
    per_ministry: Counter[str] = Counter()
    for ministry, claimed, via, events in conflicts.iter_rows():
        log.warning(
            "%d event(s) on ministry %s's topic claimed ministry %s by %s; kept %s",
            events, ministry, claimed, via, ministry,
            extra={"ministry": ministry, "claimed": claimed, "via": via, "events": events},
        )  # fmt: skip
        per_ministry[ministry] += events
    return dict(per_ministry)


_SHOWN_SOURCES = 5
"""Sources named in the status line, the busiest first."""


def _source_lines(stats: RunStats) -> list[str]:
    """The summary's per-source counts and identity conflicts, when there are any."""
    lines = []
    if stats.sources:
        counted = ", ".join(f"{name} {n:,}" for name, n in sorted(stats.sources.items()))
        lines.append(f"sources: {counted}")
    if stats.conflicts:
        counted = ", ".join(f"{m} {n:,}" for m, n in sorted(stats.conflicts.items()))
        lines.append(f"identity conflicts (kept the topic's ministry): {counted}")
    return lines


class Status(Protocol):
    """Where a running pipeline shows its totals (after each batch, and once at the end)."""

    def update(self, stats: RunStats, lag: Mapping[str, int]) -> None:
        """The totals so far, and each partition's lag."""

    def finish(self) -> None:
        """The run ended (the last :meth:`update` came before)."""


class StatusLine:
    """Writes :func:`format_status` at most once per ``interval`` seconds, when enabled."""

    def __init__(
        self,
        stream: TextIO,
        *,
        enabled: bool | None = None,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.enabled = self.tty if enabled is None else enabled
        self.interval = interval
        self.clock = clock
        self._last: float | None = None
        self._open = False

    def update(self, stats: RunStats, lag: Mapping[str, int]) -> None:
        """Show the current totals if enabled and the last line is old enough."""
        now = self.clock()
        if not self.enabled or (self._last is not None and now - self._last < self.interval):
            return
        self._last = now
        line = format_status(stats, lag, now - stats.started)
        if self.tty:
            self.stream.write("\r\x1b[K" + line)
            self._open = True
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def finish(self) -> None:
        """End an in-place line so the summary starts on its own line."""
        if self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False


class StatusReport:
    """A worker's totals to its supervisor: a :func:`snapshot` per ``interval``, and at the end.

    ``fd`` is the write end of a pipe, made non-blocking: a report the pipe has no room for
    is sent in pieces as room comes, the next reports skipped meanwhile (each holds the
    totals so far). Once the supervisor is gone, reports stop.
    """

    def __init__(
        self, fd: int, *, interval: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.fd = fd
        self.interval = interval
        self.clock = clock
        self._last: float | None = None
        self._latest: tuple[RunStats, Mapping[str, int]] | None = None
        self._unsent = b""
        self._stale = False  # the report under way is older than the latest totals
        self._closed = False
        os.set_blocking(fd, False)

    def update(self, stats: RunStats, lag: Mapping[str, int]) -> None:
        """Send the totals if the last report is old enough."""
        self._latest = (stats, lag)
        self._stale = bool(self._unsent)
        now = self.clock()
        if self._last is not None and now - self._last < self.interval:
            return
        self._last = now
        self._send()

    def finish(self) -> None:
        """Send the last totals, waiting for the pipe where it must, and close it."""
        if self._closed:
            return
        os.set_blocking(self.fd, True)
        self._send()
        if self._stale:  # that was the rest of an older report
            self._send()
        if not self._closed:
            self._closed = True
            os.close(self.fd)

    def _send(self) -> None:
        if self._closed:
            return
        if not self._unsent and self._latest is not None:
            self._unsent = snapshot(*self._latest)
            self._stale = False
        try:
            while self._unsent:
                sent = os.write(self.fd, self._unsent)
                self._unsent = self._unsent[sent:]
        except BlockingIOError:
            return
        except OSError:  # the supervisor is gone
            self._closed = True
            os.close(self.fd)


_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + "Z",
        "level": record.levelname.lower(),
        "logger": record.name,
        "msg": record.getMessage(),
    }
    fields.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
    if record.exc_info:
        fields["error"] = logging.Formatter().formatException(record.exc_info)
    return fields


class _Worker(logging.Filter):
    """Adds ``worker`` to every record."""

    def __init__(self, number: int) -> None:
        super().__init__()
        self.number = number

    def filter(self, record: logging.LogRecord) -> bool:
        record.worker = self.number
        return True


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return orjson.dumps(_fields(record), default=str).decode()


class _KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        parts = []
        for key, value in _fields(record).items():
            text = str(value)
            if not text or any(c in text for c in ' ="\n'):
                text = orjson.dumps(text).decode()
            parts.append(f"{key}={text}")
        return " ".join(parts)


def configure_logging(
    stream: TextIO, *, fmt: str = "kv", level: str = "INFO", worker: int | None = None
) -> None:
    """Send the ``neakta`` loggers to ``stream`` as key=value (``kv``) or ``json`` lines.

    ``worker``: the number of a ``neakta run --processes`` worker, added to every line.
    """
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_JsonFormatter() if fmt == "json" else _KeyValueFormatter())
    if worker is not None:
        handler.addFilter(_Worker(worker))
    logger = logging.getLogger("neakta")
    logger.handlers[:] = [handler]
    logger.setLevel(level.upper())
    logger.propagate = False


_run_log = logging.getLogger("neakta.run")


async def stop_when_idle(
    stop: asyncio.Event, last_batch: Callable[[], float], source: object, idle: float
) -> None:
    """Set ``stop`` once no batch came for ``idle`` seconds while there was input to read.

    ``last_batch`` gives the :func:`time.monotonic` of the last batch; a ``source`` whose
    ``assigned`` is false (a consumer still joining its group) has nothing to wait for yet.
    """
    waiting_since = time.monotonic()
    while not stop.is_set():
        await asyncio.sleep(min(idle / 4, 0.25))
        if not getattr(source, "assigned", True):
            waiting_since = time.monotonic()
            continue
        if time.monotonic() - max(last_batch(), waiting_since) >= idle:
            _run_log.info("no batch for %.1f s: stopping", idle)
            stop.set()
