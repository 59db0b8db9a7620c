"""The command line contract rule authors and other tools rely on."""

from __future__ import annotations

import gzip
import subprocess
import sys
import textwrap
from pathlib import Path

import orjson
import pytest

from neakta.cli import main
from tests.rules_text import WHOAMI_FROM_WEB_SERVER

GOOD = WHOAMI_FROM_WEB_SERVER
BROKEN = textwrap.dedent(
    """
    title: Broken condition
    id: 4c0b9a1e-2d4f-4e6a-9b8c-7d6e5f4a3b2c
    logsource: {category: process_creation, product: windows}
    detection:
      selection:
        Image|endswith: 'x.exe'
      condition: selection and missing_selection
    level: low
    """
)
EVENTS = [
    {"EventID": 1, "Image": r"C:\Windows\System32\whoami.exe", "ParentImage": r"C:\a\w3wp.exe"},
    {"EventID": 1, "Image": r"C:\Windows\System32\whoami.exe", "ParentImage": r"C:\a\cmd.exe"},
    {"EventID": 13, "Image": r"C:\Windows\System32\whoami.exe", "ParentImage": r"C:\w3wp.exe"},
]


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "good.yml").write_text(GOOD)
    return folder


@pytest.fixture
def events_file(tmp_path: Path) -> Path:
    path = tmp_path / "events.ndjson"
    lines = [orjson.dumps(e) for e in EVENTS]
    lines.insert(1, b"{not json")
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_rules_check_passes_good_rules(rules_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check", str(rules_dir)]) == 0
    assert "1 of 1 rules compiled" in capsys.readouterr().out


def test_rules_check_reports_path_line_and_reason(
    rules_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = rules_dir / "broken.yml"
    broken.write_text(BROKEN)
    assert main(["rules", "check", str(rules_dir)]) == 1
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith(str(broken)))
    assert line.startswith(f"{broken}:2: SigmaConditionError")
    assert "missing_selection" in line
    assert "1 of 2 rules compiled" in out
    assert "1  SigmaConditionError" in out


def test_detect_writes_one_json_object_per_match(
    rules_dir: Path, events_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["detect", "--rules", str(rules_dir), "--events", str(events_file)]) == 0
    captured = capsys.readouterr()
    matches = [orjson.loads(line) for line in captured.out.splitlines()]
    assert matches == [
        {
            "rule_id": "3c0b9a1e-2d4f-4e6a-9b8c-7d6e5f4a3b2c",
            "rule_title": "Whoami From A Web Server",
            "level": "high",
            "line": 0,
        }
    ]
    assert f"{events_file}:2: skipped: invalid JSON" in captured.err


def test_detect_exits_zero_without_matches(
    rules_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    quiet = tmp_path / "quiet.ndjson"
    quiet.write_bytes(orjson.dumps({"EventID": 1, "Image": "notepad.exe"}) + b"\n")
    assert main(["detect", "--rules", str(rules_dir), "--events", str(quiet)]) == 0
    assert capsys.readouterr().out == ""


def test_detect_on_a_truncated_gzip_file_says_so_in_one_line(
    rules_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    whole = gzip.compress(b"\n".join(orjson.dumps(e) for e in EVENTS * 2_000))
    cut = tmp_path / "cut.ndjson.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    assert main(["detect", "--rules", str(rules_dir), "--events", str(cut)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"neakta: cannot read events from {cut}: Compressed file ended")
    assert "Traceback" not in err


def test_rules_test_is_human_readable(
    rules_dir: Path, events_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["rules", "test", str(rules_dir / "good.yml"), "--events", str(events_file)]) == 0
    out = capsys.readouterr().out
    assert "line 0: Whoami From A Web Server [high]" in out
    assert "1 match(es) in 3 event(s)" in out


def test_sigma_cli_lists_and_uses_the_polars_target(tmp_path: Path) -> None:
    rule = tmp_path / "rule.yml"
    rule.write_text(GOOD)
    sigma = Path(sys.executable).parent / "sigma"
    targets = subprocess.run([sigma, "list", "targets"], capture_output=True, text=True, check=True)
    assert "polars" in targets.stdout
    converted = subprocess.run(
        [sigma, "convert", "-t", "polars", "-p", "neakta_none", str(rule)],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert 'col("Image")' in converted.stdout
    assert "w3wp.exe" in converted.stdout


def test_an_input_too_short_to_pay_for_calibrating_runs_with_static_patterns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from neakta import cli

    events = tmp_path / "events.ndjson"
    events.write_text('{"CommandLine": "whoami"}\n' * 10)  # 260 bytes
    assert cli._expected_events(events, 10) == 10
    monkeypatch.setattr(cli, "CHUNK_BYTES", 26)  # as if the file were ten chunks
    assert cli._expected_events(events, 1) == 10
    assert cli._expected_events(tmp_path / "events.ndjson.gz", 10) == float("inf")
    assert cli._expected_events(tmp_path / "missing.ndjson", 10) == float("inf")
