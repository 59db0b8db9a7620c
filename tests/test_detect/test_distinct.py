"""Grouping a batch by its distinct rows: when it is done, and what it reports."""

import polars as pl

from detect.distinct import ROWS, estimated_distinct, fan_out, group_rows


def images(values: list[str]) -> pl.DataFrame:
    return pl.DataFrame({"Image": values})


def test_a_large_repeating_batch_is_grouped_after_its_sample_says_so() -> None:
    keys = images([r"C:\a.exe", r"C:\b.exe", r"C:\c.exe"] * 20_000)
    groups = group_rows(keys, 0.5, sample_rows=1_000)
    assert groups is not None
    assert sorted(len(rows) for rows in groups[ROWS].to_list()) == [20_000] * 3


def test_a_sample_of_unique_rows_predicts_a_unique_batch() -> None:
    keys = images([f"C:\\tmp\\{n}.exe" for n in range(30_000)])
    assert estimated_distinct(keys, sample_rows=1_000) == 30_000
    assert group_rows(keys, 0.5, sample_rows=1_000) is None


def test_a_batch_that_stops_repeating_after_its_sample_is_not_grouped() -> None:
    # The first rows repeat, so the estimate says group; the count says otherwise.
    head = [r"C:\a.exe"] * 1_000
    tail = [f"C:\\tmp\\{n}.exe" for n in range(9_000)]
    keys = images(head + tail)
    assert estimated_distinct(keys, sample_rows=1_000) == 1
    assert group_rows(keys, 0.5, sample_rows=1_000) is None


def test_nulls_and_several_columns_group_as_equal_values() -> None:
    keys = pl.DataFrame({"Image": ["a", None, "a", None], "User": ["x", "y", "x", "y"]})
    groups = group_rows(keys, 0.5)
    assert groups is not None
    assert sorted(groups[ROWS].to_list()) == [[0, 2], [1, 3]]


def test_matches_of_a_group_reach_every_row_of_it() -> None:
    keys = images(["a", "b", "a", "b", "a"])
    groups = group_rows(keys, 1.0)
    assert groups is not None
    position_of_a = groups["Image"].to_list().index("a")
    pairs = pl.DataFrame(
        {"row": [position_of_a], "rule_index": [3]},
        schema={"row": pl.UInt32, "rule_index": pl.UInt32},
    )
    assert sorted(fan_out(pairs, groups).rows()) == [(0, 3), (2, 3), (4, 3)]


def test_grouping_is_off_at_share_zero_and_for_no_columns() -> None:
    assert group_rows(images(["a"] * 10), 0.0) is None
    assert group_rows(pl.DataFrame({"x": [1, 1]}).select([]), 1.0) is None


def test_float_columns_are_not_grouped_since_zero_and_minus_zero_read_differently() -> None:
    zeros = pl.DataFrame({"Score": [0.0, -0.0] * 10})
    assert group_rows(zeros, 1.0) is None
    nested = pl.DataFrame({"Scores": [[0.0], [-0.0]] * 10})
    assert group_rows(nested, 1.0) is None
