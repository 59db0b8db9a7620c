"""Rules verified row by row in Python on their candidate rows: the same matches as Polars."""

from __future__ import annotations

import polars as pl
from hypothesis import HealthCheck, given, settings
from sigma.rule import SigmaRule

from detect import CompiledRuleSet
from detect.folding import fold_expr
from detect.ir import fields_of
from detect.plans import lowered_fields
from detect.reference import reference_matches
from detect.rowwise import LeafTests, compile_program, run_programs
from tests.test_detect.test_agreement import events, rules

SCHEMA: dict[str, pl.DataType] = {
    "a": pl.String(),
    "b": pl.String(),
    "c": pl.String(),
    "d": pl.List(pl.String),
    "n": pl.Int64(),
}


def _both(text: str, events: pl.DataFrame) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """Matches with rules verified row by row where they can be, and all in Polars."""
    ruleset = CompiledRuleSet.from_yaml(text, pipeline="none")
    assert not ruleset.rejected, [str(p) for p in ruleset.rejected]
    rowwise = ruleset.evaluate(events).select("row", "rule_title").rows()
    polars = ruleset.with_thresholds(rowwise_pairs=0).evaluate(events)
    return rowwise, polars.select("row", "rule_title").rows()


RULES = """
title: Encoded PowerShell
id: 7d4b1e2a-3c5f-4a6b-8d9e-0f1a2b3c4d5e
logsource: {category: process_creation, product: windows}
detection:
  selection:
    EventID: 1
    Image|endswith: ['\\\\powershell.exe', '\\\\pwsh.exe']
    CommandLine|contains: [' -enc ', ' -e ']
  filter:
    ParentImage|startswith: 'C:\\\\Program Files\\\\'
  condition: selection and not filter
---
title: Script from a temp folder
id: 1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d
logsource: {category: process_creation, product: windows}
detection:
  selection:
    CommandLine|contains: 'wscript'
    CommandLine: '*\\\\temp\\\\*.vbs'
  condition: selection
---
title: Greek marker, cased
id: 2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e
logsource: {category: process_creation, product: windows}
detection:
  selection:
    Description|contains: 'ΟΣΑ'
    Company|cased: 'Σ Ltd'
  condition: selection
"""


def test_rules_with_strings_wildcards_numbers_and_not_match_alike_row_by_row() -> None:
    events = pl.DataFrame(
        {
            "EventID": [1, 1, 1, 2, 1, 1, 1, None],
            "Image": [
                r"C:\Windows\PowerShell.EXE",
                r"C:\x\pwsh.exe",
                r"C:\Windows\powershell.exe",
                r"C:\Windows\powershell.exe",
                r"C:\Windows\wscript.exe",
                r"C:\Windows\wscript.exe",
                None,
                r"C:\x\pwsh.exe",
            ],
            "CommandLine": [
                "powershell -ENC aGk=",
                "pwsh -e aGk=",
                "powershell -enc aGk=",
                "powershell -enc aGk=",
                r"wscript C:\Users\a\Temp\run.vbs",
                "wscript C:\\Users\\a\\Temp\\run.vbs\n",  # a final newline: no match
                None,
                "pwsh -e aGk=",
            ],
            "ParentImage": [None, r"C:\Program Files\x.exe", r"C:\x.exe", *[None] * 5],
            "Description": [None, None, None, None, None, None, "οσα tool", None],
            "Company": [None, None, None, None, None, None, "Σ Ltd", None],
        }
    )
    expected = [
        (0, "Encoded PowerShell"),
        (2, "Encoded PowerShell"),
        (4, "Script from a temp folder"),
        (6, "Greek marker, cased"),
    ]
    rowwise, polars = _both(RULES, events)
    assert rowwise == expected
    assert polars == expected


def test_a_regex_is_a_leaf_test_run_by_polars_inside_the_rules_program() -> None:
    ruleset = CompiledRuleSet.from_yaml(
        """
title: Carets
id: 3c4d5e6f-7a8b-4c9d-8e0f-2a3b4c5d6e7f
logsource: {category: process_creation, product: windows}
detection:
  selection:
    CommandLine|contains: 'cmd'
    CommandLine|re: '\\^.*\\^'
  condition: selection
""",
        pipeline="none",
    )
    node = ruleset.rules[0].node
    assert compile_program(node, {}, str) is None  # without leaf tests: Polars only
    tests = LeafTests(str)
    program = compile_program(node, {}, str, tests)
    assert program is not None
    assert [kind for kind, _ in program.inputs] == ["lower", "test"]
    events = pl.DataFrame({"CommandLine": ["cmd /c e^c^ho", "cmd /c echo", None, "cmd ^^"]})
    every_row = pl.Series("row", range(events.height), dtype=pl.UInt32)
    found = run_programs(events, [([(0, program)], every_row)], str, tests)
    assert found["row"].to_list() == [0, 3]
    rowwise, polars = _both(
        """
title: Carets
id: 3c4d5e6f-7a8b-4c9d-8e0f-2a3b4c5d6e7f
logsource: {category: process_creation, product: windows}
detection:
  selection:
    CommandLine|contains: 'cmd'
    CommandLine|re: '\\^.*\\^'
  condition: selection
""",
        events,
    )
    assert rowwise == polars == [(0, "Carets"), (3, "Carets")]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_text=rules(), batch=events)
def test_a_rule_program_matches_the_rows_the_reference_matcher_does(
    rule_text: str, batch: list[dict[str, object]]
) -> None:
    ruleset = CompiledRuleSet.from_yaml(rule_text, pipeline="none")
    node = ruleset.rules[0].node
    tests = LeafTests(lambda field: "lc_" + field)
    program = compile_program(node, {}, lambda field: "lc_" + field, tests)
    if program is None or "d" in fields_of(node):
        return  # keywords are verified in Polars; list fields never reach this path
    frame = pl.DataFrame(batch, schema=SCHEMA)
    prepared = frame.with_columns(
        fold_expr(pl.col(f).cast(pl.String)).alias("lc_" + f) for f in lowered_fields(node)
    )
    every_row = pl.Series("row", range(frame.height), dtype=pl.UInt32)
    found = run_programs(
        prepared, [([(0, program)], every_row)], lambda field: "lc_" + field, tests
    )
    expected = reference_matches(SigmaRule.from_yaml(rule_text), batch)
    assert found["row"].to_list() == expected
