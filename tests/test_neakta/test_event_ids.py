"""Event ids computed in detection, for the events that need one, are the stamped ones."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from detect import CompiledRuleSet
from enrich import load_attack
from enrich.intel.load import build_indicators
from ingest.identity import fill_event_ids, stamp_with_conflicts
from ingest.sources import SourceBatch
from ingest.sources.parsing import parse_records
from ingest.testing import MemorySource
from neakta.alerting import AlertStage
from neakta.detecting import _reads_event_ids, detect_batch
from neakta.stage import SimpleAlerts
from respond.assembly import Lookups
from respond.sinks import SinkBatch

MD5 = "0123456789abcdef0123456789abcdef"


def sysmon(image: str, hashes: str = "SHA1=00") -> str:
    return (
        '{"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "ws1", '
        f'"UtcTime": "2024-01-02 03:04:05.678", "Image": "C:\\\\Windows\\\\{image}", '
        f'"Hashes": "{hashes}"}}'
    )


LINES = [sysmon("notepad.exe"), sysmon("whoami.exe"), sysmon("calc.exe", f"MD5={MD5}")]

WHOAMI = """
title: Whoami
id: 0e0e0e0e-0000-4000-8000-000000000001
logsource: {category: process_creation, product: windows}
detection:
  selection:
    Image|endswith: '\\whoami.exe'
  condition: selection
level: high
"""


def batch() -> SourceBatch:
    return MemorySource.of_lines("endpoint", LINES, organization="mptc").given[0]


def stamped(ids: bool) -> pl.DataFrame:
    return parse_records(batch().records, year=2024, ids=ids).events["endpoint"]


def eager_ids() -> list[str]:
    return stamped(True).get_column("event.id").to_list()


def rule_on_id(event_id: str) -> str:
    return f"""
title: One Event By Its Id
id: 0e0e0e0e-0000-4000-8000-000000000002
logsource: {{category: process_creation, product: windows}}
detection:
  selection:
    event.id: '{event_id}'
  condition: selection
"""


def keywords_rule(text: str) -> str:
    return f"""
title: A Keyword
id: 0e0e0e0e-0000-4000-8000-000000000003
logsource: {{category: process_creation, product: windows}}
detection:
  keywords: ['{text}']
  condition: keywords
"""


@dataclass
class ListArchive:
    written: list[pl.DataFrame] = field(default_factory=list)

    def write(self, family: str, events: pl.DataFrame) -> None:
        self.written.append(events)


def detected(
    rule: str, *, stage: SimpleAlerts | AlertStage | None = None, archive: ListArchive | None = None
) -> SinkBatch:
    parsed = parse_records(batch().records, year=2024, ids=False)
    return detect_batch(
        batch(),
        parsed,
        rulesets={"endpoint": CompiledRuleSet.from_yaml(rule, pipeline="ecs")},
        make_alerts=stage or SimpleAlerts(),
        archive=archive,
    ).output


def test_ids_left_to_later_are_null_then_filled_with_the_stamped_ones() -> None:
    lazy = stamped(False)
    assert lazy.get_column("event.id").null_count() == len(LINES)
    assert_frame_equal(fill_event_ids(lazy), stamped(True))


def test_only_the_rows_asked_for_get_their_id() -> None:
    filled = fill_event_ids(stamped(False), pl.Series([2, 0], dtype=pl.UInt32))
    ids = eager_ids()
    assert filled.get_column("event.id").to_list() == [ids[0], None, ids[2]]


def test_an_event_without_its_original_gets_its_id_from_the_line_at_once() -> None:
    records = batch().records.head(2)
    events = pl.DataFrame(
        {"event.dataset": ["windows.sysmon"] * 2, "event.original": [None, LINES[1]]},
        schema={"event.dataset": pl.String, "event.original": pl.String},
    )
    eager, _ = stamp_with_conflicts(events, records)
    lazy, _ = stamp_with_conflicts(events, records, ids=False)
    assert lazy.get_column("event.id").to_list() == [eager.get_column("event.id")[0], None]
    assert_frame_equal(fill_event_ids(lazy), eager)


def test_the_matched_event_keeps_its_stamped_id_in_the_alert() -> None:
    alerts = detected(WHOAMI).alerts
    assert alerts.get_column("event.id").to_list() == [eager_ids()[1]]


def test_a_rule_reading_event_id_sees_every_events_id() -> None:
    target = eager_ids()[2]
    alerts = detected(rule_on_id(target)).alerts
    assert alerts.get_column("event.id").to_list() == [target]


def test_a_keyword_rule_sees_every_events_id() -> None:
    target = eager_ids()[0]
    alerts = detected(keywords_rule(target[4:20])).alerts
    assert alerts.get_column("event.id").to_list() == [target]


@pytest.mark.parametrize(
    ("rule", "computed_first"),
    [
        (keywords_rule("whoami /all"), False),  # not hexadecimal: never in an id
        (keywords_rule("Dead"), True),  # folds to hexadecimal digits
        (keywords_rule("4624"), True),
        (keywords_rule("who*mi"), False),  # every part of a pattern must occur
        (keywords_rule("de*ad"), True),
        (keywords_rule("*"), True),
        (rule_on_id("0" * 32), True),  # names the field
        (WHOAMI, False),
    ],
)
def test_ids_are_computed_before_detection_only_where_a_rule_could_read_one(
    rule: str, computed_first: bool
) -> None:
    assert _reads_event_ids(CompiledRuleSet.from_yaml(rule, pipeline="ecs")) is computed_first


def test_a_keyword_rule_that_cannot_read_an_id_still_names_its_events_by_their_ids() -> None:
    alerts = detected(keywords_rule("whoami")).alerts
    assert alerts.height
    assert sorted(alerts.get_column("event.id").to_list()) == sorted(
        i for i, line in zip(eager_ids(), LINES, strict=True) if "whoami" in line.lower()
    )


def test_the_archive_keeps_every_events_id() -> None:
    archive = ListArchive()
    detected(WHOAMI, archive=archive)
    [kept] = archive.written
    assert kept.get_column("event.id").to_list() == eager_ids()


def test_an_indicator_alert_names_its_event_by_its_stamped_id() -> None:
    indicators = build_indicators([("line 1", "md5", MD5, "feed", None, None, None)])
    lookups = Lookups(load_attack(), indicators=indicators)
    stage = AlertStage(lookups, clock=lambda: datetime(2024, 1, 2, tzinfo=UTC))
    alerts = detected(WHOAMI, stage=stage).alerts.sort("neakta.original.event.id")
    expected = sorted([eager_ids()[1], eager_ids()[2]])
    assert alerts.get_column("neakta.original.event.id").to_list() == expected
