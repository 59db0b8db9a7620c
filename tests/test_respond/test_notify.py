"""Webhook notifications against a real local HTTP server: templates, retries, rate limit."""

from __future__ import annotations

import socket
from typing import Any

import polars as pl
import pytest

from respond.incidents import IncidentTracker
from respond.notify import AiohttpTransport, WebhookNotifier
from respond.sinks import SinkBatch
from respond.testing import MemoryTransport
from tests.test_respond.factories import alerts_frame
from tests.test_respond.webhook_server import webhook_receiver


class Clock:
    """Seconds that only move when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Waits:
    """Records back-off waits instead of sleeping."""

    def __init__(self) -> None:
        self.waited: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waited.append(seconds)


def incidents(*hosts: str, severity: int = 73) -> pl.DataFrame:
    alerts = alerts_frame(
        [{"_id": f"a-{h}", "host.name": h, "event.severity": severity} for h in hosts]
    )
    return IncidentTracker().update(alerts)


def notifier(url: str, **options: Any) -> WebhookNotifier:
    options.setdefault("sleep", Waits())
    options.setdefault("clock", Clock())
    return WebhookNotifier(url=url, transport=AiohttpTransport(), **options)


async def test_telegram_send_message_body() -> None:
    async with webhook_receiver("/botTOKEN/sendMessage") as server:
        sink = notifier(server.url, kind="telegram", chat_id="-100123")
        delivery = await sink.write(SinkBatch(incidents=incidents("pc1")))
        await sink.close()
    assert delivery.written == 1
    ((path, body),) = server.received
    assert path == "/botTOKEN/sendMessage"
    assert body == {
        "chat_id": "-100123",
        "text": "[HIGH] Mimikatz on pc1 (mef): opened, 1 alert(s), 2026-03-01 08:00:00Z to "
        "2026-03-01 08:00:00Z; incident " + incidents("pc1")["_id"][0],
        "disable_web_page_preview": True,
    }


async def test_slack_and_generic_json_bodies() -> None:
    async with webhook_receiver() as server:
        slack = notifier(server.url, kind="slack")
        generic = notifier(server.url, kind="json")
        await slack.notify(incidents("pc1"))
        await generic.notify(incidents("pc1"))
        await slack.close()
        await generic.close()
    (_, slack_body), (_, generic_body) = server.received
    assert list(slack_body) == ["text"]
    assert slack_body["text"].startswith("[HIGH] Mimikatz on pc1 (mef): opened")
    assert generic_body["text"] == slack_body["text"]
    assert generic_body["incident"]["incident.alert_count"] == 1
    assert generic_body["incident"]["incident.first_seen"] == "2026-03-01 08:00:00Z"


async def test_only_new_or_escalated_incidents_at_the_threshold_are_sent() -> None:
    tracker = IncidentTracker(escalate_count=2)
    async with webhook_receiver() as server:
        sink = notifier(server.url, kind="slack", min_severity=73)
        low = alerts_frame([{"_id": "a1", "event.severity": 47}])
        await sink.notify(tracker.update(low))  # opened, medium: below the threshold
        await sink.notify(tracker.update(alerts_frame([{"_id": "a2", "event.severity": 47}])))
        await sink.notify(tracker.update(alerts_frame([{"_id": "a3", "event.severity": 47}])))
        await sink.close()
    texts = [body["text"] for _, body in server.received]
    assert len(texts) == 1
    assert texts[0].startswith("[HIGH] Mimikatz on mef-ws-01 (mef): escalated, 2 alert(s)")


async def test_429_and_5xx_are_retried_with_back_off() -> None:
    waits = Waits()
    async with webhook_receiver() as server:
        server.answers = [429, 503]
        sink = notifier(server.url, sleep=waits, backoff_s=0.5)
        delivery = await sink.notify(incidents("pc1"))
        await sink.close()
    assert delivery.written == 1
    assert len(server.received) == 3
    assert waits.waited == [0.5, 1.0]
    assert (sink.stats.sent, sink.stats.retries, sink.stats.failed) == (1, 2, 0)


async def test_a_refused_notification_is_reported_dead_without_the_secret_path() -> None:
    async with webhook_receiver("/botSECRET/sendMessage") as server:
        server.answers = [400]
        sink = notifier(server.url, kind="telegram", chat_id="1")
        delivery = await sink.notify(incidents("pc1"))
        await sink.close()
    assert len(server.received) == 1
    assert delivery.written == 0
    ((_, index, reason, _),) = delivery.dead.rows()
    assert index == server.url.split("/bot")[0]
    assert reason == "webhook answered 400"
    assert sink.stats.failed == 1


async def test_retries_run_out() -> None:
    async with webhook_receiver() as server:
        server.answers = [500, 500, 500]
        sink = notifier(server.url, retries=2)
        delivery = await sink.notify(incidents("pc1"))
        await sink.close()
    assert len(server.received) == 3
    assert delivery.dead["reason"].to_list() == ["webhook answered 500"]


async def test_rate_limit_holds_back_and_summarises_later() -> None:
    clock = Clock()
    async with webhook_receiver() as server:
        sink = notifier(server.url, kind="slack", burst=2, rate_per_minute=1.0, clock=clock)
        frame = incidents("pc1", "pc2", "pc3", "pc4")
        delivery = await sink.notify(frame)
        assert (delivery.written, sink.stats.held_back) == (2, 2)
        assert len(server.received) == 2
        clock.now += 30  # half a token: still nothing
        await sink.flush()
        assert len(server.received) == 2
        clock.now += 30
        await sink.flush()
        await sink.close()
    (_, summary) = server.received[2]
    assert summary["text"].splitlines()[0] == (
        "2 incident notification(s) held back by the rate limit:"
    )
    sent = [body["text"].split(" (mef)")[0] for _, body in server.received[:2]]
    held = [f"[HIGH] {title}" for title in frame["incident.title"].to_list()[2:]]
    assert sent == [f"[HIGH] {title}" for title in frame["incident.title"].to_list()[:2]]
    assert [line.split(";")[0] for line in summary["text"].splitlines()[1:]] == held
    assert (sink.stats.summaries, sink.held) == (1, [])


async def test_no_server_answering_counts_as_retriable_then_dead() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens on this port now
    sink = notifier(f"http://127.0.0.1:{port}/hook", retries=1)
    delivery = await sink.notify(incidents("pc1"))
    await sink.close()
    assert delivery.dead["reason"].to_list() == ["webhook did not answer"]
    assert sink.stats.retries == 1


@pytest.mark.parametrize("change", ["updated"])
async def test_updates_are_not_announced(change: str) -> None:
    frame = incidents("pc1").with_columns(pl.lit(change).alias("incident.change"))
    async with webhook_receiver() as server:
        sink = notifier(server.url)
        delivery = await sink.notify(frame)
        await sink.close()
    assert (delivery.written, server.received) == (0, [])


async def test_an_in_memory_transport_needs_no_server() -> None:
    transport = MemoryTransport(answers=[502])
    sink = WebhookNotifier(url="http://hook.invalid/x", transport=transport, sleep=Waits())
    delivery = await sink.notify(incidents("pc1"))
    assert delivery.written == 1
    assert [url for url, _ in transport.sent] == ["http://hook.invalid/x"] * 2
