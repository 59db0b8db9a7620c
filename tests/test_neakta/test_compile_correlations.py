"""Correlation rules are found among rule files, and files without any are not parsed twice."""

from __future__ import annotations

from pathlib import Path

import pytest

import detect.loader
from neakta.rulesets import compile_correlations, compile_rulesets
from neakta.settings import DEFAULT_RULES

PLAIN = """
title: Whoami
id: 2f0c6d7e-8a9b-4c1d-9e2f-3a4b5c6d7e8f
name: whoami
logsource: {category: process_creation, product: windows}
detection:
  sel:
    process.command_line|contains: whoami
  condition: sel
level: low
"""
CORRELATION = """
title: Many whoami
id: 3a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d
correlation:
  type: event_count
  rules: [whoami]
  group-by: [host.name]
  timespan: 5m
  condition: {gte: 3}
level: high
"""


def test_files_without_correlation_rules_give_an_empty_set(tmp_path: Path) -> None:
    (tmp_path / "plain.yml").write_text(PLAIN)
    base = compile_rulesets([tmp_path], families=("endpoint",))["endpoint"]
    assert compile_correlations([tmp_path], base).rules == ()


def test_a_correlation_rule_is_compiled(tmp_path: Path) -> None:
    (tmp_path / "plain.yml").write_text(PLAIN)
    (tmp_path / "many.yml").write_text(CORRELATION)
    base = compile_rulesets([tmp_path], families=("endpoint",))["endpoint"]
    assert [r.title for r in compile_correlations([tmp_path], base).rules] == ["Many whoami"]


def test_the_bundled_correlation_rules_are_found() -> None:
    base = compile_rulesets([DEFAULT_RULES], families=("firewall",))["firewall"]
    assert compile_correlations([DEFAULT_RULES], base).rules


def test_a_cached_start_parses_no_rule_and_an_edit_compiles_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules, cache = tmp_path / "rules", tmp_path / "cache"
    rules.mkdir()
    (rules / "plain.yml").write_text(PLAIN)
    (rules / "many.yml").write_text(CORRELATION)
    base = compile_rulesets([rules], families=("endpoint",), cache_dir=cache)["endpoint"]
    first = compile_correlations([rules], base, cache_dir=cache)
    with monkeypatch.context() as patched:
        patched.setattr(detect.loader, "load_rules", _must_not_parse)
        again = compile_correlations([rules], base, cache_dir=cache)
    assert [r.title for r in again.rules] == [r.title for r in first.rules] == ["Many whoami"]
    assert again.rules == first.rules

    (rules / "many.yml").write_text(CORRELATION.replace("gte: 3", "gte: 5"))
    edited = compile_correlations([rules], base, cache_dir=cache)
    assert [r.condition.count for r in edited.rules] == [5]


def _must_not_parse(*_: object) -> None:
    raise AssertionError("the rules were parsed although the cache holds them")
