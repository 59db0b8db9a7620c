"""Property: the Polars engine matches exactly what the plain-Python reference matcher does.

Rules and events are generated from a small alphabet so that values collide often and every
modifier, wildcard and condition form gets exercised against real matches, not only misses.
The alphabet holds letters whose case folding is not their lower case (long s, final
sigma, sharp s), and field ``d`` holds lists, matched element by element.
"""

from __future__ import annotations

import json

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sigma.rule import SigmaRule

from detect import CompiledRuleSet
from detect.engine import Strategy
from detect.reference import reference_matches

FIELDS = ("a", "b", "c", "d")
ALPHABET = "aAb-\\sSſΣσςß"
text_values = st.text(alphabet=ALPHABET, min_size=0, max_size=4)
plain_patterns = st.text(alphabet=ALPHABET, min_size=1, max_size=2)
pattern_values = st.one_of(
    plain_patterns, plain_patterns, st.text(alphabet=ALPHABET + "*?", min_size=1, max_size=3)
)

STRING_MODIFIERS = ("", "|contains", "|startswith", "|endswith", "|contains|all", "|cased")


@st.composite
def detection_items(draw: st.DrawFn) -> str:
    field = draw(st.sampled_from((*FIELDS, "n")))
    if field == "n":
        op = draw(st.sampled_from(("|lt", "|lte", "|gt", "|gte", "")))
        return f"n{op}: {draw(st.integers(0, 4))}"
    kind = draw(st.sampled_from(("string", "string", "string", "re", "exists", "null", "ref")))
    if kind == "re":
        literal = draw(st.text(alphabet="abABsſΣς", min_size=1, max_size=3))
        flags = draw(st.sampled_from(("", "|i")))
        anchor = draw(st.sampled_from(("", "^", ".")))
        return f"{field}|re{flags}: {json.dumps(anchor + literal)}"
    if kind == "exists":
        return f"{field}|exists: {draw(st.sampled_from(('true', 'false')))}"
    if kind == "null":
        return f"{field}: null"
    if kind == "ref":
        other = draw(st.sampled_from([f for f in FIELDS if f != field]))
        return f"{field}|fieldref: {other}"
    modifier = draw(st.sampled_from(STRING_MODIFIERS))
    values = draw(st.lists(pattern_values, min_size=1, max_size=3))
    return f"{field}{modifier}: [{', '.join(json.dumps(v) for v in values)}]"


@st.composite
def conditions(draw: st.DrawFn, names: list[str], depth: int = 0) -> str:
    if depth >= 2 or draw(st.booleans()):
        leaf = draw(st.sampled_from([*names, "1 of sel*", "all of sel*", "1 of them"]))
        return f"not {leaf}" if draw(st.integers(0, 3)) == 0 else leaf
    op = draw(st.sampled_from(("and", "or")))
    left = draw(conditions(names, depth + 1))
    right = draw(conditions(names, depth + 1))
    return f"({left} {op} {right})"


@st.composite
def rules(draw: st.DrawFn, *, simple: bool = False) -> str:
    count = 1 if simple else draw(st.integers(1, 3))
    selections = []
    for index in range(count):
        most = 1 if simple else 3
        items = draw(st.lists(detection_items(), min_size=1, max_size=most, unique_by=_field_of))
        body = "\n".join(f"    {item}" for item in items)
        selections.append(f"  sel{index}:\n{body}")
    names = [f"sel{i}" for i in range(count)]
    condition = draw(st.sampled_from(names)) if simple else draw(conditions(names))
    return (
        "title: Generated\n"
        "id: 9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d\n"
        "logsource: {category: test, product: test}\n"
        "detection:\n" + "\n".join(selections) + f"\n  condition: {condition}\n"
    )


def _field_of(item: str) -> str:
    return item.split(":", maxsplit=1)[0].split("|", maxsplit=1)[0]


events = st.lists(
    st.fixed_dictionaries(
        {
            "a": st.one_of(st.none(), text_values),
            "b": st.one_of(st.none(), text_values),
            "c": st.one_of(st.none(), text_values),
            "d": st.one_of(st.none(), st.lists(text_values, max_size=3)),
            "n": st.one_of(st.none(), st.integers(-1, 5)),
        }
    ),
    min_size=1,
    max_size=12,
)


SCHEMA: dict[str, pl.DataType] = {
    "a": pl.String(),
    "b": pl.String(),
    "c": pl.String(),
    "d": pl.List(pl.String()),
    "n": pl.Int64(),
}


def check_agreement(
    rule_text: str, batch: list[dict[str, object]], schema: dict[str, pl.DataType] = SCHEMA
) -> None:
    expected = reference_matches(SigmaRule.from_yaml(rule_text), batch)
    frame = pl.DataFrame(batch, schema=schema)
    # Fast row by row (searched in one step or column by column; groups of rules verified
    # together in Python or in one select, or one query each), fast once per distinct
    # row, and naive.
    runs: tuple[tuple[Strategy, float, int | None, int | None], ...] = (
        ("fast", 0.0, None, None),
        ("fast", 0.0, None, 0),
        ("fast", 0.0, 0, None),
        ("fast", 1.0, None, None),
        ("naive", 0.0, None, None),
    )
    for strategy, distinct_share, thresholds, rowwise in runs:
        ruleset = CompiledRuleSet.from_yaml(rule_text, pipeline="none", strategy=strategy)
        ruleset = ruleset.with_distinct_share(distinct_share).with_thresholds(
            one_step_rows=thresholds, together_rows=thresholds, rowwise_pairs=rowwise
        )
        assert not ruleset.rejected, [str(p) for p in ruleset.rejected]
        found = ruleset.evaluate(frame)["row"].to_list()
        assert found == expected, (strategy, distinct_share, thresholds, rowwise)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_text=rules(simple=True), batch=events)
def test_each_detection_item_agrees_with_reference(
    rule_text: str, batch: list[dict[str, object]]
) -> None:
    check_agreement(rule_text, batch)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_text=rules(), batch=events)
def test_conditions_agree_with_reference(rule_text: str, batch: list[dict[str, object]]) -> None:
    check_agreement(rule_text, batch)


@st.composite
def keyword_rules(draw: st.DrawFn) -> str:
    """A keyword list (a search of every text value) alone or with a selection."""
    values = draw(st.lists(pattern_values, min_size=1, max_size=3))
    keywords = "\n".join(f"    - {json.dumps(v)}" for v in values)
    item = draw(detection_items().filter(lambda i: _field_of(i) != "d"))
    condition = draw(
        st.sampled_from(
            [
                "keywords",
                "keywords and sel0",
                "keywords or sel0",
                "not keywords",
                "sel0 and not keywords",
            ]
        )
    )
    return (
        "title: Generated keywords\n"
        "id: 4b3c2d1e-0f9a-4b8c-9d7e-6f5a4b3c2d1e\n"
        "logsource: {category: test, product: test}\n"
        f"detection:\n  keywords:\n{keywords}\n  sel0:\n    {item}\n  condition: {condition}\n"
    )


# Text columns only: a keyword is then searched in the values joined into one text, where
# a value that ends as the next one starts must not make a match across the two.
text_events = st.lists(
    st.fixed_dictionaries(
        {
            "a": st.one_of(st.none(), text_values),
            "b": st.one_of(st.none(), text_values),
            "c": st.one_of(st.none(), text_values),
            "n": st.one_of(st.none(), st.integers(-1, 5)),
        }
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_text=keyword_rules(), batch=text_events)
def test_keywords_agree_with_reference(rule_text: str, batch: list[dict[str, object]]) -> None:
    schema = {name: dtype for name, dtype in SCHEMA.items() if name != "d"}
    check_agreement(rule_text, batch, schema)
