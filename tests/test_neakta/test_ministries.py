"""``neakta ministries add|list``: the onboarding kit, and what each ministry sends."""

from __future__ import annotations

import io
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from neakta.cli import build_parser
from neakta.onboarding import ForwarderValues, render_forwarder
from neakta.settings import Settings
from respond.silence import ACTIVITY_SCHEMA
from respond.sources import RATE_WINDOW_S, SourceStats
from tests.rsyslog import OMKAFKA, rsyslogd

PASSWORD = "pw-mef-0123456789"


def cli(*argv: str) -> tuple[int, str]:
    settings = Settings()
    args = build_parser(settings).parse_args(argv)
    out = io.StringIO()
    code: int = args.handler(args, settings, out)
    return code, out.getvalue()


def test_add_prints_topics_user_commands_and_forwarders_and_writes_them(tmp_path: Path) -> None:
    kit, db = tmp_path / "kit", tmp_path / "neakta.db"

    code, out = cli(
        "ministries", "add", "mef", "--name", "Ministry of Economy and Finance",
        "--brokers", "kafka.soc.gov.kh:9093", "--password", PASSWORD,
        "--db", str(db), "--write", str(kit),
    )  # fmt: skip

    assert code == 0
    assert out.startswith("Ministry mef (Ministry of Economy and Finance)\n")
    for topic in ("logs.firewall.mef", "logs.endpoint.mef", "logs.web.mef"):
        assert f"  {topic}\n" in out
    assert f"Kafka user: neakta-mef\nPassword:   {PASSWORD}\n" in out
    assert "--entity-name neakta-mef --add-config 'SCRAM-SHA-512=[password=" in out
    assert "--allow-principal User:neakta-mef --operation Write" in out
    # The printed and written configurations are the shipped templates, filled in.
    values = ForwarderValues("mef", PASSWORD, brokers="kafka.soc.gov.kh:9093")
    for name, file in [("rsyslog", "60-neakta.conf"), ("winlogbeat", "winlogbeat.yml")]:
        rendered = render_forwarder(name, values)
        assert (kit / file).read_text() == rendered
        assert rendered.rstrip() in out
    assert (kit / "vector.toml").read_text() == render_forwarder("vector", values)
    assert (kit / "kafka-commands.sh").read_text().count("kafka-topics.sh") == 3


def test_the_generated_rsyslog_snippet_passes_rsyslogd_check(tmp_path: Path) -> None:
    binary = rsyslogd()
    if binary is None or not OMKAFKA.is_file():
        pytest.skip("rsyslogd with omkafka is not installed (apt-get install rsyslog-kafka)")
    code, _ = cli(
        "ministries", "add", "moh", "--password", PASSWORD,
        "--db", str(tmp_path / "n.db"), "--write", str(tmp_path),
    )  # fmt: skip
    assert code == 0
    # Only the spool folder differs from the printed file: it must exist to be checked.
    config = tmp_path / "60-neakta.conf"
    config.write_text(
        config.read_text().replace(
            'workDirectory="/var/spool/rsyslog"', f'workDirectory="{tmp_path}"'
        )
    )

    result = subprocess.run(
        [binary, "-N1", "-f", str(config)], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stderr


def test_a_ministry_id_that_cannot_name_topics_is_refused_plainly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = cli("ministries", "add", "M.E.F", "--db", str(tmp_path / "n.db"))

    assert code == 2
    assert out == ""
    assert "ministry id 'M.E.F' must be" in capsys.readouterr().err
    assert not (tmp_path / "n.db").exists()


def activity(org: str, family: str, events: int, last: datetime) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "organization.id": [org],
            "kind": ["family"],
            "name": [family],
            "first": [last],
            "last": [last],
            "events": [events],
        },
        schema=ACTIVITY_SCHEMA,
    )


def test_list_shows_each_ministrys_families_last_event_and_rate(tmp_path: Path) -> None:
    db = tmp_path / "neakta.db"
    now = datetime.now(UTC)
    event_time = datetime(2026, 11, 20, 8, 0, 5, tzinfo=UTC)
    stats = SourceStats(db)
    stats.add_ministry("mef", "Ministry of Economy and Finance", now=now)
    stats.add_ministry("moh", "Ministry of Health", now=now)
    stats.record(activity("mef", "firewall", 600, event_time), now=now)
    stats.record(activity("mef", "web", 60, event_time - timedelta(hours=1)), now=now)
    stats.record(activity("mptc", "web", 6, event_time), now=now)
    stats.close()

    code, out = cli("ministries", "list", "--db", str(db))

    assert code == 0
    rows = [line.split("  ") for line in out.splitlines()]
    cells = [[cell.strip() for cell in row if cell.strip()] for row in rows]
    assert cells[0] == ["ministry", "name", "family", "events", "last event", "events/s"]
    assert cells[1][:5] == ["mef", "Ministry of Economy and Finance", "firewall", "600",
                            "2026-11-20T08:00:05Z"]  # fmt: skip
    assert cells[2][:5] == ["mef", "Ministry of Economy and Finance", "web", "60",
                            "2026-11-20T07:00:05Z"]  # fmt: skip
    assert cells[3] == ["moh", "Ministry of Health", "-", "0", "never", "0.0"]
    assert cells[4][:4] == ["mptc", "web", "6", "2026-11-20T08:00:05Z"]
    # 600 events just now: 600 / 60 s window = 10/s, minus the little decay since.
    assert 9.0 < float(cells[1][5]) <= 10.0


def test_rates_decay_while_a_source_sends_nothing(tmp_path: Path) -> None:
    stats = SourceStats(tmp_path / "n.db")
    start = datetime(2026, 11, 20, 8, tzinfo=UTC)
    stats.record(activity("mef", "web", 120, start), now=start)
    stats.record(activity("mef", "web", 120, start), now=start)

    (now,) = stats.ministries(now=start)
    (later,) = stats.ministries(now=start + timedelta(seconds=RATE_WINDOW_S))

    assert now.events == 240
    assert now.rate == pytest.approx(4.0)
    assert later.rate == pytest.approx(4.0 / 2.718281828, rel=1e-6)
    stats.close()
