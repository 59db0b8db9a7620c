"""``neakta report`` over the embedded store: the figures, filters, escaping and the layer."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from enrich.attack import load_attack
from enrich.inventory import load_assets
from neakta.cli import main
from neakta.commands.report import DEFAULT_ASSETS
from respond.report import (
    Report,
    ReportData,
    alerts_frame,
    attack_matrix,
    build_report,
    load_technique_tactics,
    navigator_layer,
    read_sqlite,
    render_html,
    technique_counts,
)
from respond.report.silent import SilentSource, silent_from_alerts
from respond.sources import SourceStats
from respond.store import SqliteStore
from tests.test_respond.factories import T0, at
from tests.test_respond.report_support import (
    HOSTILE,
    SILENCE_T0,
    track_sources,
    write_all,
    write_store,
)

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
async def db(tmp_path: Path) -> Path:
    path = tmp_path / "neakta.db"
    await write_store(path)
    return path


def report_of(data: ReportData, ministry: str | None = None, lang: str = "en") -> Report:
    return build_report(
        data,
        ministry=ministry,
        since=None,
        now=NOW,
        lang="km" if lang == "km" else "en",
        inventory=load_assets(DEFAULT_ASSETS),
        catalog=load_attack(),
        technique_tactics=load_technique_tactics(),
    )


def test_the_national_report_counts_what_the_store_holds(db: Path) -> None:
    report = report_of(read_sqlite(db, ministry=None, since=None))

    assert report.totals == {"incidents": 4, "open": 4, "alerts": 5}
    assert {row["severity"]: row["counts"]["open"] for row in report.severity_rows} == {
        "critical": 1,
        "high": 1,
        "medium": 1,
        "low": 1,
        "informational": 0,
    }
    assert report.overview is not None
    rows = {row["id"]: (row["incidents"], row["alerts"]) for row in report.overview}
    assert rows["mef"] == (2, 3)
    assert rows["moh"] == (1, 1)
    assert rows[None] == (1, 1)
    assert rows["mptc"] == (0, 0)
    assert report.overview[0]["id"] == "mef"
    assert report.overview[-1]["id"] is None
    assert [(r["rule_id"], r["count"]) for r in report.rules][:1] == [("r-enc", 2)]
    assert [(s["system"], s["ministry"], s["count"]) for s in report.systems] == [
        ("Human Resource Management Information System - HRMIS", "maff", 1)
    ]
    assert report.hosts[0]["host"] == "mef-ws-01"
    assert report.hosts[0]["count"] == 2
    assert report.techniques == {"T1059": 2, "T1059.001": 2, "T1003": 1, "T9999": 1}


def test_each_incident_lists_its_alerts_with_the_raw_events(db: Path) -> None:
    report = report_of(read_sqlite(db, ministry="mef", since=None), ministry="mef")

    assert report.overview is None
    by_alerts = {tuple(a["id"] for a in i["alerts"]): i for i in report.incidents}
    assert sorted(by_alerts) == [("a1", "a2"), ("a3",)]
    assert [a["original"] for a in by_alerts[("a1", "a2")]["alerts"]] == [
        "powershell -enc SQBFAFgA",
        HOSTILE,
    ]
    assert report.incidents[0]["severity_label"] == "critical"


async def test_ministry_and_since_select_the_incidents_and_alerts(db: Path) -> None:
    mef = read_sqlite(db, ministry="mef", since=None)
    assert sorted(mef.alerts["id"]) == ["a1", "a2", "a3"]
    assert mef.incidents.height == 2

    late = read_sqlite(db, ministry=None, since=at(60))
    assert sorted(late.alerts["id"]) == ["a3", "a4", "a5"]
    assert sorted(late.incidents["alert_ids"].list.first()) == ["a3", "a4", "a5"]

    nothing = read_sqlite(db, ministry="mptc", since=T0 - timedelta(days=1))
    assert (nothing.alerts.height, nothing.incidents.height) == (0, 0)
    html_text = render_html(report_of(nothing, ministry="mptc"))
    assert 'data-total="alerts">0<' in html_text


def test_a_store_without_source_tables_does_not_track_silent_sources(db: Path) -> None:
    data = read_sqlite(db, ministry=None, since=None)

    assert data.silent_sources is None
    page = render_html(report_of(data))
    assert 'data-silent="not-tracked"' in page
    assert "<td>" not in page.split('<section id="silent">')[1].split("</section>")[0]


async def test_the_report_lists_the_sources_the_silence_tracking_left_silent(db: Path) -> None:
    watched = track_sources(db)
    await write_all(SqliteStore(db), watched)
    last_event = SILENCE_T0 + timedelta(seconds=30)
    watermark = SILENCE_T0 + timedelta(minutes=20)

    national = read_sqlite(db, ministry=None, since=None)
    assert national.silent_sources == [
        SilentSource("mef", "family", "firewall", last_event, watermark),
        SilentSource("mef", "host", "fg-1", last_event, watermark),
    ]
    assert read_sqlite(db, ministry="mef", since=None).silent_sources == national.silent_sources
    assert read_sqlite(db, ministry="moh", since=None).silent_sources == []

    report = report_of(national)
    assert report.silent == [
        {"ministry": "mef", "kind": "family", "source": "firewall",
         "last_event": "2026-03-01 08:00:30", "silent_s": 1170.0, "silent_for": "19 min"},
        {"ministry": "mef", "kind": "host", "source": "fg-1",
         "last_event": "2026-03-01 08:00:30", "silent_s": 1170.0, "silent_for": "19 min"},
    ]  # fmt: skip
    section = render_html(report).split('<section id="silent">')[1].split("</section>")[0]
    assert 'data-silent="2"' in section
    rows = [
        html.unescape(row.split("</tr>")[0]) for row in section.split("<tr data-silent-source=")[1:]
    ]
    assert rows == [
        '"mef/family/firewall"><td>mef</td><td>Log family: firewall</td>'
        "<td>2026-03-01 08:00:30</td><td>19 min</td>",
        '"mef/host/fg-1"><td>mef</td><td>Host: fg-1</td>'
        "<td>2026-03-01 08:00:30</td><td>19 min</td>",
    ]
    moh = render_html(report_of(read_sqlite(db, ministry="moh", since=None), ministry="moh"))
    assert 'data-silent="0"' in moh


async def test_the_silent_sources_agree_with_the_ministries_list_and_the_alerts(
    db: Path,
) -> None:
    watched = track_sources(db)
    alerts = pl.concat([output.alerts for output in watched], how="diagonal_relaxed")
    assert alerts.select(
        "neakta.silence.status", "organization.id", "neakta.silence.source"
    ).rows() == [
        ("silent", "mef", "firewall"),
        ("silent", "mef", "windows"),
        ("silent", "mef", "dc-1"),
        ("silent", "mef", "fg-1"),
        ("resumed", "mef", "windows"),
        ("resumed", "mef", "dc-1"),
    ]
    stats = SourceStats(db)
    try:
        listed = {(row.ministry, row.source): row.last_event for row in stats.ministries(now=NOW)}
    finally:
        stats.close()
    data = read_sqlite(db, ministry=None, since=None)
    assert data.silent_sources is not None
    families = [s for s in data.silent_sources if s.kind == "family"]
    assert [(s.ministry, s.source, s.last_event) for s in families] == [
        ("mef", "firewall", listed[("mef", "firewall")])
    ]
    # The alerts alone (as Elasticsearch holds them) name the same sources.
    from_alerts = silent_from_alerts(alerts.to_dicts())
    assert [(s.ministry, s.kind, s.source, s.last_event, s.as_of) for s in from_alerts] == [
        (s.ministry, s.kind, s.source, s.last_event, None) for s in data.silent_sources
    ]


def test_a_store_with_source_tables_but_no_clock_has_no_silent_sources(db: Path) -> None:
    stats = SourceStats(db)
    try:
        stats.add_ministry("mef", "Ministry of Economy and Finance", now=NOW)
    finally:
        stats.close()

    data = read_sqlite(db, ministry=None, since=None)
    assert data.silent_sources == []
    assert 'data-silent="0"' in render_html(report_of(data))


def test_log_text_is_escaped_and_the_page_loads_nothing(db: Path) -> None:
    page = render_html(report_of(read_sqlite(db, ministry=None, since=None)))

    assert HOSTILE not in page
    assert html.escape(HOSTILE, quote=False) in page.replace("&#34;", '"').replace("&#39;", "'")
    assert "Mimikatz &lt;b&gt;bold&lt;/b&gt;" in page
    assert page.count("<script") == 1
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page
    assert "default-src 'none'" in page


def test_khmer_labels_and_language(db: Path) -> None:
    page = render_html(report_of(read_sqlite(db, ministry=None, since=None), lang="km"))

    assert page.startswith('<!DOCTYPE html>\n<html lang="km">')
    assert '<meta charset="utf-8">' in page
    assert "ឧប្បត្តិហេតុ" in page
    assert '"Noto Sans Khmer", "Khmer OS"' in page


def test_techniques_sit_under_their_tactics_and_unknown_ones_under_their_alerts() -> None:
    counts = pl.DataFrame({"technique": ["T1078", "T9999"], "count": [2, 1]})
    matrix = attack_matrix(counts, {"T9999": ["TA0007"]}, load_attack(), load_technique_tactics())
    placed = {column.shortname: [c.id for c in column.cells] for column in matrix}

    assert [column.id for column in matrix][:3] == ["TA0043", "TA0042", "TA0001"]
    assert placed["initial-access"] == ["T1078"]
    assert placed["persistence"] == ["T1078"]
    assert placed["discovery"] == ["T9999"]
    assert placed["execution"] == []


def test_the_navigator_layer_has_the_format_4_5_fields_and_loads_back(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layer_path = tmp_path / "layer.json"
    assert main(["report", "--db", str(db), "--navigator", str(layer_path)]) == 0
    assert f"ATT&CK Navigator layer: {layer_path} (4 techniques)" in capsys.readouterr().out

    layer = json.loads(layer_path.read_text(encoding="utf-8"))
    assert isinstance(layer["name"], str) and layer["name"]
    assert layer["versions"] == {"attack": "16", "navigator": "5.1.0", "layer": "4.5"}
    assert layer["domain"] == "enterprise-attack"
    assert set(layer["gradient"]) == {"colors", "minValue", "maxValue"}
    assert layer["gradient"]["maxValue"] == 2
    assert all(c.startswith("#") for c in layer["gradient"]["colors"])
    for technique in layer["techniques"]:
        assert {"techniqueID", "score", "enabled"} <= set(technique)
    scores = {(t["techniqueID"], t.get("tactic"), t["score"]) for t in layer["techniques"]}
    assert scores == {
        ("T1059", "execution", 2),
        ("T1059.001", "execution", 2),
        ("T1003", "credential-access", 1),
        ("T9999", None, 1),
    }


def test_a_layer_of_no_alerts_is_still_a_valid_layer() -> None:
    counts = technique_counts(alerts_frame([]))
    layer = navigator_layer(counts, name="empty", description="")
    assert layer["techniques"] == []
    assert layer["gradient"]["maxValue"] == 1


def test_the_command_writes_the_report_and_says_where(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "reports" / "mef.html"
    code = main(["report", "--db", str(db), "--ministry", "mef", "--lang", "km", "--out", str(out)])
    assert code == 0
    assert capsys.readouterr().out == f"report: {out} (2 incidents, 3 alerts)\n"
    page = out.read_text(encoding="utf-8")
    assert 'data-ministry="mef"' in page
    assert "Ministry of Economy and Finance" in page


def test_operator_errors_are_one_line_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--db", str(tmp_path / "none.db"), "--out", "x.html"]) == 1
    assert capsys.readouterr().err == f"neakta report: no incident store at {tmp_path}/none.db\n"
    assert main(["report", "--db", str(tmp_path / "none.db")]) == 2
    assert "give --out FILE.html, --navigator FILE.json or both" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["report", "--since", "7 days", "--out", "x.html"])
    assert "use a number and m, h, d or w" in capsys.readouterr().err


def test_at_most_the_limit_of_incidents_is_listed_most_severe_first(db: Path) -> None:
    report = build_report(
        read_sqlite(db, ministry=None, since=None),
        ministry=None,
        since=None,
        now=NOW,
        lang="en",
        inventory=load_assets(DEFAULT_ASSETS),
        catalog=load_attack(),
        technique_tactics=load_technique_tactics(),
        incident_limit=2,
    )

    assert [i["severity_label"] for i in report.incidents] == ["critical", "high"]
    assert report.incidents_not_listed == 2
    assert report.totals["incidents"] == 4
    page = render_html(report)
    assert 'data-incidents-not-listed="2">2 less severe incidents are not listed<' in page
