"""Cases the Sigma specification decides, where a fast path once changed the result."""

from __future__ import annotations

import base64

import polars as pl
from sigma.rule import SigmaRule

from detect.reference import reference_matches
from tests.test_detect.test_modifiers import matching_rows, rule


def test_startswith_minus_tells_negative_zero_from_zero() -> None:
    frame = pl.DataFrame({"X": [0.0, -0.0] * 100, "Y": ["a", "b"] * 100})
    rows = matching_rows("sel:\n  X|startswith: '-'\ncondition: sel", frame)
    assert rows == list(range(1, 200, 2))


def test_case_insensitive_regex_matches_the_long_s() -> None:
    frame = pl.DataFrame({"F12": ["POWER\u017fHELL", "notepad", "PowerShell"]})
    assert matching_rows("sel:\n  F12|re|i: 'powershell'\ncondition: sel", frame) == [0, 2]


def test_contains_folds_the_final_sigma() -> None:
    frame = pl.DataFrame({"F11": ["ΟΣΑ", "οσα", "ΟΞΑ", "ΟΣ"]})
    assert matching_rows("sel:\n  F11|contains: 'ΟΣ'\ncondition: sel", frame) == [0, 1, 3]


def test_equality_folds_german_sharp_s() -> None:
    frame = pl.DataFrame({"User": ["STRASSE", "straße", "strase"]})
    assert matching_rows("sel:\n  User: 'Straße'\ncondition: sel", frame) == [0, 1]


def test_utf16_base64_carries_the_utf16_byte_order_mark() -> None:
    encoded = base64.b64encode(b"\xff\xfe" + "whoami".encode("utf-16le")).decode()
    assert encoded == "//53AGgAbwBhAG0AaQA="
    frame = pl.DataFrame(
        {"CommandLine": [f"powershell.exe -e {encoded}", "powershell.exe -e d2hvYW1p"]}
    )
    detection = "sel:\n  CommandLine|utf16|base64|contains: 'whoami'\ncondition: sel"
    assert matching_rows(detection, frame) == [0]


def test_utf16_base64offset_matches_at_every_offset() -> None:
    lines = [
        base64.b64encode(b"x" * shift + b"\xff\xfe" + "whoami".encode("utf-16le")).decode()
        for shift in range(3)
    ]
    frame = pl.DataFrame({"CommandLine": [*lines, "d2hvYW1p"]})
    detection = "sel:\n  CommandLine|utf16|base64offset|contains: 'whoami'\ncondition: sel"
    assert matching_rows(detection, frame) == [0, 1, 2]


def test_utf16le_is_wide() -> None:
    wide = "cmd".encode("utf-16le").decode("latin-1")
    frame = pl.DataFrame({"v": [wide, "cmd"]})
    assert matching_rows("sel:\n  v|utf16le|contains: 'cmd'\ncondition: sel", frame) == [0]


TAGS = pl.DataFrame(
    {"Tags": [["lateral", "smb"], ["smbx"], [], None, ["SMB"]], "n": [1, 2, 3, 4, 5]},
    schema={"Tags": pl.List(pl.String), "n": pl.Int64},
)


def test_a_list_field_matches_when_an_element_matches() -> None:
    assert matching_rows("sel:\n  Tags: 'smb'\ncondition: sel", TAGS) == [0, 4]


def test_list_elements_take_every_modifier() -> None:
    assert matching_rows("sel:\n  Tags|startswith: 'sm'\ncondition: sel", TAGS) == [0, 1, 4]
    assert matching_rows("sel:\n  Tags|endswith: 'al'\ncondition: sel", TAGS) == [0]
    assert matching_rows("sel:\n  Tags|contains: 'MB'\ncondition: sel", TAGS) == [0, 1, 4]
    assert matching_rows("sel:\n  Tags|re: '^s.b$'\ncondition: sel", TAGS) == [0]
    assert matching_rows("sel:\n  Tags|cased: 'SMB'\ncondition: sel", TAGS) == [4]
    assert matching_rows("sel:\n  Tags: 'l*l'\ncondition: sel", TAGS) == [0]
    both = "sel:\n  Tags|all: ['lateral', 'smb']\ncondition: sel"
    assert matching_rows(both, TAGS) == [0]


def test_not_on_a_list_field_means_no_element_matches() -> None:
    rows = matching_rows("sel:\n  Tags: 'smb'\nany:\n  n|gt: 0\ncondition: any and not sel", TAGS)
    assert rows == [1, 2, 3]


def test_the_reference_matcher_reads_list_fields_per_element() -> None:
    events = TAGS.to_dicts()
    equal = SigmaRule.from_yaml(rule("sel:\n  Tags: 'smb'\ncondition: sel"))
    assert reference_matches(equal, events) == [0, 4]
    prefix = SigmaRule.from_yaml(rule("sel:\n  Tags|startswith: 'lat'\ncondition: sel"))
    assert reference_matches(prefix, events) == [0]
    keyword = SigmaRule.from_yaml(rule("keywords: ['mb']\ncondition: keywords"))
    assert reference_matches(keyword, events) == [0, 1, 4]


def test_keywords_search_the_elements_of_list_fields() -> None:
    assert matching_rows("keywords: ['mb']\ncondition: keywords", TAGS) == [0, 1, 4]


def test_fieldref_with_a_list_side_never_matches_so_its_negation_always_does() -> None:
    frame = pl.DataFrame(
        {"Tags": [["a"], None], "Name": ["a", None]},
        schema={"Tags": pl.List(pl.String), "Name": pl.String},
    )
    assert matching_rows("sel:\n  Tags|fieldref: Name\ncondition: sel", frame) == []
    assert matching_rows("sel:\n  Tags|fieldref: Name\ncondition: not sel", frame) == [0, 1]
