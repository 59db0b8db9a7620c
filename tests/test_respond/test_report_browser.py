"""The report in a real headless browser (Chromium): it renders without console errors,
shows the store's counts, runs its own script and none from the logs; screenshots are
saved in the test's folder."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from neakta.cli import main
from respond.incidents import severity_label
from respond.store import SqliteStore
from tests.browser import Element, chromium, elements, khmer_fonts, load, screenshot
from tests.test_respond.report_support import HOSTILE, write_store


def attribute(found: list[Element], name: str, value: str | None = None) -> list[Element]:
    return [e for e in found if name in e.attributes and value in (None, e.attributes[name])]


def number(element: Element, name: str) -> int:
    return int(element.attributes[name] or "")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo") / "demo"
    assert main(["demo", "--dir", str(folder)]) == 0
    return folder


def test_the_console_capture_sees_errors(tmp_path: Path) -> None:
    page = tmp_path / "errors.html"
    page.write_text(
        "<!DOCTYPE html><html><body><script>console.error('broken on purpose');"
        "undefinedFunction();</script></body></html>",
        encoding="utf-8",
    )
    errors = load(page).console
    assert any("broken on purpose" in e for e in errors)
    assert any("undefinedFunction is not defined" in e for e in errors)


def test_the_demo_report_shows_the_store_counts(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chromium()
    report = demo / "report.html"
    store = SqliteStore(demo / "neakta.db")
    try:
        incidents = store.list_incidents(limit=100_000)
        alert_count = store.count_alerts()
    finally:
        store.close_now()
    page = load(report)
    assert page.console == []
    found = elements(page.dom)

    html = attribute(found, "data-script")
    assert [e.attributes["data-script"] for e in html] == ["ran"]
    totals = {e.attributes["data-total"]: int(e.text) for e in attribute(found, "data-total")}
    assert totals["incidents"] == len(incidents)
    assert totals["alerts"] == alert_count
    cells = attribute(
        [e for e in found if e.tag == "td"], "data-count"
    )  # the severity x state table
    shown = {
        (e.attributes["data-severity"], e.attributes["data-state"]): int(e.text) for e in cells
    }
    expected = Counter((severity_label(i["severity"]), i["state"]) for i in incidents)
    assert {k: v for k, v in shown.items() if v} == dict(expected)
    rows = [e for e in attribute(found, "data-ministry") if e.tag == "tr"]
    by_ministry = Counter(i["organization_id"] or "" for i in incidents)
    assert {e.attributes["data-ministry"]: number(e, "data-incidents") for e in rows if
            number(e, "data-incidents")} == dict(by_ministry)  # fmt: skip
    assert sum(number(e, "data-alerts") for e in rows) == alert_count
    details = attribute(found, "data-incident")
    assert len(details) == len(incidents)
    originals = attribute(found, "data-original")
    assert originals and all(e.tag == "pre" and e.text for e in originals)
    techniques = {e.attributes["data-technique"] for e in attribute(found, "data-technique")}
    assert {"T1059", "T1003", "T1190"} <= techniques

    shot = screenshot(report, demo.parent / "report.png", height=2400)
    assert shot.stat().st_size > 10_000


async def test_a_hostile_raw_event_is_shown_as_text_and_never_runs(tmp_path: Path) -> None:
    chromium()
    await write_store(tmp_path / "neakta.db")
    out = tmp_path / "mef.html"
    assert main(["report", "--db", str(tmp_path / "neakta.db"), "--ministry", "mef",
                 "--lang", "km", "--out", str(out)]) == 0  # fmt: skip

    page = load(out)
    assert page.console == []
    found = elements(page.dom)
    body = next(e for e in found if e.tag == "body")
    assert "data-pwned" not in body.attributes
    assert not [e for e in found if e.tag == "img"]
    assert [e.text for e in attribute(found, "data-original", "a2")] == [HOSTILE]
    assert [e.attributes["data-script"] for e in attribute(found, "data-script")] == ["ran"]
    assert any("Mimikatz <b>bold</b>" in e.text for e in found if e.tag == "td")
    assert next(e for e in found if e.tag == "html").attributes["lang"] == "km"
    screenshot(out, tmp_path / "mef-km.png")


def test_khmer_text_has_a_khmer_font(tmp_path: Path) -> None:
    chromium()
    fonts = khmer_fonts()
    if not fonts:
        pytest.skip("no Khmer font installed (Debian fonts-khmeros or fonts-noto-core)")
    stack = ("Noto Sans Khmer", "Khmer OS", "Khmer OS System", "Khmer OS Content")
    assert set(fonts) & set(stack), fonts
