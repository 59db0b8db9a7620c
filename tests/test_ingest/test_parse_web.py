"""parse_web: nginx/Apache common and combined format, and IIS W3C extended logs."""

from datetime import UTC, datetime

import polars as pl

from ingest.parsers import parse_web
from ingest.schema import WEB_SCHEMA
from tests.test_ingest import ingest_samples as samples
from tests.test_ingest.ingest_samples import subset


def parse_rows(lines: list[str | None], iis_fields: str | None = None) -> list[dict[str, object]]:
    result = parse_web(pl.Series(lines, dtype=pl.String), year=2023, iis_fields=iis_fields)
    assert result.dead.height == 0, result.dead.to_dicts()
    return result.events.to_dicts()


def test_combined_line() -> None:
    expected = {
        "@timestamp": datetime(2000, 10, 10, 20, 55, 36, tzinfo=UTC),
        "event.original": samples.COMBINED,
        "event.dataset": "web.access",
        "event.kind": "event",
        "event.category": "web",
        "event.type": "access",
        "event.outcome": "success",
        "source.ip": "203.0.113.9",
        "user.name": "frank",
        "http.request.method": "GET",
        "http.version": "1.0",
        "url.original": "/apache_pb.gif?x=1&y=2",
        "url.path": "/apache_pb.gif",
        "url.query": "x=1&y=2",
        "http.response.status_code": 200,
        "http.response.body.bytes": 2326,
        "http.request.referrer": "http://www.example.com/start.html",
        "user_agent.original": "Mozilla/4.08 [en] (Win98; I ;Nav)",
        "destination.ip": None,
    }
    assert subset(parse_rows([samples.COMBINED])[0], expected) == expected


def test_common_line_dashes_are_nulls() -> None:
    expected = {
        "@timestamp": datetime(2000, 10, 10, 13, 55, 36, tzinfo=UTC),
        "source.ip": "192.0.2.1",
        "user.name": None,
        "http.request.method": "POST",
        "url.query": None,
        "http.response.status_code": 401,
        "http.response.body.bytes": None,
        "http.request.referrer": None,
        "user_agent.original": None,
        "event.outcome": "failure",
    }
    assert subset(parse_rows([samples.COMMON])[0], expected) == expected


def test_nginx_in_syslog_framing() -> None:
    expected = {
        "@timestamp": datetime(2023, 10, 11, 20, 14, 15, tzinfo=UTC),
        "host.name": "web01",
        "log.syslog.appname": "nginx",
        "source.ip": "10.0.0.5",
        "url.path": "/search",
        "url.query": "q=%27%20or%201=1",
        "http.response.status_code": 500,
        "http.request.referrer": None,
        "user_agent.original": "sqlmap/1.7.2#stable (https://sqlmap.org)",
    }
    assert subset(parse_rows([samples.NGINX_SYSLOG])[0], expected) == expected


def test_lines_the_fast_reading_refuses_are_read_by_the_regex() -> None:
    odd_request = '10.1.1.1 - - [10/Oct/2000:13:55:36 -0700] "GET /a b HTTP/1.1" 200 5 "-" "x"'
    tls_probe = '10.1.1.2 - - [10/Oct/2000:13:55:36 -0700] "\\x16\\x03\\x01" 400 150 "-" "-"'
    rows = parse_rows([samples.COMBINED, samples.APACHE_ESCAPED, odd_request, tls_probe])
    assert [subset(row, {"url.original": 0, "http.request.method": 0}) for row in rows] == [
        {"url.original": "/apache_pb.gif?x=1&y=2", "http.request.method": "GET"},
        {"url.original": '/a?x=\\"b\\"', "http.request.method": "GET"},
        {"url.original": "/a b", "http.request.method": "GET"},
        {"url.original": None, "http.request.method": None},
    ]
    assert rows[1]["url.query"] == 'x=\\"b\\"'
    assert [row["http.response.status_code"] for row in rows] == [200, 404, 200, 400]


def test_stamps_outside_the_fixed_layout_are_still_read() -> None:
    one_digit_day = '10.1.1.3 - - [1/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 5'
    no_such_day = '10.1.1.4 - - [31/Feb/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 5'
    result = parse_web(pl.Series([samples.COMBINED, one_digit_day, no_such_day]), year=2024)
    assert result.events.get_column("@timestamp").to_list() == [
        datetime(2000, 10, 10, 20, 55, 36, tzinfo=UTC),
        datetime(2000, 10, 1, 20, 55, 36, tzinfo=UTC),
    ]
    assert result.dead.select("position", "reason").rows() == [(2, "invalid timestamp")]


def test_iis_line_uses_the_fields_directive() -> None:
    directives = ["#Software: Microsoft Internet Information Services 10.0", samples.IIS_FIELDS]
    rows = parse_rows([*directives, samples.IIS_LINE])
    assert rows[0] | {"event.original": None} == dict.fromkeys(WEB_SCHEMA) | {
        "@timestamp": datetime(2019, 1, 22, 0, 0, 13, tzinfo=UTC),
        "event.dataset": "web.iis",
        "event.module": "iis",
        "event.kind": "event",
        "event.category": "web",
        "event.type": "access",
        "event.outcome": "success",
        "source.ip": "203.0.113.50",
        "destination.ip": "10.0.0.1",
        "destination.port": 443,
        "http.request.method": "GET",
        "url.original": "/owa/auth/logon.aspx?replaceCurrent=1",
        "url.path": "/owa/auth/logon.aspx",
        "url.query": "replaceCurrent=1",
        "http.response.status_code": 200,
        "user_agent.original": "Mozilla/5.0 (Windows NT 10.0)",
        "event.duration": 15_000_000,
    }


def test_several_directives_in_one_batch_and_a_batch_starting_mid_file() -> None:
    other = "#Fields: date time c-ip cs-method cs-uri-stem sc-status sc-bytes cs-host"
    lines: list[str | None] = [
        samples.IIS_FIELDS,
        samples.IIS_LINE,
        other,
        "2019-01-22 00:00:14 198.51.100.1 POST /upload.aspx 500 1234 mail.example.gov",
    ]
    rows = parse_rows(lines)
    assert [row["url.path"] for row in rows] == ["/owa/auth/logon.aspx", "/upload.aspx"]
    assert subset(rows[1], {"http.response.body.bytes": 0, "url.domain": 0}) == {
        "http.response.body.bytes": 1234,
        "url.domain": "mail.example.gov",
    }
    continued = parse_rows(
        [samples.IIS_LINE], iis_fields=samples.IIS_FIELDS.removeprefix("#Fields:")
    )
    assert continued[0]["source.ip"] == "203.0.113.50"


def test_dead_letters_name_position_and_reason() -> None:
    lines = [
        "hello world",
        samples.COMBINED,
        '1.2.3.4 - - [32/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 1',
        samples.IIS_FIELDS,
        "2019-01-22 00:00:13 10.0.0.1 GET /short",
        "   ",
    ]
    result = parse_web(pl.Series(lines), year=2023)
    assert result.events.height == 1
    assert result.dead.select("position", "reason").rows() == [
        (0, "unrecognized web format"),
        (2, "invalid timestamp"),
        (4, "IIS line does not match its #Fields directive"),
        (5, "empty line"),
    ]
    assert result.events.schema == pl.Schema(WEB_SCHEMA)
