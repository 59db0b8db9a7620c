"""A trimmed search regex matches exactly the values the rule's own regex matches."""

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sigma.rule import SigmaRule

from detect import CompiledRuleSet
from detect.expressions import _either, _groupable
from detect.reference import reference_matches
from detect.regexes import trim_search_regex

ALPHABET = "abAB-_ x"
pieces = st.one_of(
    st.text(alphabet="abAB_ x", min_size=1, max_size=4),
    st.sampled_from(
        [".", r"\s", r"\w", "[ab]", "[^x]", r"\-", "$", "^", r"\b", "(?i)", "(a|b)", "(?:-k)"]
    ),
)
quantifiers = st.sampled_from(["", "?", "*", "+", "{2}", "{1,3}", "{0,2}", "{2,}", "+?", "??"])


@st.composite
def regexes(draw: st.DrawFn) -> str:
    branches = []
    for _ in range(draw(st.integers(1, 2))):
        parts = draw(st.lists(st.tuples(pieces, quantifiers), min_size=1, max_size=5))
        branches.append(
            "".join(
                piece + (quantifier if piece not in ("$", "^", r"\b", "(?i)") else "")
                for piece, quantifier in parts
            )
        )
    return "|".join(branches)


@settings(max_examples=400, deadline=None)
@given(regexes(), st.lists(st.text(alphabet=ALPHABET, max_size=12), min_size=1, max_size=20))
def test_the_trimmed_regex_finds_a_match_in_the_same_values(pattern: str, texts: list[str]) -> None:
    values = pl.Series(texts)
    expected = values.str.contains(pattern).to_list()
    assert values.str.contains(trim_search_regex(pattern)).to_list() == expected, pattern


@pytest.mark.parametrize(
    ("pattern", "trimmed"),
    [
        (r"-k\s\w{1,64}(?:\s?(?:-p|-s))?", r"-k\s\w"),
        (r"://[0-9]{1,3}\.[0-9]{1,3}", r"://[0-9]{1,3}\.[0-9]"),
        (r" [0-7]{7,13}", r" [0-7]{7}"),
        (r"a+b*|c{2,}?d?", r"a|c{2}"),
        (r"(?i)\$\{`?e`?n`?v\}", r"(?i)\$\{`?e`?n`?v\}"),
    ],
)
def test_only_the_optional_or_repeated_tail_goes(pattern: str, trimmed: str) -> None:
    assert trim_search_regex(pattern) == trimmed


@pytest.mark.parametrize(
    "pattern",
    [
        r"[^\\]{1,256}$",  # anchored at the end: the repetition must reach it
        r"\x41{1,3}",  # escapes of several characters are not read
        r"[[:alpha:]]{1,3}",  # nested and POSIX classes are Rust's dialect
        r"(?x)a b?",  # verbose mode reads blanks differently
        r"a{,3}",
    ],
)
def test_patterns_it_cannot_read_for_sure_are_kept(pattern: str) -> None:
    assert trim_search_regex(pattern) == pattern


SVCHOST = r"""
title: Svchost without a service group
id: 6a3e1b0c-2f43-4c1e-9d55-0b1d2c3e4f50
logsource: {category: process_creation, product: windows}
detection:
  selection:
    Image|endswith: '\svchost.exe'
  flags:
    CommandLine|re: '-k\s\w{1,64}(?:\s?(?:-p|-s))?'
  condition: selection and not flags
level: medium
"""


def test_a_rule_with_a_bounded_repetition_matches_as_written() -> None:
    events = pl.DataFrame(
        {
            "Image": [r"C:\Windows\System32\svchost.exe"] * 4 + [r"C:\x.exe"],
            "CommandLine": [
                "svchost.exe -k netsvcs -p",
                "svchost.exe -k ",
                "svchost.exe",
                None,
                "",
            ],
        }
    )
    fast = CompiledRuleSet.from_yaml(SVCHOST, pipeline="none")
    naive = CompiledRuleSet.from_yaml(SVCHOST, pipeline="none", strategy="naive")
    assert fast.evaluate(events)["row"].to_list() == [1, 2, 3]
    assert naive.evaluate(events)["row"].to_list() == [1, 2, 3]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(regexes(), min_size=1, max_size=4),
    st.lists(st.text(alphabet=ALPHABET, max_size=12), min_size=1, max_size=20),
)
def test_searches_joined_into_one_regex_find_the_values_any_of_them_finds(
    patterns: list[str], texts: list[str]
) -> None:
    values = pl.Series(texts)
    expected = [any(hits) for hits in zip(*(values.str.contains(p) for p in patterns), strict=True)]
    groupable = [trim_search_regex(p) for p in patterns if _groupable(p)]
    found = [values.str.contains(_either(groupable))] if groupable else []
    found += [values.str.contains(p) for p in patterns if not _groupable(p)]
    assert [any(hits) for hits in zip(*found, strict=True)] == expected, patterns


WILDCARDS = r"""
title: Encoded PowerShell or a user added
id: 1d2c3b4a-5e6f-4a70-8b9c-0d1e2f3a4b5c
logsource: {category: process_creation, product: windows}
detection:
  selection:
    - CommandLine|contains:
        - ' -e* JAB'
        - ' -e* SUVYI'
    - CommandLine|re:
        - '(?i)net\s+user\s'
        - '^whoami$'
  condition: selection
level: medium
"""


def test_wildcards_and_regexes_on_one_column_each_keep_their_own_flags() -> None:
    lines = ["x -enc JAB", "x -E SUVYI", "NET  USER bob", "whoami", "WHOAMI", "a whoami", None]
    events = pl.DataFrame({"CommandLine": lines})
    fast = CompiledRuleSet.from_yaml(WILDCARDS, pipeline="none")
    naive = CompiledRuleSet.from_yaml(WILDCARDS, pipeline="none", strategy="naive")
    assert fast.evaluate(events)["row"].to_list() == [0, 1, 2, 3]
    assert naive.evaluate(events)["row"].to_list() == [0, 1, 2, 3]


METACHARACTERS = r"""
title: Literals full of regex metacharacters
id: 2e3d4c5b-6a7f-4b80-9cad-1e2f3a4b5c6d
logsource: {category: process_creation, product: windows}
detection:
  selection:
    CommandLine|contains:
      - '.DownloadString('
      - ' -e [x]+'
      - '$env:Temp'
      - 'a|b'
      - '\\server\share'
      - '^(caret)'
  condition: selection
level: medium
"""


def test_contained_literals_searched_as_one_regex_are_taken_literally() -> None:
    lines = [
        "iex (New-Object Net.WebClient).downloadstring('x')",
        "x.DownloadStringY",
        "p -E [X]+ q",
        "p -e xx q",
        "echo $ENV:temp",
        "a|B",
        "ab",
        r"copy \\SERVER\share\x",
        r"copy \server\share",
        "^(CARET) here",
        "caret",
        None,
    ]
    events = [{"CommandLine": line} for line in lines]
    expected = reference_matches(SigmaRule.from_yaml(METACHARACTERS), events)
    assert expected == [0, 2, 4, 5, 7, 8, 9]  # Sigma reads a doubled backslash as one
    fast = CompiledRuleSet.from_yaml(METACHARACTERS, pipeline="none")
    frame = pl.DataFrame(events, schema={"CommandLine": pl.String})
    assert fast.evaluate(frame)["row"].to_list() == expected
    assert fast.with_thresholds(together_rows=0).evaluate(frame)["row"].to_list() == expected
