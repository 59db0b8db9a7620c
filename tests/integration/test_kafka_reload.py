"""``neakta run`` reloads its rules mid-stream on a real broker: nothing lost, nothing doubled.

The run starts without the Office rule; the first part of the stream holds a Word macro
starting PowerShell. The rule file is added and SIGHUP sent; the second part holds the
macro again as another process (a new line, so a new event: an identical line would be a
resend of the same event). The Office rule must alert on the
second only, every other alert of both parts must be written exactly once, and the
offsets must reach the end. Then a broken rule file is added: that reload is refused by
path and line, and the third part is still evaluated with the rules of the second.
"""

from __future__ import annotations

import shutil
import signal
import time
from collections import Counter
from pathlib import Path

import polars as pl
import pytest

from ingest.sources.families import family_of_topic
from ingest.sources.parsing import parse_records
from neakta.rulesets import compile_correlations, compile_rulesets
from neakta.settings import DEFAULT_RULES
from respond.alerts import simple_alerts
from tests.integration.conftest import Broker, committed, create_topics, produce, run, unique
from tests.integration.test_kafka_run import ENDPOINT_LINES, FAST_GROUP, _start, cli_args
from testsupport.stream import documents

pytestmark = pytest.mark.integration

OFFICE = "proc_creation_win_office_spawns_shell.yml"
MACRO = next(line for line in ENDPOINT_LINES if "WINWORD.EXE" in line and "-Enc" in line)
AGAIN, THIRD = (MACRO.replace('"ProcessId":4388,', f'"ProcessId":{pid},') for pid in (4389, 4390))
assert MACRO != AGAIN != THIRD != MACRO
BROKEN = "title: Broken\nlogsource: {product: windows}\ndetection:\n  condition: nowhere\n"


def expected(rules: Path, topic: str, lines: list[str], placed: list[tuple[int, int]]) -> set[str]:
    """The alert ids ``neakta run`` writes for these records with the rules at ``rules``."""
    origins = [f"{topic}/{p}/{o}" for p, o in placed]
    records = pl.DataFrame(
        {
            "family": ["endpoint"] * len(lines),
            "source": [topic] * len(lines),
            "origin": origins,
            "line": lines,
            "header_organization": [None] * len(lines),
            "source_organization": [family_of_topic(topic)[1]] * len(lines),
        },
        schema_overrides={"header_organization": pl.String, "source_organization": pl.String},
    )
    events = parse_records(records, year=2026).events["endpoint"]
    ruleset = compile_rulesets([rules])["endpoint"]
    matches = compile_correlations([rules], ruleset).visible(ruleset.evaluate(events))
    assert events.height == len(lines)
    return set(simple_alerts(events, matches, ruleset).alerts["_id"].to_list())


def wait_for(check: object, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.05)
    assert check(), "timed out"  # type: ignore[operator]


def test_rules_reloaded_mid_stream_lose_and_double_nothing(broker: Broker, tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(DEFAULT_RULES, rules)
    office = next(rules.rglob(OFFICE))
    office_text = office.read_text()
    office.unlink()
    topic, group = f"logs.endpoint.{unique('m')}", unique("g")
    run(create_topics(broker.bootstrap, [topic], partitions=1))
    alerts, log = tmp_path / "alerts.ndjson", tmp_path / "stderr.log"
    args = [
        str(rules) if a == str(DEFAULT_RULES) else a
        for a in cli_args(broker, [topic], group, alerts)
    ]
    env = {**FAST_GROUP, "NEAKTA_KAFKA__MAX_RECORDS": "300"}
    env["NEAKTA_RUN__RELOAD_INTERVAL_S"] = "0.2"
    process = _start(args, env, log)
    try:
        first = ENDPOINT_LINES[:1500]
        placed = run(produce(broker.bootstrap, topic, [x.encode() for x in first], partitions=1))
        before = expected(rules, topic, first, placed)
        wait_for(lambda: {d["_id"] for d in documents(alerts)} >= before)

        office.write_text(office_text)
        # What the new rules would have raised on the first part: the Word macro's alert.
        not_before = expected(rules, topic, first, placed) - before
        process.send_signal(signal.SIGHUP)
        wait_for(lambda: "rule reload" in log.read_text())
        second = [*ENDPOINT_LINES[1500:], AGAIN]
        placed_2 = run(produce(broker.bootstrap, topic, [x.encode() for x in second], partitions=1))
        after = expected(rules, topic, second, placed_2)
        wait_for(lambda: {d["_id"] for d in documents(alerts)} >= before | after)

        (rules / "broken.yml").write_text(BROKEN)
        process.send_signal(signal.SIGHUP)
        wait_for(lambda: log.read_text().count("rule reload on SIGHUP") == 2)
        placed_3 = run(produce(broker.bootstrap, topic, [THIRD.encode()], partitions=1))
        third = expected(rules, topic, [THIRD], placed_3)
        wait_for(lambda: {d["_id"] for d in documents(alerts)} >= before | after | third)
        assert "refused" in log.read_text()
        ends = len(first) + len(second) + 1
        wait_for(lambda: run(committed(broker.bootstrap, group, topic, 1)) == {0: ends})
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0, log.read_text()

    alerted = [d for d in documents(alerts) if "correlation" not in str(d.get("neakta", {}))]
    ids = Counter(str(d["_id"]) for d in alerted)
    assert [i for i, n in ids.items() if n > 1] == []
    assert set(ids) == before | after | third
    # The Office rule alerted on the macro after the swap (twice), never on the one before.
    assert len(not_before) == 1 and not (not_before & set(ids))
    office_rule = "Office Application Starting A Shell Or Script Host"
    assert sum(str(d.get("rule")).count(office_rule) for d in alerted) == 2
    err = log.read_text()
    assert "rules reloaded: 30 rules" in err
    assert f"{rules / 'broken.yml'}:1: " in err
