"""A regex's required literals are a necessary condition for Polars' regex to match."""

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from detect.patterns import regex_literals

ALPHABET = "abcAB./-_ x&~["
pieces = st.one_of(
    st.text(alphabet=ALPHABET, min_size=1, max_size=6).map(
        lambda s: "".join("\\" + c if c in "./-[" else c for c in s)
    ),
    st.sampled_from([".", ".*", ".+", r"\s", r"\w+", "[ab]", "[^x]", r"\d{0,2}", "x?"]),
    # Rust reads these classes otherwise than Python (set operations, nested classes).
    st.sampled_from(["[ab&&a]", "[ab--a]", "[a~~b]", "[[a]b]", "[^]a]", r"[\]&]", "[a-c]"]),
)


@st.composite
def regexes(draw: st.DrawFn, depth: int = 2) -> str:
    parts = draw(st.lists(pieces, min_size=1, max_size=5))
    if depth and draw(st.booleans()):
        branches = draw(st.lists(regexes(depth - 1), min_size=2, max_size=3))
        group = "(?:" + "|".join(branches) + ")" + draw(st.sampled_from(["", "+", "*", "?"]))
        parts.insert(draw(st.integers(0, len(parts))), group)
    flags = draw(st.sampled_from(["", "(?i)"]))
    return flags + "".join(parts)


@settings(max_examples=300, deadline=None)
@given(regexes(), st.lists(st.text(alphabet=ALPHABET, max_size=30), min_size=1, max_size=20))
def test_every_match_contains_one_of_the_literals(pattern: str, texts: list[str]) -> None:
    literals = regex_literals(pattern)
    if literals is None:
        return
    matched = pl.Series(texts).str.contains(pattern).to_list()
    for text, hit in zip(texts, matched, strict=True):
        if hit:
            assert any(literal in text.lower() for literal in literals), (pattern, text)


def test_literals_come_from_the_required_parts_only() -> None:
    assert regex_literals(r"(?i)\$env:comspec\[") == frozenset({"$env:comspec["})
    assert regex_literals(r"abc(?:defgh)?") == frozenset({"abc"})
    assert regex_literals(r"(?:certutil|bitsadmin)\s+") == frozenset({"certutil", "bitsadmin"})
    assert regex_literals(r"(?:certutil|x)") is None  # one branch has no usable literal


def test_rust_only_syntax_gives_no_literal() -> None:
    assert regex_literals(r"[[:alpha:]]abcd") is None
    assert regex_literals(r"\pLabcd") is None
    assert regex_literals(r"[a-z&&[^aeiou]]abcd") is None
    assert regex_literals(r"[ab--a]abcd") is None
    assert regex_literals(r"[a~~b]abcd") is None
    assert regex_literals(r"abcd[x") is None  # a class never closed


def test_set_operators_outside_a_class_are_text_in_both_dialects() -> None:
    # SigmaHQ's Invoke-Obfuscation rules chain commands with "&&".
    stdin = r'(?i)(?:set).*&&\s?set.*(?:environment|invoke|\$\{?input).*&&.*"'
    assert regex_literals(stdin) == frozenset({"environment", "invoke", "input"})
    assert regex_literals(r"cmd /c a && b") == frozenset({"cmd /c a && b"})
    assert regex_literals(r"x[^]&]--yz~~") == frozenset({"--yz~~"})
    assert regex_literals(r"x[^]&&]--yz~~") is None  # "&&" inside the class
