"""Case folding in Python (rule values) and in Polars (columns) gives the same text."""

from __future__ import annotations

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from detect.folding import (
    FOLDABLE,
    FOLDS_TO_ASCII,
    fold,
    fold_expr,
    folds_to_ascii,
    generated_table,
)


def test_the_written_out_table_is_pythons() -> None:
    from detect import folding

    assert dict(zip(folding._FROM, folding._TO, strict=True)) == generated_table()


def test_foldable_class_lists_exactly_the_table() -> None:
    assert set(FOLDABLE[1:-1]) == set(generated_table())


def test_only_the_written_out_characters_beyond_ascii_fold_to_ascii_in_polars_too() -> None:
    # The keywords' joined text has only its ASCII letters lower-cased where a row holds
    # none of these: every other character beyond ASCII must fold to none of ASCII.
    assert folds_to_ascii() == FOLDS_TO_ASCII
    points = [p for p in range(0x80, 0x110000) if not 0xD800 <= p < 0xE000]
    chars = pl.Series("c", [chr(p) for p in points], dtype=pl.String)
    folded = pl.DataFrame([chars]).select(fold_expr(pl.col("c")))["c"]
    holds_ascii = folded.str.contains(r"[\x00-\x7f]")
    assert set(chars.filter(holds_ascii).to_list()) == set(FOLDS_TO_ASCII)


@given(st.lists(st.text(alphabet="aSsſΣσςΟοKkKßẞµμİıiﬁĳ .-", max_size=8), max_size=5))
def test_polars_folds_columns_as_python_folds_values(values: list[str]) -> None:
    frame = pl.DataFrame({"v": values}, schema={"v": pl.String})
    assert frame.select(fold_expr(pl.col("v")))["v"].to_list() == [fold(v) for v in values]


PRODUCTS = """
title: Greek Product
id: 5a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d
logsource: {category: process_creation, product: windows}
detection:
  selection:
    Product|contains: 'ΟΣΑ'
  condition: selection
---
title: Long S Product
id: 6b2c3d4e-5f6a-4b7c-9d8e-0f1a2b3c4d5e
logsource: {category: process_creation, product: windows}
detection:
  selection:
    Product|endswith: 'powershell®'
  condition: selection
"""


@given(st.lists(st.sampled_from(["ΟΣΑ Ltd", "POWERſHELL®", "Windows®", None]), max_size=40))
def test_a_repetitive_column_is_folded_once_per_value_with_the_same_matches(
    products: list[str | None],
) -> None:
    from detect import CompiledRuleSet

    calibration = pl.DataFrame({"Product": ["Windows®", "ΟΣΑ Ltd"] * 500})
    ruleset = CompiledRuleSet.from_yaml(PRODUCTS, pipeline="none").calibrate(calibration)
    assert "Product" in ruleset._repetitive  # the path under test
    events = pl.DataFrame({"Product": products}, schema={"Product": pl.String})
    found = ruleset.evaluate(events).select("row", "rule_title").rows()
    expected = [
        (row, title)
        for row, product in enumerate(products)
        for title, holds in (
            ("Greek Product", product is not None and "οσα" in fold(product)),
            ("Long S Product", product is not None and fold(product).endswith("powershell®")),
        )
        if holds
    ]
    assert found == expected
