"""split_syslog: RFC 5424, RFC 3164, bare <PRI> and unframed lines."""

from datetime import UTC, datetime

import polars as pl

from ingest.parsers import split_syslog


def split_one(line: str | None, *, year: int = 2024) -> dict[str, object]:
    return split_syslog(pl.Series([line], dtype=pl.String), year=year).row(0, named=True)


def test_rfc5424_header_fields_and_message() -> None:
    row = split_one("<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - 'su root'")
    assert row == {
        "timestamp": datetime(2003, 10, 11, 22, 14, 15, 3000, tzinfo=UTC),
        "hostname": "mymachine.example.com",
        "appname": "su",
        "priority": 34,
        "message": "'su root'",
    }


def test_rfc5424_offset_structured_data_and_nil_values() -> None:
    line = (
        "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - "
        '[exampleSDID@32473 iut="3" eventSource="Application"] An application event'
    )
    row = split_one(line)
    assert row["timestamp"] == datetime(2003, 8, 24, 12, 14, 15, 3, tzinfo=UTC)
    assert row["message"] == "An application event"
    nil = split_one("<13>1 - - - - - -")
    assert (nil["timestamp"], nil["hostname"], nil["appname"], nil["message"]) == (
        None,
        None,
        None,
        "",
    )


def test_rfc3164_takes_the_year_from_the_caller() -> None:
    row = split_one("<34>Oct  1 22:14:15 mymachine su[230]: 'su root' failed", year=2021)
    assert row == {
        "timestamp": datetime(2021, 10, 1, 22, 14, 15, tzinfo=UTC),
        "hostname": "mymachine",
        "appname": "su",
        "priority": 34,
        "message": "'su root' failed",
    }


def test_rfc3164_without_priority_and_with_rfc3339_stamp() -> None:
    plain = split_one("Oct 11 22:14:15 gw kernel: [12.3] DROP IN=eth0")
    assert (plain["hostname"], plain["appname"], plain["priority"]) == ("gw", "kernel", None)
    assert plain["message"] == "[12.3] DROP IN=eth0"
    forwarded = split_one("<13>2023-01-02T03:04:05+02:00 relay app: hello")
    assert forwarded["timestamp"] == datetime(2023, 1, 2, 1, 4, 5, tzinfo=UTC)
    assert (forwarded["hostname"], forwarded["message"]) == ("relay", "hello")


def test_bare_priority_and_unframed_lines() -> None:
    frame = split_syslog(pl.Series(["<189>date=2019-05-10 x=1", "no framing", None]), year=2024)
    assert frame.get_column("priority").to_list() == [189, None, None]
    assert frame.get_column("message").to_list() == ["date=2019-05-10 x=1", "no framing", None]
    assert frame.get_column("hostname").null_count() == 3


def test_columns_and_types() -> None:
    frame = split_syslog(pl.Series([], dtype=pl.String), year=2024)
    assert dict(frame.schema) == (
        {
            "timestamp": pl.Datetime("us", "UTC"),
            "hostname": pl.String,
            "appname": pl.String,
            "priority": pl.Int32,
            "message": pl.String,
        }
    )


def test_priority_in_digits_of_another_script_is_null_not_an_error() -> None:
    # ``\d`` matches the Arabic-Indic digit three; it used to make the Int32 cast raise.
    frame = split_syslog(pl.Series(["<\u0663>hello"]), year=2024)
    assert frame.row(0) == (None, None, None, None, "hello")
