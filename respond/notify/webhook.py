"""Push incidents to a webhook: once when one opens, again when its severity goes up.

The notifier is an :class:`respond.sinks.AlertSink`: given a batch, it announces each
incident whose ``incident.change`` is ``opened`` or ``escalated`` and whose severity is at
least ``min_severity``. Replays announce nothing twice, because the tracker reports no
change for alerts it has already counted.

- **Rate limit**: a token bucket per destination URL (``burst`` messages at once, then
  ``rate_per_minute``). A notification over the limit is held back and counted
  (``stats.held_back``); the next time a token is free, one summary message lists them.
- **Retries**: 429 and 5xx answers, and no answer at all (status 0), are retried up to
  ``retries`` times with exponential back-off; other answers fail at once. A notification
  that failed for good is reported in ``Delivery.dead`` (the URL is shown without its
  path, which for Telegram holds the bot token) and counted in ``stats.failed``; it does
  not hold the pipeline back.
- **Transport**: anything with ``async send(url, json) -> status``; the default posts
  with aiohttp. Time (``clock``) and waiting (``sleep``) are parameters too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

import orjson
import polars as pl

from respond.notify.templates import NotifyKind, render, render_summary
from respond.sinks import DEAD_DOCUMENT_SCHEMA, Delivery, SinkBatch

if TYPE_CHECKING:
    import aiohttp

__all__ = [
    "AiohttpTransport",
    "NotifyStats",
    "TokenBucket",
    "WebhookNotifier",
    "WebhookTransport",
]

_NOTIFY_ON = frozenset({"opened", "escalated"})


class WebhookTransport(Protocol):
    """Posts one JSON body; returns the HTTP status, or 0 when no answer came."""

    async def send(self, url: str, json: Mapping[str, Any]) -> int:
        """POST ``json`` to ``url``."""
        ...


class AiohttpTransport:
    """The default transport: one aiohttp session, opened on first use.

    aiohttp is imported on first use too, so that commands which never notify do not pay
    for it at start-up.
    """

    def __init__(self, *, timeout_s: float = 10.0) -> None:
        self._timeout_s = timeout_s
        self._session: aiohttp.ClientSession | None = None

    async def send(self, url: str, json: Mapping[str, Any]) -> int:
        """POST the body; connection errors and timeouts give status 0."""
        import aiohttp

        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=self._timeout_s)
            self._session = aiohttp.ClientSession(timeout=timeout)
        try:
            async with self._session.post(
                url, data=orjson.dumps(json), headers={"Content-Type": "application/json"}
            ) as response:
                await response.read()
                return response.status
        except (aiohttp.ClientError, TimeoutError):
            return 0

    async def close(self) -> None:
        """Close the session."""
        if self._session is not None:
            await self._session.close()
            self._session = None


@dataclass
class TokenBucket:
    """``capacity`` tokens, refilled at ``rate`` tokens per second.

    Examples
    --------
    >>> bucket = TokenBucket(capacity=2, rate=1.0, tokens=2, updated=0.0)
    >>> [bucket.take(0.0), bucket.take(0.0), bucket.take(0.0), bucket.take(1.0)]
    [True, True, False, True]
    """

    capacity: float
    rate: float
    tokens: float
    updated: float

    def take(self, now: float) -> bool:
        """Take one token if there is one."""
        elapsed = max(now - self.updated, 0.0)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass
class NotifyStats:
    """What the notifier did since it started."""

    sent: int = 0
    failed: int = 0
    held_back: int = 0
    summaries: int = 0
    retries: int = 0


def _public(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass
class WebhookNotifier:
    """Announce incidents at or above a severity to one webhook URL."""

    url: str
    kind: NotifyKind = "json"
    chat_id: str | None = None
    min_severity: int = 73
    rate_per_minute: float = 6.0
    burst: int = 3
    retries: int = 3
    backoff_s: float = 0.5
    transport: WebhookTransport = field(default_factory=AiohttpTransport)
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    stats: NotifyStats = field(default_factory=NotifyStats)
    held: list[dict[str, Any]] = field(default_factory=list)
    _buckets: dict[str, TokenBucket] = field(default_factory=dict)

    async def write(self, batch: SinkBatch) -> Delivery:
        """Announce the batch's new and escalated incidents (alerts are not announced)."""
        return await self.notify(batch.incidents)

    async def notify(self, incidents: pl.DataFrame) -> Delivery:
        """Announce the incidents of an ``INCIDENT_SCHEMA`` frame that call for it."""
        dead: list[tuple[str, str, str, str]] = []
        sent = 0
        if self.held and self._bucket().take(self.clock()):
            await self._send_summary(dead)
        wanted = {"incident.change", "incident.severity"}
        if incidents.height and wanted <= set(incidents.columns):
            chosen = incidents.filter(
                pl.col("incident.change").is_in(list(_NOTIFY_ON))
                & (pl.col("incident.severity") >= self.min_severity)
            )
            for incident in chosen.iter_rows(named=True):
                if not self._bucket().take(self.clock()):
                    self.held.append(incident)
                    self.stats.held_back += 1
                    continue
                body = render(self.kind, incident, chat_id=self.chat_id)
                if await self._post(str(incident["_id"]), body, dead):
                    sent += 1
        frame = pl.DataFrame(dead, schema=DEAD_DOCUMENT_SCHEMA, orient="row")
        return Delivery(written=sent, dead=frame)

    async def flush(self) -> Delivery:
        """Send the summary of held-back notifications if the rate limit allows it now."""
        return await self.notify(pl.DataFrame())

    async def close(self) -> None:
        """Close the transport if it can be closed."""
        closer = getattr(self.transport, "close", None)
        if closer is not None:
            await closer()

    def _bucket(self) -> TokenBucket:
        bucket = self._buckets.get(self.url)
        if bucket is None:
            bucket = TokenBucket(
                capacity=float(self.burst),
                rate=self.rate_per_minute / 60.0,
                tokens=float(self.burst),
                updated=self.clock(),
            )
            self._buckets[self.url] = bucket
        return bucket

    async def _send_summary(self, dead: list[tuple[str, str, str, str]]) -> None:
        held, self.held = self.held, []
        body = render_summary(self.kind, held, chat_id=self.chat_id)
        if await self._post("held-back-summary", body, dead):
            self.stats.summaries += 1

    async def _post(
        self, identifier: str, body: dict[str, Any], dead: list[tuple[str, str, str, str]]
    ) -> bool:
        status = 0
        for attempt in range(self.retries + 1):
            if attempt:
                self.stats.retries += 1
                await self.sleep(self.backoff_s * 2 ** (attempt - 1))
            status = await self.transport.send(self.url, body)
            if 200 <= status < 300:
                self.stats.sent += 1
                return True
            if status not in (0, 429) and status < 500:
                break
        self.stats.failed += 1
        reason = f"webhook answered {status}" if status else "webhook did not answer"
        document = orjson.dumps(body, default=str).decode()
        dead.append((identifier, _public(self.url), reason, document))
        return False
