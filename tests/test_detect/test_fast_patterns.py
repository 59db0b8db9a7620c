"""Fast patterns only decide where a rule runs, never what it matches."""

import polars as pl

from detect import CompiledRuleSet

RULE = """
title: Encoded command via cmd
id: 0b6b6a55-5b3c-4a0e-9d7e-2f1c7f0f6a01
logsource: {category: process_creation, product: windows}
detection:
  image:
    Image|endswith: '\\\\cmd.exe'
  flag:
    CommandLine|contains: '-enc'
  condition: image and flag
level: high
"""


def frame(images: list[str], command_lines: list[str]) -> pl.DataFrame:
    return pl.DataFrame({"Image": images, "CommandLine": command_lines})


def test_a_costly_and_is_searched_with_two_slots_and_still_matches_exactly() -> None:
    # cmd.exe and -enc each occur in 2 of 10 rows: neither alone is selective enough.
    images = [r"C:\Windows\cmd.exe", r"C:\Windows\cmd.exe"] + [r"C:\Tools\x.exe"] * 8
    lines = ["cmd /c run -enc AAA", "cmd /c dir", "x -enc BBB"] + ["x"] * 7
    ruleset = CompiledRuleSet.from_yaml(RULE, pipeline="none")
    ruleset.calibrate(frame(images, lines))
    (pattern,) = ruleset.patterns
    assert set(pattern) == {
        frozenset({("CommandLine", "-enc")}),
        frozenset({("Image", "\\cmd.exe")}),
    }
    assert ruleset.evaluate(frame(images, lines))["row"].to_list() == [0]


def test_a_selective_literal_needs_no_second_slot() -> None:
    images = [r"C:\Windows\cmd.exe"] * 500
    lines = ["cmd /c run -enc AAA"] + ["cmd /c dir"] * 499
    ruleset = CompiledRuleSet.from_yaml(RULE, pipeline="none")
    ruleset.calibrate(frame(images, lines))
    assert ruleset.patterns == ((frozenset({("CommandLine", "-enc")}),),)
    assert ruleset.evaluate(frame(images, lines))["row"].to_list() == [0]


def test_repeated_values_are_searched_once_and_every_row_is_still_reported() -> None:
    images = [r"C:\Windows\cmd.exe", r"C:\Tools\x.exe"] * 50
    lines = ["cmd /c run -enc AAA", "x"] * 50
    ruleset = CompiledRuleSet.from_yaml(RULE, pipeline="none")
    matches = ruleset.evaluate(frame(images, lines))
    assert matches["row"].to_list() == list(range(0, 100, 2))
