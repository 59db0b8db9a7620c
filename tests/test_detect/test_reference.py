"""The plain-Python reference matcher, one Sigma feature at a time."""

from __future__ import annotations

import textwrap
from base64 import b64encode

import pytest
from sigma.rule import SigmaRule

from detect.reference import reference_match, reference_matches


def make_rule(detection: str) -> SigmaRule:
    """Build a rule around a ``detection:`` block written at any indentation."""
    body = textwrap.indent(textwrap.dedent(detection).strip(), "    ")
    return SigmaRule.from_yaml(
        textwrap.dedent("""\
            title: Reference matcher test
            logsource:
                product: test
            detection:
            """)
        + body
        + "\n"
    )


def field_events(field: str, *values: object) -> list[dict[str, object]]:
    """One event per value; ``...`` stands for an event without the field."""
    return [{} if value is ... else {field: value} for value in values]


def test_the_condition_tree_is_available_on_a_freshly_parsed_rule() -> None:
    rule = make_rule("""
        selection:
            Image|endswith: '\\cmd.exe'
        condition: selection
    """)

    assert rule.detection.parsed_condition[0].parsed is not None
    assert reference_match(rule, {"Image": "C:\\Windows\\System32\\CMD.EXE"})


def test_plain_string_matches_the_whole_value_ignoring_case() -> None:
    rule = make_rule("""
        selection:
            User: admin
        condition: selection
    """)
    events = field_events("User", "ADMIN", "administrator", "xadmin", ..., None)

    assert reference_matches(rule, events) == [0]


def test_contains() -> None:
    rule = make_rule("""
        selection:
            CommandLine|contains: whoami
        condition: selection
    """)
    events = field_events("CommandLine", "cmd /c WHOAMI /all", "who ami", ..., "whoami")

    assert reference_matches(rule, events) == [0, 3]


def test_startswith() -> None:
    rule = make_rule("""
        selection:
            Image|startswith: 'C:\\Windows\\'
        condition: selection
    """)
    events = field_events(
        "Image", "c:\\windows\\system32\\cmd.exe", "D:\\C:\\Windows\\x", "C:\\Windows"
    )

    assert reference_matches(rule, events) == [0]


def test_endswith() -> None:
    rule = make_rule("""
        selection:
            Image|endswith: .exe
        condition: selection
    """)
    events = field_events("Image", "a.EXE", "a.exe.bak", ".exe")

    assert reference_matches(rule, events) == [0, 2]


def test_all_requires_every_value() -> None:
    rule = make_rule("""
        selection:
            CommandLine|contains|all:
                - net
                - user
        condition: selection
    """)
    events = field_events("CommandLine", "net user bob", "net group", "USER NET")

    assert reference_matches(rule, events) == [0, 2]


def test_value_list_without_all_is_any() -> None:
    rule = make_rule("""
        selection:
            Image|endswith:
                - \\cmd.exe
                - \\powershell.exe
        condition: selection
    """)
    events = field_events("Image", "C:\\cmd.exe", "C:\\PowerShell.exe", "C:\\pwsh.exe")

    assert reference_matches(rule, events) == [0, 1]


def test_question_mark_is_exactly_one_character() -> None:
    rule = make_rule("""
        selection:
            Image: '*\\cmd?.exe'
        condition: selection
    """)
    events = field_events(
        "Image", "C:\\x\\cmd1.exe", "C:\\x\\cmd.exe", "C:\\x\\cmd12.exe", "\\CMD2.EXE"
    )

    assert reference_matches(rule, events) == [0, 3]


def test_star_spans_newlines_and_may_be_empty() -> None:
    rule = make_rule("""
        selection:
            Message: 'a*b'
        condition: selection
    """)
    events = field_events("Message", "a\nb", "ab", "a\nbc", "xab")

    assert reference_matches(rule, events) == [0, 1]


def test_escaped_wildcards_are_literal() -> None:
    rule = make_rule("""
        star:
            FileName: 'report\\*.txt'
        question:
            Query|endswith: 'what\\?'
        condition: star or question
    """)
    events: list[dict[str, object]] = [
        {"FileName": "report*.txt"},
        {"FileName": "report1.txt"},
        {"FileName": "REPORT*.TXT"},
        {"Query": "so what?"},
        {"Query": "so whatX"},
    ]

    assert reference_matches(rule, events) == [0, 2, 3]


def test_empty_string_matches_only_the_empty_value() -> None:
    rule = make_rule("""
        selection:
            CommandLine: ''
        condition: selection
    """)
    events = field_events("CommandLine", "", None, "x", ...)

    assert reference_matches(rule, events) == [0]


def test_a_lone_star_matches_any_value_but_not_null() -> None:
    rule = make_rule("""
        selection:
            CommandLine: '*'
        condition: selection
    """)
    events = field_events("CommandLine", "", "x", None, ..., 0, False)

    assert reference_matches(rule, events) == [0, 1, 4, 5]


def test_regex_is_an_unanchored_case_sensitive_search() -> None:
    rule = make_rule("""
        selection:
            CommandLine|re: 'Invoke-(Expression|WebRequest)'
        condition: selection
    """)
    events = field_events("CommandLine", "iex; Invoke-Expression", "invoke-expression", "x")

    assert reference_matches(rule, events) == [0]


def test_a_regex_that_matches_anything_still_skips_null() -> None:
    rule = make_rule("""
        selection:
            CommandLine|re: '^'
        condition: selection
    """)
    events = field_events("CommandLine", "", "x", None, ...)

    assert reference_matches(rule, events) == [0, 1]


def test_regex_ignorecase_flag() -> None:
    rule = make_rule("""
        selection:
            CommandLine|re|i: '^invoke-(expression|webrequest)$'
        condition: selection
    """)
    events = field_events(
        "CommandLine", "INVOKE-WEBREQUEST", "invoke-command", "x invoke-expression"
    )

    assert reference_matches(rule, events) == [0]


def test_regex_searches_the_rendered_number() -> None:
    rule = make_rule("""
        selection:
            EventID|re: '^46'
        condition: selection
    """)
    events = field_events("EventID", 4624, "4688", 5140, ...)

    assert reference_matches(rule, events) == [0, 1]


def test_cidr() -> None:
    rule = make_rule("""
        selection:
            SourceIp|cidr:
                - 10.0.0.0/8
                - fe80::/10
        condition: selection
    """)
    events = field_events(
        "SourceIp", "10.1.2.3", "11.0.0.1", "not-an-ip", None, " 10.0.0.1 ", "FE80::1", "::1"
    )

    assert reference_matches(rule, events) == [0, 4, 5]


def test_base64offset_contains_finds_the_text_at_every_offset() -> None:
    rule = make_rule("""
        selection:
            CommandLine|base64offset|contains: 'http://'
        condition: selection
    """)
    encoded = [
        b64encode(prefix + b"http://evil.example/x").decode() for prefix in (b"", b"a", b"ab")
    ]
    events = field_events(
        "CommandLine",
        *encoded,
        "http://evil.example/x",
        b64encode(b"ftp://evil.example/x").decode(),
    )

    assert reference_matches(rule, events) == [0, 1, 2]


def test_windash_accepts_every_dash_and_the_slash() -> None:
    rule = make_rule("""
        selection:
            CommandLine|windash|contains: ' -exec bypass'
        condition: selection
    """)
    events = field_events(
        "CommandLine",
        "powershell /exec bypass",
        "powershell -Exec Bypass",
        "powershell \u2013exec bypass",
        "powershell \u2014exec bypass",
        "powershell \u2015exec bypass",
        "powershell exec bypass",
        "powershell +exec bypass",
    )

    assert reference_matches(rule, events) == [0, 1, 2, 3, 4]


def test_windash_values_stay_or_linked_under_all() -> None:
    rule = make_rule("""
        selection:
            CommandLine|windash|contains|all:
                - ' -nop '
                - ' -enc '
        condition: selection
    """)
    events = field_events(
        "CommandLine", "ps /nop -enc x", "ps -nop /enc x", "ps -nop x", "ps /enc /nop x"
    )

    assert reference_matches(rule, events) == [0, 1, 3]


def test_exists_true_and_false() -> None:
    present = make_rule("""
        selection:
            Token|exists: true
        condition: selection
    """)
    absent = make_rule("""
        selection:
            Token|exists: false
        condition: selection
    """)
    events = field_events("Token", "x", None, ..., "")

    assert reference_matches(present, events) == [0, 3]
    assert reference_matches(absent, events) == [1, 2]


def test_null_matches_null_and_missing_only() -> None:
    rule = make_rule("""
        selection:
            ParentImage: null
        condition: selection
    """)
    events = field_events("ParentImage", None, ..., "", "null")

    assert reference_matches(rule, events) == [0, 1]


def test_lt_compares_parsed_numbers() -> None:
    rule = make_rule("""
        selection:
            Size|lt: 100
        condition: selection
    """)
    events = field_events("Size", 99, 100, "50.5", "big", ..., True, " 5", 1e2, "1_0")

    assert reference_matches(rule, events) == [0, 2]


def test_gte_compares_parsed_numbers() -> None:
    rule = make_rule("""
        selection:
            Port|gte: 1024
        condition: selection
    """)
    events = field_events("Port", 1023, 1024, "65535", 1023.5, None)

    assert reference_matches(rule, events) == [1, 2]


def test_integer_values_compare_as_rendered_text() -> None:
    rule = make_rule("""
        selection:
            EventID: 4624
        condition: selection
    """)
    events = field_events("EventID", 4624, "4624", 4624.0, "04624", 4625, ...)

    assert reference_matches(rule, events) == [0, 1]


def test_float_values_compare_as_parsed_numbers() -> None:
    rule = make_rule("""
        selection:
            Ratio: 0.5
        condition: selection
    """)
    events = field_events("Ratio", 0.5, "0.50", "abc", " 0.5", True)

    assert reference_matches(rule, events) == [0, 1]


def test_booleans_match_their_rendering() -> None:
    rule = make_rule("""
        selection:
            Enabled: true
        condition: selection
    """)
    events = field_events("Enabled", True, "TRUE", "true", False, 1, None)

    assert reference_matches(rule, events) == [0, 1, 2]


def test_string_values_see_booleans_and_numbers_rendered() -> None:
    rule = make_rule("""
        selection:
            Flag:
                - 'TRUE'
                - '1.5'
        condition: selection
    """)
    events = field_events("Flag", True, False, 1.5, "1.50")

    assert reference_matches(rule, events) == [0, 2]


def test_fieldref_compares_two_fields_ignoring_case() -> None:
    rule = make_rule("""
        selection:
            TargetUser|fieldref: SubjectUser
        condition: selection
    """)
    events: list[dict[str, object]] = [
        {"TargetUser": "Bob", "SubjectUser": "bob"},
        {"TargetUser": "bob", "SubjectUser": "alice"},
        {"TargetUser": "bob"},
        {"TargetUser": None, "SubjectUser": None},
        {},
    ]

    assert reference_matches(rule, events) == [0]


def test_fieldref_with_startswith_endswith_and_contains() -> None:
    starts = make_rule("""
        selection:
            Path|fieldref|startswith: Dir
        condition: selection
    """)
    ends = make_rule("""
        selection:
            Path|fieldref|endswith: Dir
        condition: selection
    """)
    contains = make_rule("""
        selection:
            Path|fieldref|contains: Dir
        condition: selection
    """)
    events: list[dict[str, object]] = [
        {"Path": "C:\\Temp\\a.exe", "Dir": "c:\\temp"},
        {"Path": "C:\\Temp\\a.exe", "Dir": "A.EXE"},
        {"Path": "C:\\Temp\\a.exe", "Dir": "temp"},
        {"Path": "C:\\Temp\\a.exe", "Dir": "other"},
    ]

    assert reference_matches(starts, events) == [0]
    assert reference_matches(ends, events) == [1]
    assert reference_matches(contains, events) == [0, 1, 2]


def test_cased_keeps_case() -> None:
    rule = make_rule("""
        exact:
            Image|cased: PowerShell.exe
        inside:
            CommandLine|cased|contains: 'IEX'
        condition: exact or inside
    """)
    events: list[dict[str, object]] = [
        {"Image": "PowerShell.exe"},
        {"Image": "powershell.exe"},
        {"CommandLine": "a IEX b"},
        {"CommandLine": "a iex b"},
    ]

    assert reference_matches(rule, events) == [0, 2]


def test_keywords_search_every_string_value() -> None:
    rule = make_rule("""
        keywords:
            - mimikatz
            - 'sekurlsa::*pass'
        condition: keywords
    """)
    events: list[dict[str, object]] = [
        {"CommandLine": "run MIMIKATZ.exe"},
        {"Message": "sekurlsa::logonpasswords"},
        {"Message": "sekurlsa::tickets"},
        {"Message": None, "Other": "nothing"},
        {},
    ]

    assert reference_matches(rule, events) == [0, 1]


def test_numeric_keywords_search_strings_only() -> None:
    rule = make_rule("""
        keywords:
            - 4624
        condition: keywords
    """)
    events: list[dict[str, object]] = [
        {"Message": "event 4624 logged"},
        {"EventID": 4624},
        {"Message": "4625"},
    ]

    assert reference_matches(rule, events) == [0]


def test_one_of_a_prefix() -> None:
    rule = make_rule("""
        selection_img:
            Image|endswith: \\rundll32.exe
        selection_cli:
            CommandLine|contains: javascript
        unrelated:
            User: SYSTEM
        condition: 1 of selection_*
    """)
    events: list[dict[str, object]] = [
        {"Image": "C:\\rundll32.exe"},
        {"CommandLine": "x javascript:y"},
        {"User": "SYSTEM"},
        {},
    ]

    assert reference_matches(rule, events) == [0, 1]


def test_all_of_them() -> None:
    rule = make_rule("""
        selection_img:
            Image|endswith: \\rundll32.exe
        selection_cli:
            CommandLine|contains: javascript
        condition: all of them
    """)
    events: list[dict[str, object]] = [
        {"Image": "C:\\rundll32.exe", "CommandLine": "javascript:x"},
        {"Image": "C:\\rundll32.exe"},
        {"CommandLine": "javascript:x"},
    ]

    assert reference_matches(rule, events) == [0]


def test_not_filter_holds_when_the_filter_field_is_missing() -> None:
    rule = make_rule("""
        selection:
            Image|endswith: \\cmd.exe
        filter:
            ParentImage|endswith: \\explorer.exe
        condition: selection and not filter
    """)
    events: list[dict[str, object]] = [
        {"Image": "C:\\cmd.exe", "ParentImage": "C:\\explorer.exe"},
        {"Image": "C:\\cmd.exe", "ParentImage": "C:\\winword.exe"},
        {"Image": "C:\\cmd.exe"},
        {"Image": "C:\\cmd.exe", "ParentImage": None},
        {"Image": "C:\\notepad.exe"},
    ]

    assert reference_matches(rule, events) == [1, 2, 3]


def test_a_lone_not_matches_events_without_the_field() -> None:
    rule = make_rule("""
        selection:
            User|startswith: adm
        condition: not selection
    """)
    events = field_events("User", "admin", "bob", ..., None)

    assert reference_matches(rule, events) == [1, 2, 3]


def test_neq_negates_the_value_list() -> None:
    rule = make_rule("""
        selection:
            LogonType|neq:
                - 3
                - 10
        condition: selection
    """)
    events = field_events("LogonType", 3, 10, 2, ...)

    assert reference_matches(rule, events) == [2, 3]


def test_fields_of_one_selection_are_and_linked_and_list_items_or_linked() -> None:
    rule = make_rule("""
        selection:
            - Image|endswith: \\net.exe
              CommandLine|contains: user
            - Image|endswith: \\whoami.exe
        condition: selection
    """)
    events: list[dict[str, object]] = [
        {"Image": "C:\\net.exe", "CommandLine": "net user"},
        {"Image": "C:\\net.exe", "CommandLine": "net view"},
        {"Image": "C:\\whoami.exe"},
    ]

    assert reference_matches(rule, events) == [0, 2]


def test_several_conditions_are_or_linked() -> None:
    rule = make_rule("""
        first:
            A: x
        second:
            B: y
        condition:
            - first
            - second
    """)
    events: list[dict[str, object]] = [{"A": "x"}, {"B": "y"}, {"A": "y", "B": "x"}]

    assert reference_matches(rule, events) == [0, 1]


def test_reference_match_agrees_with_reference_matches() -> None:
    rule = make_rule("""
        selection:
            CommandLine|contains: whoami
        filter:
            User: SYSTEM
        condition: selection and not filter
    """)
    events: list[dict[str, object]] = [
        {"CommandLine": "whoami", "User": "system"},
        {"CommandLine": "whoami /all"},
        {"User": "bob"},
    ]

    expected = [index for index, event in enumerate(events) if reference_match(rule, event)]
    assert reference_matches(rule, events) == expected == [1]


@pytest.mark.parametrize(
    "detection",
    [
        """
        selection:
            Timestamp|minute: 30
        condition: selection
        """,
        """
        selection:
            Host|expand: '%internal_hosts%'
        condition: selection
        """,
        """
        keywords:
            - true
        condition: keywords
        """,
    ],
    ids=["timestamp-part", "unresolved-placeholder", "boolean-keyword"],
)
def test_unsupported_values_are_refused_even_for_empty_events(detection: str) -> None:
    rule = make_rule(detection)

    with pytest.raises(NotImplementedError):
        reference_match(rule, {})
