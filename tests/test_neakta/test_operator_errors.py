"""Operator errors: one clear line on stderr, exit status 2, no traceback, no secret."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from neakta.cli import main
from neakta.settings import DEFAULT_RULES
from tests.elastic_server import ElasticServer

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "data" / "sample_firewall.log"
SECRET = "s3cret-Pa55word"


def replay(tmp_path: Path, *extra: str) -> list[str]:
    return [
        "replay",
        str(SAMPLE),
        "--alerts",
        str(tmp_path / "alerts.ndjson"),
        "--db",
        str(tmp_path / "neakta.db"),
        "--dead-letters",
        str(tmp_path / "dead.ndjson"),
        "--no-status",
        *extra,
    ]


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    """The operator's line: exactly one ``neakta:`` line, and no traceback."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert SECRET not in err
    lines = [line for line in err.splitlines() if line.startswith("neakta: ")]
    assert len(lines) >= 1, err
    return lines[0]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEAKTA_KAFKA__PASSWORD", SECRET)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (("--batch-size", "0"), "--batch-size must be a positive number, not 0"),
        (("--batch-size", "-5"), "--batch-size must be a positive number, not -5"),
        (("--rules", "/nonexistent"), "--rules /nonexistent: no such file or folder"),
        (("--max-record-bytes", "0"), "--max-record-bytes must be a positive number"),
    ],
)
def test_bad_options_stop_the_run_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: tuple[str, ...], expected: str
) -> None:
    assert main(replay(tmp_path, *extra)) == 2
    assert expected in one_line(capsys)


def test_a_rule_folder_without_rules_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "rules"
    empty.mkdir()
    (empty / "notes.txt").write_text("no rule here")
    assert main(replay(tmp_path, "--rules", str(empty))) == 2
    assert f"--rules {empty}: no rule file (.yml, .yaml) in this folder" in one_line(capsys)


def test_a_missing_input_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = replay(tmp_path)
    args[1] = str(tmp_path / "missing.log")
    assert main(args) == 2
    assert f"input {tmp_path / 'missing.log'}: no such file or folder" in one_line(capsys)


@pytest.mark.parametrize("option", ["--alerts", "--db"])
def test_an_unwritable_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    where = blocker / "out"  # below a file: cannot be created
    args = replay(tmp_path)
    args[args.index(option) + 1] = str(where)
    assert main(args) == 2
    assert f"{option} {where}: cannot write" in one_line(capsys)


def test_a_folder_where_a_file_is_expected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = replay(tmp_path)
    args[args.index("--alerts") + 1] = str(tmp_path)
    assert main(args) == 2
    assert f"--alerts {tmp_path}: a folder, not a file" in one_line(capsys)


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("NEAKTA_ENRICH__ASSETS", "/nonexistent/assets.csv", "asset inventory"),
        ("NEAKTA_ENRICH__GEOIP_CITY", "/nonexistent/city.mmdb", "GeoIP city"),
        ("NEAKTA_ENRICH__INDICATORS", '["/nonexistent/iocs.csv"]', "indicators"),
    ],
)
def test_missing_lookup_files(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *,
    variable: str,
    value: str,
    expected: str,
) -> None:
    monkeypatch.setenv(variable, value)
    assert main(replay(tmp_path)) == 2
    line = one_line(capsys)
    assert expected in line
    assert "no such file" in line
    assert variable in line


def test_a_folder_given_as_a_lookup_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEAKTA_ENRICH__ASSETS", str(tmp_path))
    assert main(replay(tmp_path)) == 2
    assert f"asset inventory {tmp_path}: a folder, not a file" in one_line(capsys)


def test_indicators_that_are_not_a_json_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEAKTA_ENRICH__INDICATORS", "/etc/iocs.csv")
    assert main(replay(tmp_path)) == 2
    assert one_line(capsys) == (
        "neakta: setting NEAKTA_ENRICH__INDICATORS: not valid JSON; lists and maps are "
        'written as JSON, e.g. ["a.csv", "b.csv"]'
    )


def test_a_bad_number_in_an_environment_setting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEAKTA_KAFKA__MAX_RECORDS", "lots")
    assert main(replay(tmp_path)) == 2
    assert one_line(capsys).startswith("neakta: setting NEAKTA_KAFKA__MAX_RECORDS: ")


def test_a_malformed_bootstrap_address(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["run", "--bootstrap-servers", "broker-without-port", "--no-status"]
    assert main([*args, "--alerts", str(tmp_path / "a.ndjson")]) == 2
    assert "malformed Kafka bootstrap address 'broker-without-port'" in one_line(capsys)


def test_an_unreachable_broker(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    where = f"127.0.0.1:{free_port()}"
    args = ["run", "--bootstrap-servers", where, "--no-status"]
    args += ["--alerts", str(tmp_path / "a.ndjson"), "--checkpoints", str(tmp_path / "c.db")]
    assert main(args) == 2
    assert f"cannot start on Kafka at {where}" in one_line(capsys)


@pytest.fixture
def secured() -> Iterator[ElasticServer]:
    server = ElasticServer()
    server.state.authorization = "Basic bmVha3RhOnJpZ2h0"  # neakta:right
    server.start()
    yield server
    server.stop()


def test_refused_elasticsearch_credentials_stop_the_run(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    secured: ElasticServer,
) -> None:
    monkeypatch.setenv("NEAKTA_ELASTIC__HOSTS", f'["{secured.url}"]')
    monkeypatch.setenv("NEAKTA_ELASTIC__USERNAME", "neakta")
    monkeypatch.setenv("NEAKTA_ELASTIC__PASSWORD", SECRET)
    assert main(replay(tmp_path, "--rules", str(DEFAULT_RULES))) == 2
    assert "Elasticsearch refused the credentials (401)" in one_line(capsys)
    # One request: refused credentials are not retried.
    assert [path for _, path, _ in secured.state.requests].count("/_bulk") == 1
