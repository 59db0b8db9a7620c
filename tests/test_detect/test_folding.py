"""Case folding in Python (rule values) and in Polars (columns) gives the same text."""

from __future__ import annotations

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from detect.folding import FOLDABLE, fold, fold_expr, generated_table


def test_the_written_out_table_is_pythons() -> None:
    from detect import folding

    assert dict(zip(folding._FROM, folding._TO, strict=True)) == generated_table()


def test_foldable_class_lists_exactly_the_table() -> None:
    assert set(FOLDABLE[1:-1]) == set(generated_table())


@given(st.lists(st.text(alphabet="aSsſΣσςΟοKkKßẞµμİıiﬁĳ .-", max_size=8), max_size=5))
def test_polars_folds_columns_as_python_folds_values(values: list[str]) -> None:
    frame = pl.DataFrame({"v": values}, schema={"v": pl.String})
    assert frame.select(fold_expr(pl.col("v")))["v"].to_list() == [fold(v) for v in values]
