"""What the settings hand the Kafka consumer."""

from __future__ import annotations

import pytest

from neakta.kafka_wiring import consumer_options
from neakta.settings import load_settings


def test_the_consumer_leaves_crc_checks_off_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEAKTA_KAFKA__CHECK_CRCS", raising=False)
    assert consumer_options(load_settings().kafka)["check_crcs"] is False

    monkeypatch.setenv("NEAKTA_KAFKA__CHECK_CRCS", "true")

    assert consumer_options(load_settings().kafka)["check_crcs"] is True


def test_session_and_heartbeat_come_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEAKTA_KAFKA__SESSION_TIMEOUT_MS", "2000")
    monkeypatch.setenv("NEAKTA_KAFKA__HEARTBEAT_INTERVAL_MS", "200")

    options = consumer_options(load_settings().kafka)

    assert (options["session_timeout_ms"], options["heartbeat_interval_ms"]) == (2000, 200)
