"""Fast patterns only decide where a rule runs, never what it matches."""

from collections.abc import Sequence

import polars as pl
import pytest

from detect import CompiledRuleSet, engine
from detect.candidates import REPETITIVE_MIN_ROWS
from detect.ir import ALL_TEXT

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


def frame(images: Sequence[str | None], command_lines: Sequence[str]) -> pl.DataFrame:
    return pl.DataFrame({"Image": images, "CommandLine": command_lines})


def test_a_costly_and_is_searched_with_two_slots_and_still_matches_exactly() -> None:
    # cmd.exe and -enc each occur in 2 of 10 rows: neither alone is selective enough.
    images = [r"C:\Windows\cmd.exe", r"C:\Windows\cmd.exe"] + [r"C:\Tools\x.exe"] * 8
    lines = ["cmd /c run -enc AAA", "cmd /c dir", "x -enc BBB"] + ["x"] * 7
    ruleset = CompiledRuleSet.from_yaml(RULE, pipeline="none")
    ruleset = ruleset.calibrate(frame(images, lines))
    (pattern,) = ruleset.patterns
    assert set(pattern) == {
        frozenset({("CommandLine", "-enc")}),
        frozenset({("Image", "\\cmd.exe")}),
    }
    assert ruleset.evaluate(frame(images, lines))["row"].to_list() == [0]


def test_a_batch_matches_alike_however_its_work_is_split() -> None:
    images = [r"C:\Windows\cmd.exe", r"C:\Windows\cmd.exe", r"C:\Tools\x.exe", None]
    lines = ["cmd /c run -enc AAA", "cmd /c dir", "x -ENC y SEKURLSA", "cmd -enc z"]
    ruleset = CompiledRuleSet.from_yaml(RULE, KEYWORD_RULE, pipeline="none")
    ruleset = ruleset.calibrate(frame(images * 50, lines * 50)).with_distinct_share(0.0)
    expected = [(0, "Encoded command via cmd"), (2, "Mimikatz anywhere")]
    for one_step_rows, together_rows in ((None, None), (0, None), (None, 0), (0, 0)):
        split = ruleset.with_thresholds(one_step_rows=one_step_rows, together_rows=together_rows)
        found = split.evaluate(frame(images, lines)).select("row", "rule_title").rows()
        assert found == expected, (one_step_rows, together_rows)


def test_static_patterns_skip_calibration_and_match_alike() -> None:
    images = [r"C:\Windows\cmd.exe", r"C:\Windows\cmd.exe", r"C:\Tools\x.exe"] * 40
    lines = ["cmd /c run -enc AAA", "cmd /c dir", "x -enc BBB"] * 40
    ruleset = CompiledRuleSet.from_yaml(RULE, pipeline="none")
    static = ruleset.with_static_patterns()
    assert static.calibrated and static.patterns == ruleset.patterns
    calibrated = ruleset.calibrate(frame(images, lines))
    assert calibrated.with_static_patterns() is calibrated
    assert calibrated.patterns != static.patterns  # two slots where static has one
    expected = list(range(0, 120, 3))
    assert static.evaluate(frame(images, lines))["row"].to_list() == expected
    assert calibrated.evaluate(frame(images, lines))["row"].to_list() == expected


def test_a_selective_literal_needs_no_second_slot() -> None:
    images = [r"C:\Windows\cmd.exe"] * 500
    lines = ["cmd /c run -enc AAA"] + ["cmd /c dir"] * 499
    ruleset = CompiledRuleSet.from_yaml(RULE, pipeline="none")
    ruleset = ruleset.calibrate(frame(images, lines))
    assert ruleset.patterns == ((frozenset({("CommandLine", "-enc")}),),)
    assert ruleset.evaluate(frame(images, lines))["row"].to_list() == [0]


def test_repeated_values_are_searched_once_and_every_row_is_still_reported() -> None:
    half = REPETITIVE_MIN_ROWS // 2  # a batch long enough for the per-value search
    images = [r"C:\Windows\cmd.exe", r"C:\Tools\x.exe"] * half
    lines = ["cmd /c run -enc AAA", "x"] * half
    ruleset = CompiledRuleSet.from_yaml(RULE, pipeline="none")
    # Not once per distinct row, nor in one step: through the repetitive search.
    ruleset = ruleset.with_distinct_share(0.0).with_thresholds(one_step_rows=0)
    matches = ruleset.evaluate(frame(images, lines))
    assert matches["row"].to_list() == list(range(0, 2 * half, 2))


NOT_AN_EXE = """
title: Process Image Without An Exe Extension
id: 4a0f3c2e-8b7d-4e61-9c5a-1d2e3f4a5b6c
logsource: {category: process_creation, product: windows}
detection:
  exe:
    Image|endswith: '.exe'
  system:
    ParentImage|startswith: 'C:\\Windows\\'
  condition: not exe and system
level: medium
"""


def test_rules_over_few_distinct_values_are_evaluated_once_per_combination() -> None:
    images = [r"C:\Windows\cmd.exe", r"C:\Users\a\evil.scr", None, r"C:\Temp\x.PIF"]
    parents = [r"C:\Windows\explorer.exe", r"C:\Tools\p.exe", None]
    rows = [(images[i % 4], parents[i % 3]) for i in range(600)]
    events = pl.DataFrame(rows, schema={"Image": pl.String, "ParentImage": pl.String}, orient="row")
    expected = [
        i
        for i, (image, parent) in enumerate(rows)
        # A missing Image does not end with .exe, so ``not exe`` holds for it.
        if (image is None or not image.lower().endswith(".exe"))
        and parent is not None
        and parent.lower().startswith("c:\\windows\\")
    ]
    ruleset = CompiledRuleSet.from_yaml(NOT_AN_EXE, pipeline="none")
    # Not once per distinct row of the batch: per rule.
    ruleset = ruleset.with_distinct_share(0.0)
    assert ruleset.evaluate(events)["row"].to_list() == expected
    naive = CompiledRuleSet.from_yaml(NOT_AN_EXE, pipeline="none", strategy="naive")
    assert naive.evaluate(events)["row"].to_list() == expected


KEYWORD_RULE = """
title: Mimikatz anywhere
id: 6f1d2c3b-4a5e-4f60-8b7c-9d0e1f2a3b4c
logsource: {category: process_creation, product: windows}
detection:
  keywords:
    - 'sekurlsa'
  condition: keywords
level: high
"""


def test_repeated_rows_are_evaluated_once_each_and_every_row_is_reported() -> None:
    images = [r"C:\Windows\cmd.exe", r"C:\Tools\x.exe", r"C:\Windows\cmd.exe"] * 40
    lines = ["cmd /c run -enc AAA", "x -enc B", "cmd /c dir"] * 40
    ruleset = CompiledRuleSet.from_yaml(RULE, pipeline="none")
    matches = ruleset.evaluate(frame(images, lines))
    assert matches["row"].to_list() == list(range(0, 120, 3))
    # A later batch that does not repeat is evaluated row by row, with the same results.
    unique = [f"cmd /c run -enc {n}" for n in range(120)]
    expected = sorted([*range(0, 120, 3), *range(2, 120, 3)])
    assert ruleset.evaluate(frame(images, unique))["row"].to_list() == expected


def test_keywords_see_every_text_column_when_rows_are_evaluated_once_each() -> None:
    events = pl.DataFrame(
        {
            "Image": [r"C:\x.exe"] * 6,
            "CommandLine": ["x"] * 6,
            "Note": ["", "", "", "", "", "privilege::debug sekurlsa::logonpasswords"],
        }
    )
    ruleset = CompiledRuleSet.from_yaml(KEYWORD_RULE, RULE, pipeline="none")
    ruleset = ruleset.with_distinct_share(1.0)
    assert ruleset.evaluate(events).select("row", "rule_title").rows() == [(5, "Mimikatz anywhere")]


def test_a_keyword_is_a_fast_pattern_over_every_text_value_joined() -> None:
    ruleset = CompiledRuleSet.from_yaml(KEYWORD_RULE, pipeline="none")
    assert ruleset.patterns == ((frozenset({(ALL_TEXT, "sekurlsa")}),),)
    events = pl.DataFrame(
        {
            "Image": ["C:\\x.exe", "SEKURLSA.exe", None, "sekur", "x"],
            "CommandLine": ["run sekurlſa::x", None, "none", "lsa::pth", "-"],
            "EventID": [1, 1, 1, 1, 1],
        }
    )
    # Folded (ſ is s), in any column, never across two: "sekur" then "lsa" is no match.
    assert ruleset.evaluate(events)["row"].to_list() == [0, 1]
    assert ruleset.calibrate(events).evaluate(events)["row"].to_list() == [0, 1]


def test_the_joined_text_built_a_slice_per_thread_gives_the_same_matches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engine, "SLICED_ROWS", 4)
    monkeypatch.setattr(pl, "thread_pool_size", lambda: 3)
    images = [f"x{n}.exe" for n in range(10)]
    lines = ["-"] * 10
    for row in (0, 3, 4, 7, 9):  # either side of the slices' edges (4 rows each)
        lines[row] = "run SEKURLſA::x"
    ruleset = CompiledRuleSet.from_yaml(KEYWORD_RULE, pipeline="none")
    assert ruleset.evaluate(frame(images, lines))["row"].to_list() == [0, 3, 4, 7, 9]
    # A batch with no text column at all: nothing to join, no keyword matches.
    assert ruleset.evaluate(pl.DataFrame({"EventID": list(range(10))})).height == 0


def test_a_keyword_holding_the_joining_separator_is_searched_value_by_value() -> None:
    rule = KEYWORD_RULE.replace("'sekurlsa'", '"ab\\u001fcd"')
    ruleset = CompiledRuleSet.from_yaml(rule, pipeline="none")
    assert ruleset.patterns == ((),)
    events = pl.DataFrame({"A": ["xab\x1fcdx", "ab", "q"], "B": ["-", "cd", "ab\x1fcD"]})
    assert ruleset.evaluate(events)["row"].to_list() == [0, 2]


HASH_RULE = """
title: Known bad binary
id: 2c7e4b1a-9d3f-4e5a-8b6c-7d8e9f0a1b2c
logsource: {category: process_creation, product: windows}
detection:
  selection:
    Hashes|contains:
      - 'IMPHASH=0A1B2C3D4E5F60718293A4B5C6D7E8F9'
      - 'SHA256=(.*)+'
  condition: selection
level: high
"""


def test_rare_literals_first_narrow_their_column_by_a_regex_and_match_alike() -> None:
    hashes = [f"MD5={n:032X},SHA256={n:064X},IMPHASH={n:032X}" for n in range(400)]
    hashes[7] = "MD5=0,IMPHASH=0A1B2C3D4E5F60718293A4B5C6D7E8F9"
    hashes[9] = "sha256=(.*)+"  # the literal's regex characters are only text
    events = pl.DataFrame({"Hashes": hashes})
    ruleset = CompiledRuleSet.from_yaml(HASH_RULE, pipeline="none").with_distinct_share(0.0)
    calibrated = ruleset.calibrate(events).with_thresholds(one_step_rows=0)
    assert set(calibrated._index.prefilters) == {"Hashes"}
    assert calibrated.evaluate(events)["row"].to_list() == [7, 9]
    # Where the literals are common, the column is searched as before.
    common = pl.DataFrame({"Hashes": [hashes[7]] * 400})
    assert not ruleset.calibrate(common)._index.prefilters


EMOJI_RULE = """
title: Emoji or Greek in a command line
id: 7e1f0a2b-3c4d-4e5f-8a6b-9c0d1e2f3a4b
logsource: {category: process_creation, product: windows}
detection:
  selection:
    CommandLine|contains:
      - '🫵'
      - 'ΟΣ'
      - '-exfil'
  condition: selection
level: medium
"""


def test_non_ascii_literals_are_searched_only_where_the_text_is_not_ascii() -> None:
    ascii_lines = ["cmd /c dir", "x -EXFIL y", "plain"] * 10
    mixed = [*ascii_lines, "run 🫵 now", "ΟΣΑ", "οσα"]
    ruleset = CompiledRuleSet.from_yaml(EMOJI_RULE, pipeline="none").with_distinct_share(0.0)
    for one_step_rows in (None, 0):  # in one step, and column by column
        split = ruleset.with_thresholds(one_step_rows=one_step_rows)
        found = split.evaluate(pl.DataFrame({"CommandLine": ascii_lines}))["row"].to_list()
        assert found == list(range(1, 30, 3))
        found = split.evaluate(pl.DataFrame({"CommandLine": mixed}))["row"].to_list()
        assert found == [*range(1, 30, 3), 30, 31, 32]


def keyword_rule(*values: str) -> str:
    listed = "\n".join(f"    - {value!r}" for value in values)
    return KEYWORD_RULE.replace("    - 'sekurlsa'", listed)


FOLDED_TEXTS = [
    "run MimiKatz now",  # ASCII case
    "mimi\u212aatz",  # the Kelvin sign folds to k
    "M\u0130M\u0130KATZ",  # İ folds to i and a combining dot: no match
    "WinWord® con\ufb01g",  # the fi ligature folds to fi: "config"
    "Stra\u00dfe",  # ß folds to ss: "strasse"
    "mimi katz",
    "ΟΣΑ ΣΤΑ",  # Greek capitals: a keyword beyond ASCII folds them
    None,
    # Rows no keyword is in: the keywords' literals are rare, first narrowed by a regex.
    *[f"filler {n}" for n in range(60)],
]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (("mimikatz",), [0, 1]),
        (("config", "strasse"), [3, 4]),
        (("mimikatz", "ΟΣΑ"), [0, 1, 6]),
        (("οσα",), [6]),
    ],
)
def test_keywords_match_the_folded_text_however_the_rows_are_searched(
    values: tuple[str, ...], expected: list[int]
) -> None:
    # Characters whose folding is ASCII (K, ß, ﬁ) or holds more than ASCII (İ).
    ruleset = CompiledRuleSet.from_yaml(keyword_rule(*values), pipeline="none")
    events = pl.DataFrame({"Product": FOLDED_TEXTS, "Other": ["-"] * len(FOLDED_TEXTS)})
    reference = [
        row
        for row, text in enumerate(FOLDED_TEXTS)
        if text is not None and any(v.casefold() in text.casefold() for v in values)
    ]
    assert reference == expected
    assert ruleset.evaluate(events)["row"].to_list() == expected
    calibrated = ruleset.calibrate(events)
    assert calibrated.evaluate(events)["row"].to_list() == expected
    # Column by column, the rare literals first narrowed by a regex.
    stepwise = calibrated.with_thresholds(one_step_rows=0)
    assert stepwise.evaluate(events)["row"].to_list() == expected
    assert stepwise.with_thresholds(together_rows=0).evaluate(events)["row"].to_list() == expected


SELECTED_KEYWORD_RULE = """
title: A keyword beyond ASCII beside a rarer selection
id: 1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d
logsource: {category: process_creation, product: windows}
detection:
  keywords:
    - 'οσα'
  selection:
    Other|contains: 'needle-in-a-haystack'
  condition: keywords and selection
level: medium
"""


def test_a_keyword_beyond_ascii_folds_the_text_it_is_verified_on() -> None:
    # The keyword is in most rows, the selection's literal in two: that literal is the
    # rule's fast pattern, the keyword is searched only when the rule is verified, and the
    # joined text it is searched in must be folded for it (ΟΣΑ -> οσα).
    texts = ["ΟΣΑ ΣΤΑ", "plain", *[f"ΟΣΑ {n}" for n in range(40)]]
    others = ["needle-in-a-haystack", "needle-in-a-haystack", *["-"] * 40]
    events = pl.DataFrame({"Product": texts, "Other": others})
    calibrated = CompiledRuleSet.from_yaml(SELECTED_KEYWORD_RULE, pipeline="none").calibrate(events)
    assert calibrated._index.all_ascii(ALL_TEXT)  # no literal of the joined text is searched
    assert calibrated.evaluate(events)["row"].to_list() == [0]
    stepwise = calibrated.with_thresholds(one_step_rows=0)
    assert stepwise.evaluate(events)["row"].to_list() == [0]


def test_every_character_folding_to_ascii_is_found_by_its_first_bytes() -> None:
    from detect.folding import FOLDS_TO_ASCII

    starts = engine._FOLDS_TO_ASCII_STARTS
    assert all(any(c.encode().startswith(s) for s in starts) for c in FOLDS_TO_ASCII)
