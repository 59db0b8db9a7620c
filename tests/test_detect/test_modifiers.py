"""Each Sigma value modifier, on a tiny frame, with the exact rows expected to match."""

from __future__ import annotations

import base64
import textwrap

import polars as pl
import pytest

from detect import CompiledRuleSet

RULE_ID = "0d3c1b5e-7a1f-4c9e-8b7a-2f4e5d6c7b8a"


def rule(detection: str, logsource: str = "{category: test, product: test}") -> str:
    body = textwrap.indent(textwrap.dedent(detection).strip(), "  ")
    head = f"title: Test rule\nid: {RULE_ID}\nlogsource: {logsource}\n"
    return f"{head}detection:\n{body}\nlevel: high\n"


def matching_rows(detection: str, frame: pl.DataFrame, **options: object) -> list[int]:
    ruleset = CompiledRuleSet.from_yaml(rule(detection), pipeline="none", **options)  # type: ignore[arg-type]
    assert not ruleset.rejected, [str(p) for p in ruleset.rejected]
    fast = ruleset.evaluate(frame)["row"].to_list()
    naive = CompiledRuleSet.from_yaml(
        rule(detection),
        pipeline="none",
        strategy="naive",
        **options,  # type: ignore[arg-type]
    )
    assert naive.evaluate(frame)["row"].to_list() == fast
    return fast


CMD = pl.DataFrame(
    {
        "Image": [
            r"C:\Windows\System32\cmd.exe",
            r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
            r"C:\Tools\CMD.EXE.bak",
            None,
        ],
        "CommandLine": [
            "cmd.exe /c whoami /all",
            "powershell.exe -NoProfile -EncodedCommand SQBFAFgA",
            "notepad readme.txt",
            "orphan",
        ],
    }
)


def test_plain_value_is_a_case_insensitive_whole_match() -> None:
    rows = matching_rows(
        r"""
        sel:
          Image: 'c:\windows\system32\CMD.exe'
        condition: sel
        """,
        CMD,
    )
    assert rows == [0]


@pytest.mark.parametrize(
    ("modifier", "value", "expected"),
    [
        ("contains", "WHOAMI", [0]),
        ("startswith", "powershell", [1]),
        ("endswith", r"\cmd.exe", [0]),
        ("contains", "", [0, 1, 2, 3]),
    ],
)
def test_contains_startswith_endswith(modifier: str, value: str, expected: list[int]) -> None:
    field = "Image" if modifier == "endswith" else "CommandLine"
    detection = f"sel:\n  {field}|{modifier}: '{value}'\ncondition: sel"
    assert matching_rows(detection, CMD) == expected


def test_all_requires_every_value() -> None:
    detection = """
    sel:
      CommandLine|contains|all: ['cmd', 'whoami', '/all']
    condition: sel
    """
    assert matching_rows(detection, CMD) == [0]
    detection_missing = """
    sel:
      CommandLine|contains|all: ['cmd', 'mimikatz']
    condition: sel
    """
    assert matching_rows(detection_missing, CMD) == []


def test_list_of_values_is_or() -> None:
    detection = """
    sel:
      CommandLine|contains: ['notepad', 'whoami']
    condition: sel
    """
    assert matching_rows(detection, CMD) == [0, 2]


def test_wildcards_and_escapes() -> None:
    frame = pl.DataFrame({"v": ["abc", "a*c", "axxc", "ac", "a?c", "abd"]})
    assert matching_rows("sel:\n  v: 'a?c'\ncondition: sel", frame) == [0, 1, 4]
    assert matching_rows("sel:\n  v: 'a*c'\ncondition: sel", frame) == [0, 1, 2, 3, 4]
    assert matching_rows("sel:\n  v: 'a\\*c'\ncondition: sel", frame) == [1]
    assert matching_rows("sel:\n  v: 'a\\?c'\ncondition: sel", frame) == [4]


def test_wildcard_spans_newlines() -> None:
    frame = pl.DataFrame({"v": ["first\nsecond", "second"]})
    assert matching_rows("sel:\n  v: 'first*second'\ncondition: sel", frame) == [0]


def test_re_with_flags() -> None:
    frame = pl.DataFrame({"v": ["Invoke-Mimikatz", "invoke-mimikatz", "line1\nline2"]})
    assert matching_rows("sel:\n  v|re: 'Invoke-M.*'\ncondition: sel", frame) == [0]
    assert matching_rows("sel:\n  v|re|i: 'invoke-m.*'\ncondition: sel", frame) == [0, 1]
    assert matching_rows("sel:\n  v|re|m: '^line2$'\ncondition: sel", frame) == [2]
    assert matching_rows("sel:\n  v|re|s: 'line1.line2'\ncondition: sel", frame) == [2]


def test_regex_the_rust_engine_cannot_run_is_rejected_by_name() -> None:
    ruleset = CompiledRuleSet.from_yaml(
        rule("sel:\n  v|re: 'foo(?!bar)'\ncondition: sel"), pipeline="none"
    )
    assert ruleset.rules == ()
    [problem] = ruleset.rejected
    assert problem.reason == "regex: look-around"
    assert problem.title == "Test rule"
    assert problem.rule_id == "0d3c1b5e-7a1f-4c9e-8b7a-2f4e5d6c7b8a"


def test_cidr() -> None:
    frame = pl.DataFrame({"ip": ["10.1.2.3", "10.2.0.1", "192.168.1.1", "not-an-ip", None]})
    assert matching_rows("sel:\n  ip|cidr: '10.1.0.0/16'\ncondition: sel", frame) == [0]
    detection = "sel:\n  ip|cidr: ['10.0.0.0/8', '192.168.0.0/16']\ncondition: sel"
    assert matching_rows(detection, frame) == [0, 1, 2]


def test_cidr_ipv6() -> None:
    frame = pl.DataFrame({"ip": ["fe80:0000:0000:0000:0202:b3ff:fe1e:8329", "2001:0db8::1"]})
    assert matching_rows("sel:\n  ip|cidr: 'fe80::/10'\ncondition: sel", frame) == [0]


def test_base64_and_base64offset() -> None:
    encoded = base64.b64encode(b"xx http://evil.example/p.exe").decode()
    frame = pl.DataFrame({"CommandLine": [f"powershell -enc {encoded}", "powershell -enc AAAA"]})
    detection = "sel:\n  CommandLine|base64offset|contains: 'http://'\ncondition: sel"
    assert matching_rows(detection, frame) == [0]
    plain = base64.b64encode(b"whoami").decode()
    frame_plain = pl.DataFrame({"CommandLine": [plain, "whoami"]})
    assert matching_rows("sel:\n  CommandLine|base64: 'whoami'\ncondition: sel", frame_plain) == [0]


def test_windash() -> None:
    frame = pl.DataFrame({"CommandLine": ["net user /add", "net user -add", "net user –add", "x"]})
    detection = "sel:\n  CommandLine|windash|contains: ' -add'\ncondition: sel"
    assert matching_rows(detection, frame) == [0, 1, 2]


def test_wide_utf16() -> None:
    wide = "cmd".encode("utf-16le").decode("latin-1")
    frame = pl.DataFrame({"v": [wide, "cmd"]})
    assert matching_rows("sel:\n  v|wide|contains: 'cmd'\ncondition: sel", frame) == [0]
    big_endian = "cmd".encode("utf-16be").decode("latin-1")
    frame_be = pl.DataFrame({"v": [big_endian, wide]})
    assert matching_rows("sel:\n  v|utf16be|contains: 'cmd'\ncondition: sel", frame_be) == [0]


def test_exists() -> None:
    frame = pl.DataFrame({"a": ["x", None, "y"]})
    assert matching_rows("sel:\n  a|exists: true\ncondition: sel", frame) == [0, 2]
    assert matching_rows("sel:\n  a|exists: false\ncondition: sel", frame) == [1]
    assert matching_rows("sel:\n  missing|exists: false\ncondition: sel", frame) == [0, 1, 2]


def test_null() -> None:
    frame = pl.DataFrame({"a": ["x", None]})
    assert matching_rows("sel:\n  a: null\ncondition: sel", frame) == [1]
    assert matching_rows("sel:\n  missing: null\ncondition: sel", frame) == [0, 1]


@pytest.mark.parametrize(
    ("modifier", "expected"), [("lt", [0]), ("lte", [0, 1]), ("gt", [2]), ("gte", [1, 2])]
)
def test_numeric_comparisons(modifier: str, expected: list[int]) -> None:
    frame = pl.DataFrame({"port": ["22", "443", "8080", "n/a"]})
    assert matching_rows(f"sel:\n  port|{modifier}: 443\ncondition: sel", frame) == expected


def test_numbers_match_integer_and_text_columns() -> None:
    ints = pl.DataFrame({"EventID": [1, 3, 11]})
    texts = pl.DataFrame({"EventID": ["1", "3", "11"]})
    detection = "sel:\n  EventID: [1, 11]\ncondition: sel"
    assert matching_rows(detection, ints) == [0, 2]
    assert matching_rows(detection, texts) == [0, 2]


def test_fieldref() -> None:
    frame = pl.DataFrame({"a": ["svc.exe", "svc.exe", "x"], "b": ["SVC.EXE", "other", None]})
    assert matching_rows("sel:\n  a|fieldref: b\ncondition: sel", frame) == [0]


def test_cased() -> None:
    frame = pl.DataFrame({"v": ["SYSTEM", "system"]})
    assert matching_rows("sel:\n  v|cased: 'SYSTEM'\ncondition: sel", frame) == [0]
    assert matching_rows("sel:\n  v|cased|contains: 'yst'\ncondition: sel", frame) == [1]


def test_expand_with_placeholders_from_config() -> None:
    frame = pl.DataFrame({"User": ["admin", "guest", "svc_backup"]})
    detection = "sel:\n  User|expand: '%admins%'\ncondition: sel"
    rows = matching_rows(detection, frame, placeholders={"admins": ["admin", "svc_backup"]})
    assert rows == [0, 2]


def test_expand_without_config_is_rejected_by_name() -> None:
    ruleset = CompiledRuleSet.from_yaml(
        rule("sel:\n  User|expand: '%admins%'\ncondition: sel"), pipeline="none"
    )
    assert [p.reason for p in ruleset.rejected] == ["unresolved placeholder"]


def test_keywords_search_every_text_column() -> None:
    frame = pl.DataFrame(
        {"a": ["nothing", "rm -rf / --no-preserve-root", None], "b": ["x", "y", "RM -RF /"]}
    )
    detection = "keywords:\n  - 'rm -rf /'\ncondition: keywords"
    assert matching_rows(detection, frame) == [1, 2]


def test_timestamp_part_and_neq() -> None:
    frame = pl.DataFrame(
        {
            "ts": ["2026-11-20T03:15:00", "2026-11-20T04:15:00", "2026-11-20T03:00:00"],
            "v": ["y", "y", "x"],
        }
    )
    assert matching_rows("sel:\n  ts|hour: 3\n  v|neq: x\ncondition: sel", frame) == [0]
