"""``neakta rules backtest``: alerts per rule per day on the archive, against deployed rules."""

from __future__ import annotations

import argparse
import shutil
import textwrap
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from ingest.archive import ParquetArchive
from neakta.cli import main
from neakta.commands.backtest import parse_day
from samples import DATA_DIR

BUNDLED_RULES = Path(__file__).resolve().parents[2] / "rules"

ADMIN = textwrap.dedent(
    """\
    title: Admin Page
    id: 6f1a4c1e-0000-4000-8000-000000000001
    logsource: {category: webserver}
    detection:
      selection:
        cs-uri-stem|startswith: /admin
      condition: selection
    level: low
    """
)
ADMIN_OK = ADMIN.replace("  condition: selection", "    sc-status: 200\n  condition: selection")
PHP = textwrap.dedent(
    """\
    title: PHP Page
    id: 6f1a4c1e-0000-4000-8000-000000000002
    logsource: {category: webserver}
    detection:
      selection:
        cs-uri-stem|endswith: .php
      condition: selection
    level: low
    """
)


ADMIN_BURST = textwrap.dedent(
    """\
    title: Admin Page Burst
    id: 6f1a4c1e-0000-4000-8000-000000000003
    correlation:
      type: event_count
      rules: [admin_page]
      group-by: [c-ip]
      timespan: 1h
      condition: {gte: 2}
    level: medium
    """
)


def _web(rows: list[tuple[int, str, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "@timestamp": [datetime(2026, 11, day, 9, tzinfo=UTC) for day, _, _ in rows],
            "event.id": [f"web-{i}" for i in range(len(rows))],
            "event.dataset": ["web.access"] * len(rows),
            "url.path": [path for _, path, _ in rows],
            "source.ip": ["198.51.100.7"] * len(rows),
            "http.response.status_code": [status for _, _, status in rows],
        },
        schema_overrides={"http.response.status_code": pl.Int32},
    )


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    root = tmp_path / "archive"
    writer = ParquetArchive(root, clock=lambda: datetime(2026, 11, 26, tzinfo=UTC))
    events = _web(
        [
            (24, "/admin/login", 200),
            (24, "/admin/users", 403),
            (24, "/index.php", 200),
            (25, "/admin", 200),
            (25, "/news", 200),
        ]
    )
    writer.write("web", events)
    writer.write("web", events.head(2))  # a batch archived again after a restart
    return root


def _rules(folder: Path, **files: str) -> Path:
    folder.mkdir()
    for name, text in files.items():
        (folder / f"{name}.yml").write_text(text)
    return folder


def test_backtest_compares_with_the_deployed_rules(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new = _rules(tmp_path / "new", admin=ADMIN_OK, php=PHP)
    old = _rules(tmp_path / "old", admin=ADMIN)
    argv = ["rules", "backtest", "--rules", str(new), "--deployed", str(old)]
    assert main([*argv, "--archive", str(archive)]) == 0
    captured = capsys.readouterr()
    admin = f"Admin Page ({new / 'admin.yml'}:1)"
    php = f"PHP Page ({new / 'php.yml'}:1)"
    assert captured.out.splitlines() == [
        "day          alerts  deployed   change  rule",
        f"2026-11-24        1         2       -1  {admin}",
        f"2026-11-24        1         0       +1  {php}",
        f"2026-11-25        1         1        0  {admin}",
        "total: 3 alert(s) from the rules, 3 from the deployed rules (+0),"
        " on 5 event(s) over 2 day(s)",
        "  2 repeated event(s) archived twice, counted once",
    ]
    assert captured.err.startswith("scanned 5 event(s) in ")


def test_since_limits_the_days_read(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new = _rules(tmp_path / "new", php=PHP)
    argv = ["rules", "backtest", "--rules", str(new), "--deployed", str(new)]
    assert main([*argv, "--archive", str(archive), "--since", "2026-11-25"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "day          alerts  deployed   change  rule",
        "total: 0 alert(s) from the rules, 0 from the deployed rules (+0),"
        " on 2 event(s) over 1 day(s)",
    ]


def test_correlation_rules_count_on_the_day_their_window_ends(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    named = ADMIN.replace("title: Admin Page\n", "title: Admin Page\nname: admin_page\n")
    new = _rules(tmp_path / "new", admin=named, burst=ADMIN_BURST)
    old = _rules(tmp_path / "old", admin=named)
    argv = ["rules", "backtest", "--rules", str(new), "--deployed", str(old)]
    assert main([*argv, "--archive", str(archive)]) == 0
    burst = f"Admin Page Burst ({new / 'burst.yml'}:1)"
    admin = f"Admin Page ({new / 'admin.yml'}:1)"
    # The burst rule does not generate its base rule's alerts: those go silent.
    assert capsys.readouterr().out.splitlines() == [
        "day          alerts  deployed   change  rule",
        f"2026-11-24        0         2       -2  {admin}",
        f"2026-11-24        1         0       +1  {burst}",
        f"2026-11-25        0         1       -1  {admin}",
        "total: 1 alert(s) from the rules, 3 from the deployed rules (-2),"
        " on 5 event(s) over 2 day(s)",
        "  2 repeated event(s) archived twice, counted once",
    ]


def test_a_missing_archive_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["rules", "backtest", "--rules", str(tmp_path), "--archive", str(tmp_path / "none")]
    assert main(argv) == 2
    assert capsys.readouterr().err == f"neakta: no archive at {tmp_path / 'none'}\n"


def test_days_are_dates_or_days_ago() -> None:
    assert parse_day("3d", today=date(2026, 11, 26)) == date(2026, 11, 23)
    with pytest.raises(argparse.ArgumentTypeError, match="not a day"):
        parse_day("yesterday")


def test_replay_archives_what_backtest_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = tmp_path / "archive"
    web = DATA_DIR / "sample_web_nginx.log"
    replay = ["replay", str(web), "--archive", str(archive), "--alerts", str(tmp_path / "a")]
    replay += ["--db", str(tmp_path / "db"), "--dead-letters", str(tmp_path / "dead")]
    assert main(replay) == 0
    assert [p.parent.name for p in archive.glob("family=*/day=*/*.parquet")] == ["day=2026-11-20"]
    deployed = tmp_path / "deployed"
    shutil.copytree(BUNDLED_RULES / "web", deployed)
    (deployed / "webserver" / "web_log4shell_jndi_lookup.yml").unlink()
    capsys.readouterr()
    argv = ["rules", "backtest", "--rules", str(BUNDLED_RULES / "web"), "--deployed"]
    assert main([*argv, str(deployed), "--archive", str(archive)]) == 0
    out = capsys.readouterr().out.splitlines()
    rule = BUNDLED_RULES / "web" / "webserver" / "web_log4shell_jndi_lookup.yml"
    assert (
        f"2026-11-20        3         0       +3  Log4Shell JNDI Lookup In A Web Request ({rule}:1)"
        in out
    )
    assert out[-1] == (
        "total: 26 alert(s) from the rules, 23 from the deployed rules (+3),"
        " on 1208 event(s) over 1 day(s)"
    )
