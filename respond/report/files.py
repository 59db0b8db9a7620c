"""The report and the Navigator layer written to files, with the bundled tables loaded."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson

from enrich.attack import load_attack
from enrich.inventory import load_assets
from respond.report.attack import load_technique_tactics, navigator_layer
from respond.report.build import Report, ReportData, build_report
from respond.report.labels import Language
from respond.report.render import render_html
from respond.report.summary import technique_counts

__all__ = ["write_report"]


def write_report(
    data: ReportData,
    *,
    out: Path | None,
    assets: Path,
    navigator: Path | None = None,
    ministry: str | None = None,
    since: datetime | None = None,
    lang: Language = "en",
    now: datetime | None = None,
) -> Report:
    """Build the report of ``data``; write its HTML to ``out`` and its layer to ``navigator``.

    Raises
    ------
    SourceFileError
        The asset inventory or the ATT&CK table cannot be read.
    OSError
        An output file cannot be written.
    """
    tactics = load_technique_tactics()
    report = build_report(
        data,
        ministry=ministry,
        since=since,
        now=now or datetime.now(UTC),
        lang=lang,
        inventory=load_assets(assets),
        catalog=load_attack(),
        technique_tactics=tactics,
    )
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(render_html(report), encoding="utf-8")
    if navigator is not None:
        who = ministry or "all ministries"
        layer = navigator_layer(
            technique_counts(data.alerts),
            name=f"neakta: {who}",
            description=f"ATT&CK techniques of neakta alerts, {who}, {report.period}; "
            "score = alerts",
            technique_tactics=tactics,
        )
        navigator.parent.mkdir(parents=True, exist_ok=True)
        navigator.write_bytes(orjson.dumps(layer, option=orjson.OPT_INDENT_2))
    return report
