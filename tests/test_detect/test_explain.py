"""Explaining a rule on one event agrees with the engine on whether it matches."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from detect import CompiledRuleSet, load_rules
from detect.explain import explain
from ingest.parsers import parse_endpoint, parse_web
from samples import DATA_DIR

RULES = Path(__file__).resolve().parents[2] / "rules"


def _agree(events: pl.DataFrame) -> None:
    loaded = load_rules([RULES])
    ruleset = CompiledRuleSet.compile(loaded.rules, pipeline="ecs")
    matches = ruleset.evaluate(events)
    matched = {(r, i) for r, i in matches.select("row", "rule_index").iter_rows()}
    hit_rows = sorted({row for row, _ in matched})
    rows = hit_rows + [r for r in range(0, events.height, 97) if r not in hit_rows]
    by_path = {(s.path, s.line): s for s in loaded.rules}
    checked = 0
    for row in rows:
        event = {k: v for k, v in events.row(row, named=True).items() if v is not None}
        for rule in ruleset.rules:
            explained = explain(by_path[rule.path, rule.line], event, pipeline="ecs")
            assert explained.matched == ((row, rule.index) in matched), (row, rule.path)
            assert bool(explained.fired) == explained.matched
            checked += 1
    assert hit_rows and checked > len(hit_rows)


def test_explain_agrees_with_the_engine_on_endpoint_samples() -> None:
    lines = pl.Series((DATA_DIR / "sample_endpoint.ndjson").read_text().splitlines())
    _agree(parse_endpoint(lines).events.head(600))


def test_explain_agrees_with_the_engine_on_web_samples() -> None:
    lines = pl.Series((DATA_DIR / "sample_web_nginx.log").read_text().splitlines())
    _agree(parse_web(lines, year=2026).events.head(600))


def test_a_keyword_rule_names_its_fast_pattern_on_any_field(tmp_path: Path) -> None:
    path = tmp_path / "kw.yml"
    path.write_text(
        "title: Mimikatz anywhere\n"
        "id: 6f1d2c3b-4a5e-4f60-8b7c-9d0e1f2a3b4c\n"
        "logsource: {category: process_creation, product: windows}\n"
        "detection:\n  keywords: ['sekurlsa']\n  condition: keywords\n"
    )
    (source,) = load_rules([path]).rules
    explained = explain(source, {"CommandLine": "x sekurlsa::y"}, pipeline="none")
    assert explained.matched
    assert "fast pattern: one of <any field> ~ 'sekurlsa'" in explained.lines
