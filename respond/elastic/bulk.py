"""The ``_bulk`` call with layered retries: the whole request, then each item.

What is retried and what is not (the elasticsearch-py bulk helpers' rules, made explicit):

=====================================  ===============================================
answer                                 what happens
=====================================  ===============================================
item 200/201                           written
item 409 on ``create``                 already there (a replay): a duplicate
item 429, 500, 502, 503, 504           retried with backoff, only the failed items
any other item error (400 mapping...)  dead: returned with its reason, never retried
request 429/5xx, connection refused,   the whole request is retried with backoff
timeout
request 401/403                        ``SinkCredentialsError`` at once (not retriable):
                                       the run stops, an operator fixes the credentials
other request 4xx                      ``SinkRejectedError``
retry budget spent                     ``SinkUnavailableError``: offsets must not move
=====================================  ===============================================

Backoff doubles from ``initial_backoff`` up to ``max_backoff``; sleeping goes through an
injectable coroutine so callers decide how time passes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import ApiError, AsyncElasticsearch, TransportError

from respond.elastic.actions import BulkAction
from respond.errors import SinkCredentialsError, SinkRejectedError, SinkUnavailableError
from respond.json_bytes import kept_dumps

__all__ = ["RETRIABLE_STATUSES", "BulkOutcome", "Sleep", "describe_transport_error", "send_bulk"]

RETRIABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
"""Statuses that mean "not now": the cluster is overloaded or briefly unable to answer."""

Sleep = Callable[[float], Awaitable[None]]


@dataclass
class BulkOutcome:
    """What became of the actions of one :func:`send_bulk` call."""

    written: int = 0
    duplicates: int = 0
    dead: list[tuple[BulkAction, str]] = field(default_factory=list)

    def add(self, other: BulkOutcome) -> None:
        """Fold another outcome into this one."""
        self.written += other.written
        self.duplicates += other.duplicates
        self.dead.extend(other.dead)


def _payload(actions: Sequence[BulkAction]) -> bytes:
    """The NDJSON body: the client sends bytes as they are."""
    lines: list[bytes] = []
    for action in actions:
        lines.append(kept_dumps(action.header()))
        lines.append(action.source.encode())
    lines.append(b"")
    return b"\n".join(lines)


def _reason(status: int, result: dict[str, Any]) -> str:
    error = result.get("error")
    if isinstance(error, dict):
        text = f"{status} {error.get('type', 'error')}: {error.get('reason', '')}"
        cause = error.get("caused_by")
        if isinstance(cause, dict):
            text += f" (caused by {cause.get('type')}: {cause.get('reason')})"
        return text
    return f"{status} {error}" if error else str(status)


def describe_transport_error(error: TransportError) -> str:
    """The transport's summary and the message of the error underneath."""
    summary, detail = str(error), str(error.message)
    return summary if detail in summary else f"{summary}: {detail}"


def _backoff(attempt: int, initial: float, maximum: float) -> float:
    return float(min(maximum, initial * 2**attempt))


def _sort_items(
    pending: Sequence[BulkAction], items: Sequence[dict[str, Any]], outcome: BulkOutcome
) -> tuple[list[BulkAction], str]:
    """Count written, duplicate and dead items; return those to retry and the last reason."""
    retry: list[BulkAction] = []
    last_reason = ""
    for action, item in zip(pending, items, strict=True):
        result: dict[str, Any] = next(iter(item.values()))
        status = int(result.get("status", 0))
        if 200 <= status < 300:
            outcome.written += 1
        elif status == 409 and action.op == "create":
            outcome.duplicates += 1
        elif status in RETRIABLE_STATUSES:
            retry.append(action)
            last_reason = _reason(status, result)
        else:
            outcome.dead.append((action, _reason(status, result)))
    return retry, last_reason


async def send_bulk(
    client: AsyncElasticsearch,
    actions: Sequence[BulkAction],
    *,
    max_retries: int = 5,
    initial_backoff: float = 0.5,
    max_backoff: float = 30.0,
    sleep: Sleep = asyncio.sleep,
) -> BulkOutcome:
    """Send ``actions`` in one ``_bulk`` request, retrying what is retriable.

    Parameters
    ----------
    client
        A client built with its own retries off (``max_retries=0``), so that this loop
        alone decides.
    actions
        The documents; keep them to a few thousand per call.
    max_retries
        Further attempts after the first, for the request and for failed items alike.
    initial_backoff, max_backoff
        Seconds before the first retry; doubled each time up to ``max_backoff``.
    sleep
        How to wait (``asyncio.sleep``).

    Raises
    ------
    SinkUnavailableError
        The cluster could not be reached, kept answering 429/5xx past the retry budget, or
        refused the credentials; some actions may have been written (ids make a replay safe).
    SinkRejectedError
        The request as a whole was refused (another 4xx).
    """
    outcome = BulkOutcome()
    pending = list(actions)
    reason = ""
    for attempt in range(max_retries + 1):
        if not pending:
            return outcome
        if attempt:
            await sleep(_backoff(attempt - 1, initial_backoff, max_backoff))
        try:
            # The client types operations as mappings but forwards bytes unchanged.
            payload: Any = _payload(pending)
            response = await client.bulk(operations=payload)
        except ApiError as error:
            status = error.status_code
            if status in RETRIABLE_STATUSES:
                reason = f"bulk request answered {status}: {error.message}"
                continue
            if status in (401, 403):
                raise SinkCredentialsError(
                    f"Elasticsearch refused the credentials ({status}): {error.message}"
                ) from error
            raise SinkRejectedError(f"bulk request refused ({status}): {error}") from error
        except TransportError as error:
            reason = f"Elasticsearch unreachable: {describe_transport_error(error)}"
            continue
        pending, item_reason = _sort_items(pending, response.body["items"], outcome)
        reason = item_reason or reason
    if not pending:
        return outcome
    raise SinkUnavailableError(
        f"{len(pending)} of {len(actions)} documents not written after "
        f"{max_retries + 1} attempts; last: {reason}"
    )
