"""event.id names an event's content, stable across runs, processes and modes.

organization.id follows its order.
"""

from __future__ import annotations

import subprocess
import sys
from hashlib import blake2b
from pathlib import Path

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from ingest.identity import event_ids, parsed_positions, stamp_events, stamp_with_conflicts
from ingest.sources import FileSource
from ingest.sources.parsing import parse_records

FORTI = (
    "date=2024-05-10 time=11:37:47 devname={host} srcip=10.1.100.11 srcport=58012 "
    "dstip=81.2.69.142 dstport=80 proto=6 action=close policyid=1"
)

READ_IDS = """
import asyncio, sys
from ingest.sources import FileSource
from ingest.sources.parsing import parse_records

async def main():
    async for batch in FileSource([sys.argv[1]]).batches():
        events = parse_records(batch.records, year=2024).events["firewall"]
        print("\\n".join(events["event.id"]))

asyncio.run(main())
"""


async def ids_of(path: Path) -> list[str]:
    found: list[str] = []
    async for batch in FileSource([path], batch_size=2).batches():
        found.extend(parse_records(batch.records, year=2024).events["firewall"]["event.id"])
    return found


async def test_ids_are_the_same_in_two_runs_and_in_another_process(tmp_path: Path) -> None:
    path = tmp_path / "fw.log"
    path.write_text("\n".join(FORTI.format(host=f"fw{n}") for n in range(3)) + "\n")
    first = await ids_of(path)
    second = await ids_of(path)
    other = subprocess.run(
        [sys.executable, "-c", READ_IDS, str(path)], capture_output=True, text=True, check=True
    ).stdout.split()
    assert first == second == other
    assert len(set(first)) == 3
    line = FORTI.format(host="fw0")
    key = f"\x00firewall.fortigate\x00{line}"
    assert first[0] == blake2b(key.encode(), digest_size=16).hexdigest()


def test_a_line_from_a_file_and_from_a_topic_partition_is_one_event() -> None:
    line = FORTI.format(host="fw0")
    records = pl.DataFrame(
        {
            "family": ["firewall"] * 3,
            "source": ["fw.log", "logs.firewall.mef", "logs.firewall.mef"],
            "origin": ["fw.log:12", "logs.firewall.mef/1/40", "logs.firewall.mef/0/3"],
            "line": [line] * 3,
            "header_organization": ["mef", None, None],
            "source_organization": [None, "mef", "mef"],
        }
    )
    ids = parse_records(records, year=2024).events["firewall"]["event.id"].to_list()
    key = f"mef\x00firewall.fortigate\x00{line}".encode()
    assert ids == [blake2b(key, digest_size=16).hexdigest()] * 3


def test_another_ministry_family_or_text_is_another_event() -> None:
    ids = event_ids(
        pl.Series(["mef", "moh", "mef", "mef", None]),
        pl.Series(["web.access", "web.access", "web.iis", "web.access", "web.access"]),
        pl.Series(["GET /", "GET /", "GET /", "GET /a", "GET /"]),
    )
    assert ids.n_unique() == 5


texts = st.one_of(st.none(), st.text(max_size=40))


@given(st.lists(st.tuples(texts, texts, texts), max_size=12))
def test_each_id_is_the_digest_of_ministry_dataset_and_line_joined_by_nul(
    rows: list[tuple[str | None, str | None, str | None]],
) -> None:
    columns = [pl.Series([row[n] for row in rows], dtype=pl.String) for n in range(3)]
    expected = [
        blake2b("\x00".join(part or "" for part in row).encode(), digest_size=16).hexdigest()
        for row in rows
    ]
    assert event_ids(*columns).to_list() == expected


def test_organization_from_topic_then_header_then_forwarder_map() -> None:
    events = pl.DataFrame(
        {
            "observer.hostname": ["FG-MEF-01", "FG-MEF-01", None, "unknown"],
            "host.name": [None, None, "WS-MOH-1", None],
        }
    )
    records = pl.DataFrame(
        {
            "origin": ["t/0/1", "t/0/2", "t/0/3", "t/0/4"],
            "line": ["a", "b", "c", "d"],
            "header_organization": ["mptc", None, None, None],
            "source_organization": ["moi", "moi", None, "moi"],
        }
    )
    stamped = stamp_events(events, records, forwarders={"fg-mef-01": "mef", "ws-moh-1": "moh"})
    assert stamped["organization.id"].to_list() == ["moi", "moi", "moh", "moi"]


def test_positions_skip_dead_lines_and_web_directives() -> None:
    lines = pl.Series(["#Fields: a", "x", "bad", "#Fields: b", "y", "y"])
    positions = parsed_positions(lines, pl.Series(["x", "y", "y"]), pl.Series([2], dtype=pl.UInt64))
    assert positions.to_list() == [1, 4, 5]


def test_web_events_keep_their_own_ids_around_iis_directives() -> None:
    lines = [
        "#Fields: date time c-ip cs-method cs-uri-stem cs-uri-query sc-status",
        "2024-01-02 03:04:05 10.0.0.9 POST /login - 401",
        "2024-01-02 03:04:06 10.0.0.9 GET /admin - 403",
    ]
    records = pl.DataFrame(
        {
            "family": ["web"] * 3,
            "source": ["iis.log"] * 3,
            "origin": ["iis.log:1", "iis.log:2", "iis.log:3"],
            "line": lines,
            "header_organization": [None] * 3,
            "source_organization": [None] * 3,
        },
        schema_overrides={"header_organization": pl.String, "source_organization": pl.String},
    )
    events = parse_records(records, year=2024).events["web"]
    expected = event_ids(pl.Series([None, None]), pl.Series(["web.iis"] * 2), pl.Series(lines[1:]))
    assert events["event.id"].to_list() == expected.to_list()
    assert expected.n_unique() == 2


def test_a_record_claiming_another_ministry_keeps_its_topics_and_is_counted() -> None:
    lines = [FORTI.format(host="FG-MEF-01"), FORTI.format(host="FG-MOH-01")] * 2
    records = pl.DataFrame(
        {
            "family": ["firewall"] * 4,
            "source": ["logs.firewall.mef"] * 3 + ["logs.firewall"],
            "origin": [f"logs.firewall.mef/0/{n}" for n in (1, 2, 3)] + ["logs.firewall/0/1"],
            "line": lines,
            "header_organization": ["moh", None, None, "moh"],
            "source_organization": ["mef", "mef", "mef", None],
        }
    )

    parsed = parse_records(records, year=2024, forwarders={"FG-MOH-01": "moh"})

    assert parsed.events["firewall"]["organization.id"].to_list() == ["mef", "mef", "mef", "moh"]
    assert parsed.conflicts.rows() == [("mef", "moh", "header", 1), ("mef", "moh", "forwarder", 1)]


def test_agreeing_claims_and_shared_topics_are_no_conflict() -> None:
    events = pl.DataFrame({"observer.hostname": ["FG-MEF-01", "FG-MEF-01", "other"]})
    records = pl.DataFrame(
        {
            "origin": ["logs.firewall.mef/0/1", "logs.firewall/0/1", "logs.firewall/0/2"],
            "line": ["a", "b", "c"],
            "header_organization": ["mef", "moh", None],
            "source_organization": ["mef", None, None],
        }
    )

    stamped, conflicts = stamp_with_conflicts(events, records, forwarders={"fg-mef-01": "mef"})

    assert stamped["organization.id"].to_list() == ["mef", "moh", None]
    assert conflicts.height == 0
