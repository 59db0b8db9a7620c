"""``neakta rules lint``: what compiles but cannot work, by file and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import orjson
import pytest
from sigma.processing.conditions import IncludeFieldCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import DropDetectionItemTransformation

from detect.lint import lint_rule
from detect.loader import load_rules
from neakta.cli import main

WEB_RULE = textwrap.dedent(
    """\
    title: Odd Web Rule
    logsource: {category: webserver}
    detection:
      selection:
        CommandLine|contains: whoami
        c-ip|cidr: 10.0.0.0/8
        cs-uri-query|cidr: 10.0.0.0/8
        sc-status: 'abc'
        cs-uri-query: 5
      condition: selection
    level: low
    """
)
CLEAN_RULE = textwrap.dedent(
    """\
    title: Admin Page
    logsource: {category: webserver}
    detection:
      selection:
        cs-uri-stem|startswith: /admin
        sc-status: 200
      condition: selection
    level: low
    """
)


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    (tmp_path / "odd.yml").write_text(WEB_RULE)
    (tmp_path / "clean.yml").write_text(CLEAN_RULE)
    return tmp_path


def test_lint_reports_by_file_and_line(rules: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "lint", str(rules)]) == 0
    odd = rules / "odd.yml"
    assert capsys.readouterr().out.splitlines() == [
        f"{odd}:5: warning: field CommandLine is produced by no parser of this log source",
        f"{odd}:7: warning: cs-uri-query: cidr 10.0.0.0/8 on url.query, which holds no address:"
        " never matches",
        f"{odd}:8: warning: sc-status: text 'abc' compared with number column"
        " http.response.status_code: never matches",
        f"{odd}:9: warning: cs-uri-query: number 5 compared with text column url.query:"
        " matches only a value that is exactly 5",
        "4 warning(s) in 2 rule(s)",
    ]


def test_strict_fails_on_warnings_only(rules: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "lint", "--strict", str(rules)]) == 1
    assert main(["rules", "lint", "--strict", str(rules / "clean.yml")]) == 0
    assert capsys.readouterr().out.endswith("0 warning(s) in 1 rule(s)\n")


def test_the_bundled_rules_are_clean(capsys: pytest.CaptureFixture[str]) -> None:
    bundled = Path(__file__).resolve().parents[2] / "rules"
    assert main(["rules", "lint", "--strict", str(bundled)]) == 0
    assert capsys.readouterr().out.startswith("0 warning(s)")


def test_a_rejected_rule_is_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rule = tmp_path / "zeek.yml"
    rule.write_text(CLEAN_RULE.replace("{category: webserver}", "{product: zeek, service: dns}"))
    assert main(["rules", "lint", "--strict", str(rule)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{rule}:1: warning: rejected: logsource not routed")


def test_events_give_each_rule_a_noise_estimate(
    rules: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "events.ndjson"
    rows = [
        {"event.dataset": "web.access", "url.path": "/admin/x", "http.response.status_code": 200},
        {"event.dataset": "web.access", "url.path": "/news", "http.response.status_code": 200},
        {"event.dataset": "web.access", "url.path": "/admin", "http.response.status_code": 403},
        {"event.dataset": "web.access", "url.path": "/", "http.response.status_code": 200},
    ]
    events.write_bytes(b"\n".join(orjson.dumps(r) for r in rows) + b"\n")
    clean = rules / "clean.yml"
    argv = ["rules", "lint", str(clean), "--events", str(events)]
    assert main([*argv, "--strict"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{clean}:1: warning: fires on 1 of 4 events (25.00%), above 1.00%",
        "1 warning(s) in 1 rule(s)",
    ]
    assert main([*argv, "--max-share", "0.5"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        f"{clean}:1: note: fires on 1 of 4 events (25.00%)"
    )


def test_a_test_the_pipeline_drops_is_reported(tmp_path: Path) -> None:
    rule = tmp_path / "rule.yml"
    rule.write_text(CLEAN_RULE)
    dropping = ProcessingPipeline(
        items=[
            ProcessingItem(
                DropDetectionItemTransformation(),
                field_name_conditions=[IncludeFieldCondition(fields=["cs-uri-stem"])],
            )
        ]
    )
    (source,) = load_rules([rule]).rules
    assert [str(f) for f in lint_rule(source, dropping, "custom")] == [
        f"{rule}:5: warning: cs-uri-stem: the pipeline custom drops this test"
    ]
