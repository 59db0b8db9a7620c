"""Shared parts, cheap parts first, shared candidates: less work, the same matches."""

import polars as pl

from detect import CompiledRuleSet
from detect.candidates import CandidateIndex
from detect.ir import And, NumEq, StrKind, StrMatch
from detect.plans import SHARED_MIN_RULES, shared_conjuncts

TOOL_RULE = """
title: Tool {n}
id: 00000000-0000-4000-8000-{n:012d}
logsource: {{category: process_creation, product: windows}}
detection:
  selection:
    EventID: 1
    Image|endswith: '\\\\tool{n}.exe'
  condition: selection
level: low
"""


def test_a_conjunct_shared_by_many_rules_is_computed_once_and_matches_alike() -> None:
    count = SHARED_MIN_RULES
    texts = [TOOL_RULE.format(n=n) for n in range(count)]
    events = pl.DataFrame(
        {
            "EventID": [1, 2, None, 1, 1],
            "Image": [r"C:\tool3.exe", r"C:\tool3.exe", r"C:\tool3.exe", r"C:\TOOL7.EXE", None],
        }
    )
    fast = CompiledRuleSet.from_yaml(*texts, pipeline="none")
    naive = CompiledRuleSet.from_yaml(*texts, pipeline="none", strategy="naive")
    expected = [(0, "Tool 3"), (3, "Tool 7")]
    assert fast.evaluate(events).select("row", "rule_title").rows() == expected
    long = fast.with_thresholds(together_rows=0)  # one query per group of rules
    assert long.evaluate(events).select("row", "rule_title").rows() == expected
    assert naive.evaluate(events).select("row", "rule_title").rows() == expected


def test_only_conjuncts_of_enough_rules_are_shared() -> None:
    event = NumEq("EventID", 1)
    rules = [And((event, StrMatch("Image", StrKind.SUFFIX, f"\\t{n}.exe"))) for n in range(3)]
    assert list(shared_conjuncts(rules, at_least=3)) == [event]
    assert shared_conjuncts(rules, at_least=4) == {}


CMD_REGEX = r"""
title: Cmd with a long caret chain
id: 3c1d8a51-7e0b-4d6a-9c3f-5a1b2c3d4e5f
logsource: {category: process_creation, product: windows}
detection:
  image:
    Image|endswith: '\cmd.exe'
  parent:
    ParentImage|endswith: '\explorer.exe'
  carets:
    CommandLine|re: '\^.*\^.*\^'
  tools:
    CommandLine|contains:
      - 'whoami'
      - 'net user'
      - 'nltest'
      - 'klist'
      - 'quser'
  condition: image and parent and carets and not tools
level: medium
"""


def test_costly_parts_run_only_where_the_cheap_parts_passed_with_the_same_result() -> None:
    cmd, explorer = r"C:\Windows\System32\cmd.exe", r"C:\Windows\explorer.exe"
    events = pl.DataFrame(
        {
            "Image": [cmd, cmd, cmd, cmd, r"C:\x.exe", cmd],
            "ParentImage": [explorer, r"C:\svc.exe", explorer, explorer, explorer, None],
            "CommandLine": [
                "c^a^l^c",
                "c^a^l^c",
                "w^h^o^a^m^i whoami",
                "calc",
                "c^a^l^c",
                "c^a^l^c",
            ],
        }
    )
    fast = CompiledRuleSet.from_yaml(CMD_REGEX, pipeline="none")
    naive = CompiledRuleSet.from_yaml(CMD_REGEX, pipeline="none", strategy="naive")
    assert fast.evaluate(events)["row"].to_list() == [0]
    assert fast.with_thresholds(together_rows=0).evaluate(events)["row"].to_list() == [0]
    assert naive.evaluate(events)["row"].to_list() == [0]


SUFFIXES = r"""
title: Office parent
id: 8f2e4d6c-1a3b-4c5d-8e7f-9a0b1c2d3e4f
logsource: {category: process_creation, product: windows}
detection:
  office:
    ParentImage|endswith:
      - '\winword.exe'
      - '\excel.exe'
      - '\powerpnt.exe'
  shell:
    Image|startswith:
      - 'C:\Windows\System32\'
      - 'C:\Windows\SysWOW64\'
  condition: office and shell
level: high
"""


def test_alternative_prefixes_and_suffixes_match_like_separate_tests() -> None:
    events = pl.DataFrame(
        {
            "ParentImage": [
                r"C:\Office\WINWORD.EXE",
                r"C:\Office\excel.exe.bak",
                r"C:\Office\excel.exe",
                r"C:\Office\powerpnt.exe",
                None,
                r"C:\Office\winword.exe",
            ],
            "Image": [
                r"C:\Windows\System32\cmd.exe",
                r"C:\Windows\System32\cmd.exe",
                r"D:\C:\Windows\System32\cmd.exe",
                r"c:\windows\syswow64\cmd.exe",
                r"C:\Windows\System32\cmd.exe",
                None,
            ],
        }
    )
    fast = CompiledRuleSet.from_yaml(SUFFIXES, pipeline="none")
    naive = CompiledRuleSet.from_yaml(SUFFIXES, pipeline="none", strategy="naive")
    assert fast.evaluate(events)["row"].to_list() == [0, 3]
    assert fast.with_thresholds(together_rows=0).evaluate(events)["row"].to_list() == [0, 3]
    assert naive.evaluate(events)["row"].to_list() == [0, 3]


def test_rules_sharing_a_pattern_share_their_candidate_rows() -> None:
    by_image = frozenset({("Image", "\\certutil.exe"), ("OriginalFileName", "certutil.exe")})
    index = CandidateIndex([(by_image,), (by_image,), ()])
    assert [(g.slots, g.rules) for g in index.groups] == [((0,), (0, 1))]
    lowered = pl.DataFrame(
        {
            "Image": [r"c:\windows\certutil.exe", r"c:\x.exe", r"c:\tools\c.exe"],
            "OriginalFileName": ["certutil.exe", "certutil.exe", "c.exe"],
        }
    )
    # Row 0 hits both columns of the slot and is still one candidate row.
    found = index.search(lowered, str, {"Image"})
    assert [(g.rules, rows.to_list()) for g, rows in found] == [((0, 1), [0, 1])]


def test_a_two_slot_pattern_needs_a_hit_in_each_slot() -> None:
    image = frozenset({("Image", "\\cmd.exe")})
    flag = frozenset({("CommandLine", "-enc")})
    index = CandidateIndex([(image, flag), (image,)])
    lowered = pl.DataFrame(
        {
            "Image": [r"c:\cmd.exe", r"c:\cmd.exe", r"c:\x.exe"],
            "CommandLine": ["cmd -enc a", "cmd", "x -enc b"],
        }
    )
    found = {g.rules: rows.to_list() for g, rows in index.search(lowered, str, set())}
    assert found == {(0,): [0], (1,): [0, 1]}


def test_a_long_batch_is_searched_in_slices_and_every_row_is_found() -> None:
    rows = 120_000
    hits = [0, 49_999, 50_000, 60_000, rows - 1]
    chosen = set(hits)
    # Distinct values, so the column is searched row by row, not once per value.
    lines = [f"run -urlcache {n}" if n in chosen else f"x {n}" for n in range(rows)]
    ruleset = CompiledRuleSet.from_yaml(
        """
title: Certutil download
id: 5b3b2a4e-1f1e-4a35-9a53-6f0b6f1f2b11
logsource: {category: process_creation, product: windows}
detection:
  selection:
    CommandLine|contains: 'urlcache'
  condition: selection
level: high
""",
        pipeline="none",
    )
    assert ruleset.evaluate(pl.DataFrame({"CommandLine": lines}))["row"].to_list() == hits
