"""The fixed-layout CLF stamp reading agrees with the general one wherever it gives a value."""

from datetime import UTC, datetime, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.parsers.timestamps import parse_clf, parse_clf_fixed, parse_epoch_millis, parse_iso8601

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def both(stamps: list[str]) -> tuple[list[datetime | None], list[datetime | None]]:
    column = pl.Series(stamps, dtype=pl.String)
    fixed = pl.select(parse_clf_fixed(pl.lit(column))).to_series().to_list()
    general = pl.select(parse_clf(pl.lit(column))).to_series().to_list()
    return fixed, general


def test_reads_the_layout_nginx_writes() -> None:
    fixed, general = both(["10/Oct/2000:13:55:36 -0700", "29/Feb/2024:23:59:59 +0530"])
    expected = [
        datetime(2000, 10, 10, 20, 55, 36, tzinfo=UTC),
        datetime(2024, 2, 29, 18, 29, 59, tzinfo=UTC),
    ]
    assert fixed == expected
    assert general == expected


def test_leaves_other_layouts_and_impossible_dates_null() -> None:
    fixed, general = both(
        [
            "1/Oct/2000:13:55:36 -0700",  # one-digit day: only the general reading
            "29/Feb/2023:00:00:00 +0000",  # no such day
            "10/Oct/2000:13:55:36 0700",  # offset without sign
            "10/Oct/2000:13:55:36 +0760",  # offset minutes out of range
            "10/Oct/2000:13:55:36 +3000",  # offset hours out of range
            "10/Oct/2000:13:55:36 -0700 ",
        ]
    )
    assert fixed == [None] * 6
    assert general[0] == datetime(2000, 10, 1, 20, 55, 36, tzinfo=UTC)
    assert general[1:] == [None] * 5


@st.composite
def clf_stamps(draw: st.DrawFn) -> str:
    """Well-formed stamps, and stamps with one character changed."""
    moment = draw(st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30)))
    minutes = draw(st.integers(-23 * 60 - 59, 23 * 60 + 59))
    sign = "-" if minutes < 0 else "+"
    stamp = (
        f"{moment.day:02d}/{MONTHS[moment.month - 1]}/{moment.year:04d}:"
        f"{moment:%H:%M:%S} {sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
    )
    if draw(st.booleans()):
        index = draw(st.integers(0, len(stamp) - 1))
        stamp = stamp[:index] + draw(st.characters(codec="utf-8")) + stamp[index + 1 :]
    return stamp


@settings(max_examples=300, deadline=None)
@given(stamps=st.lists(clf_stamps(), min_size=1, max_size=20))
def test_fixed_reading_never_disagrees(stamps: list[str]) -> None:
    fixed, general = both(stamps)
    for stamp, quick, slow in zip(stamps, fixed, general, strict=True):
        assert quick is None or quick == slow, stamp


@settings(max_examples=100, deadline=None)
@given(
    moment=st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30)),
    minutes=st.integers(-23 * 60 - 59, 23 * 60 + 59),
)
def test_fixed_reading_covers_every_well_formed_stamp(moment: datetime, minutes: int) -> None:
    sign = "-" if minutes < 0 else "+"
    stamp = (
        f"{moment.day:02d}/{MONTHS[moment.month - 1]}/{moment.year:04d}:"
        f"{moment:%H:%M:%S} {sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
    )
    fixed, _ = both([stamp])
    local = moment.replace(microsecond=0, tzinfo=UTC)
    assert fixed == [local - timedelta(minutes=minutes)]


def test_instants_outside_years_1_to_9999_are_null() -> None:
    fixed, general = both(["01/Jan/0000:00:00:00 +0000", "01/Jan/0001:00:30:00 +0100"])
    assert fixed == [None, None]
    assert general == [None, None]
    iso = pl.Series(["0000-06-01T00:00:00Z", "9999-12-31T23:59:59-01:00"])
    assert pl.select(parse_iso8601(pl.lit(iso))).to_series().to_list() == [None, None]


def test_epoch_millis_too_large_for_microseconds_are_null_not_wrapped() -> None:
    millis = pl.Series(["9223372036854775807", "-99999999999999999", "253402300799999"])
    read = pl.select(parse_epoch_millis(pl.lit(millis))).to_series().to_list()
    assert read == [None, None, datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)]
