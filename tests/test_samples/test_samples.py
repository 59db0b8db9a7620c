"""The sample endpoint events and the benchmark frame are deterministic and well formed."""

from __future__ import annotations

import re
from itertools import pairwise
from pathlib import Path

import orjson
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from samples import (
    ATTACK_KINDS,
    DATA_DIR,
    PROCESS_FRAME_SCHEMA,
    SYSMON_CHANNEL,
    generate_endpoint_events,
    generate_endpoint_events_with_labels,
    generate_process_frame,
    main,
    write_ndjson,
)

BUNDLED_SAMPLE = DATA_DIR / "sample_endpoint.ndjson"
UTC_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$")
FIELDS_BY_EVENT_ID = {
    1: {"Image", "OriginalFileName", "CommandLine", "CurrentDirectory", "User", "IntegrityLevel",
        "Hashes", "ParentImage", "ParentCommandLine", "ProcessId", "ParentProcessId"},
    3: {"Image", "User", "Protocol", "Initiated", "SourceIp", "DestinationIp", "DestinationPort"},
    11: {"Image", "TargetFilename"},
    13: {"Image", "EventType", "TargetObject", "Details"},
    22: {"Image", "QueryName", "QueryResults"},
}  # fmt: skip
# What each seeded attack looks like: (field, lower-case fragments, one of which must appear).
ATTACK_MARKERS = {
    "web_shell_recon": ("ParentImage", ("\\w3wp.exe",)),
    "encoded_powershell": ("CommandLine", (" -enc ",)),
    "office_macro_powershell": ("ParentImage", ("\\winword.exe",)),
    "dns_dynamic_domain": ("QueryName", (".duckdns.org", ".ngrok-free.app")),
    "certutil_download": ("CommandLine", ("-urlcache",)),
    "registry_run_key": (
        "TargetObject",
        ("\\software\\microsoft\\windows\\currentversion\\run\\",),
    ),
    "psexec_service": ("Image", ("psexesvc.exe", "cmd.exe")),
    "mimikatz": ("CommandLine", ("sekurlsa::logonpasswords",)),
    "lsass_minidump": ("CommandLine", ("comsvcs.dll, minidump",)),
    "local_admin_account": ("CommandLine", (" /add",)),
    "schtasks_onlogon": ("CommandLine", ("/sc onlogon",)),
    "shadow_copy_delete": ("CommandLine", ("delete shadows",)),
}
# Fragments no benign event may contain, in any field.
ATTACK_ONLY = (
    "sekurlsa::",
    "comsvcs",
    "-urlcache",
    "delete shadows",
    "psexesvc",
    "duckdns",
    " -enc ",
)


def _text(event: dict[str, object]) -> str:
    return " ".join(str(value) for value in event.values()).lower()


def test_same_seed_gives_same_events() -> None:
    assert generate_endpoint_events(500, seed=11) == generate_endpoint_events(500, seed=11)


def test_seed_changes_benign_events_but_not_attack_rows() -> None:
    first, first_labels = generate_endpoint_events_with_labels(500, seed=1)
    second, second_labels = generate_endpoint_events_with_labels(500, seed=2)

    assert first != second
    assert first_labels == second_labels
    for row in first_labels:
        assert first[row] | {"UtcTime": ""} == second[row] | {"UtcTime": ""}


def test_labels_point_at_attack_events() -> None:
    events, labels = generate_endpoint_events_with_labels(3000)

    assert set(labels.values()) == set(ATTACK_KINDS) == set(ATTACK_MARKERS)
    assert 12 <= len(labels) <= 20
    for row, kind in labels.items():
        field, fragments = ATTACK_MARKERS[kind]
        value = str(events[row][field]).lower()
        assert any(fragment in value for fragment in fragments), (row, kind, value)


def test_attacks_are_spread_over_the_whole_list() -> None:
    rows = sorted(generate_endpoint_events_with_labels(3000)[1])

    assert rows[0] < 300
    assert rows[-1] > 2700
    assert min(b - a for a, b in pairwise(rows)) >= 100


def test_benign_events_carry_no_attack_marker() -> None:
    events, labels = generate_endpoint_events_with_labels(20_000, seed=3)

    benign = [event for row, event in enumerate(events) if row not in labels]
    assert not [event for event in benign if any(f in _text(event) for f in ATTACK_ONLY)]


def test_attack_free_generation_has_no_labels() -> None:
    events, labels = generate_endpoint_events_with_labels(1000, attacks=False)

    assert labels == {}
    assert not [event for event in events if any(f in _text(event) for f in ATTACK_ONLY)]


def test_events_look_like_sysmon() -> None:
    events = generate_endpoint_events(3000)

    process_share = sum(event["EventID"] == 1 for event in events) / len(events)
    assert 0.8 <= process_share <= 0.9
    assert {event["EventID"] for event in events} == set(FIELDS_BY_EVENT_ID)
    for event in events:
        assert event["Channel"] == SYSMON_CHANNEL
        assert str(event["Computer"]).endswith(".gov.kh")
        assert UTC_TIME.match(str(event["UtcTime"]))
        assert FIELDS_BY_EVENT_ID[int(str(event["EventID"]))] <= event.keys()
    times = [str(event["UtcTime"]) for event in events]
    assert times == sorted(times)


def test_process_events_are_varied() -> None:
    events = generate_endpoint_events(3000, attacks=False)

    images = {str(e["Image"]).rsplit("\\", 1)[-1].lower() for e in events if e["EventID"] == 1}
    assert {"explorer.exe", "chrome.exe", "msedge.exe", "svchost.exe", "outlook.exe"} <= images
    assert {"excel.exe", "ms-teams.exe", "wuauclt.exe", "powershell.exe", "cmd.exe"} <= images
    assert len({e["Computer"] for e in events}) >= 15


def test_too_few_rows_for_the_attacks_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 15"):
        generate_endpoint_events(10)
    assert generate_endpoint_events(0, attacks=False) == []


@settings(max_examples=25, deadline=None, database=None)
@given(count=st.integers(min_value=15, max_value=400), seed=st.integers(0, 2**32))
def test_any_count_holds_every_attack_once(count: int, seed: int) -> None:
    events, labels = generate_endpoint_events_with_labels(count, seed=seed)

    assert len(events) == count
    assert len(labels) == 15
    assert set(labels.values()) == set(ATTACK_KINDS)
    assert all(0 <= row < count for row in labels)


def test_bundled_sample_is_what_the_generator_writes() -> None:
    events = generate_endpoint_events(3000, seed=7)

    expected = b"".join(orjson.dumps(e, option=orjson.OPT_APPEND_NEWLINE) for e in events)
    assert BUNDLED_SAMPLE.read_bytes() == expected


def test_write_ndjson_round_trips(tmp_path: Path) -> None:
    events = generate_endpoint_events(40)
    path = tmp_path / "nested" / "events.ndjson"

    assert write_ndjson(events, path) == 40
    assert [orjson.loads(line) for line in path.read_bytes().splitlines()] == events


def test_main_writes_the_requested_sample(tmp_path: Path) -> None:
    path = tmp_path / "sample.ndjson"

    assert main(["--out", str(path), "--count", "60", "--seed", "3"]) == 0
    assert path.read_bytes().count(b"\n") == 60


def test_process_frame_has_the_sysmon_columns() -> None:
    frame = generate_process_frame(10_000)

    assert frame.height == 10_000
    assert frame.schema == PROCESS_FRAME_SCHEMA
    assert frame["Image"].null_count() == 0
    assert frame["CommandLine"].null_count() == 0
    assert frame["EventID"].unique().to_list() == [1]
    assert frame["Channel"].unique().to_list() == [SYSMON_CHANNEL]
    assert frame["UtcTime"].is_sorted()


def test_process_frame_is_deterministic() -> None:
    assert generate_process_frame(5000, seed=3).equals(generate_process_frame(5000, seed=3))
    assert not generate_process_frame(5000, seed=3).equals(generate_process_frame(5000, seed=4))


def test_process_frame_holds_a_tenth_of_a_percent_of_attacks() -> None:
    keys = ["Computer", "Image", "CommandLine", "ParentImage"]
    attacks = pl.DataFrame([e for e in generate_endpoint_events(15) if e["EventID"] == 1]).select(
        keys
    )

    frame = generate_process_frame(10_000, seed=5)

    assert frame.join(attacks, on=keys, how="semi").height == 10


def test_process_frame_of_no_rows_keeps_the_schema() -> None:
    assert generate_process_frame(0).schema == PROCESS_FRAME_SCHEMA
    with pytest.raises(ValueError, match="0 or more"):
        generate_process_frame(-1)
