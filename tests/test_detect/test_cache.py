"""A compiled rule set comes back from the cache only while nothing that shapes it changed."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from detect.cache import compile_rules

RULE = """
title: Whoami
id: 1c9f0f3e-52a3-4c6e-9a55-0f5a1d8b7a10
logsource: {category: process_creation, product: windows}
detection:
  sel:
    CommandLine|contains: '{needle}'
  condition: sel
level: high
"""
EVENTS = pl.DataFrame({"CommandLine": ["whoami /all", "hostname", "net user"]})


def rows(folder: Path, cache: Path) -> list[int]:
    ruleset = compile_rules([folder], pipeline="none", cache_dir=cache)
    return ruleset.evaluate(EVENTS)["row"].to_list()


def test_second_compile_reads_the_cache_and_matches_the_same(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yml").write_text(RULE.replace("{needle}", "whoami"))
    cache = tmp_path / "cache"
    assert rows(tmp_path / "rules", cache) == [0]
    (entry,) = cache.iterdir()
    assert rows(tmp_path / "rules", cache) == [0]
    assert list(cache.iterdir()) == [entry]


def test_an_edited_rule_is_compiled_again(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    rule = tmp_path / "rules" / "r.yml"
    rule.write_text(RULE.replace("{needle}", "whoami"))
    cache = tmp_path / "cache"
    assert rows(tmp_path / "rules", cache) == [0]
    rule.write_text(RULE.replace("{needle}", "net user"))
    assert rows(tmp_path / "rules", cache) == [2]
    assert len(list(cache.iterdir())) == 2


def test_an_unreadable_entry_is_compiled_again_and_replaced(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yml").write_text(RULE.replace("{needle}", "hostname"))
    cache = tmp_path / "cache"
    assert rows(tmp_path / "rules", cache) == [1]
    (entry,) = cache.iterdir()
    entry.write_bytes(b"not a pickle")
    assert rows(tmp_path / "rules", cache) == [1]
    assert entry.read_bytes() != b"not a pickle"


def test_rules_that_did_not_load_are_reported_from_the_cache_too(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "bad.yml").write_text("title: [unclosed\n")
    cache = tmp_path / "cache"
    first = compile_rules([tmp_path / "rules"], pipeline="none", cache_dir=cache)
    second = compile_rules([tmp_path / "rules"], pipeline="none", cache_dir=cache)
    assert [str(p) for p in first.rejected] == [str(p) for p in second.rejected] != []
