"""A :class:`respond.report.build.Report` as one self-contained HTML file.

The template autoescapes every value, so text from logs (rule names, host names, the
raw ``event.original``) is shown, never interpreted. The page loads nothing: styles
and the one small script are inline, and its Content-Security-Policy allows no
network access and no script but that one (by its SHA-256), so even markup that slipped
through could not run.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Final

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from respond.report.build import Report
from respond.report.charts import heat_color
from respond.report.summary import SEVERITY_LABELS, STATES

__all__ = ["SCRIPT", "render_html"]

_TEMPLATES: Final = Path(__file__).resolve().parent / "templates"

SCRIPT: Final = (
    "document.documentElement.dataset.script = 'ran';"
    "function openAll(open) {"
    "document.querySelectorAll('details.incident').forEach(function (d) { d.open = open; });"
    "}"
    "document.querySelectorAll('button[data-toggle]').forEach(function (button) {"
    "button.addEventListener('click', function () { openAll(button.dataset.toggle === 'open'); });"
    "});"
    "window.addEventListener('beforeprint', function () { openAll(true); });"
)
"""The page's only script: buttons that open or close every incident, and every incident
opened for printing."""


def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(_TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(report: Report) -> str:
    """The report as HTML text (UTF-8, ``lang`` set to the report's language)."""
    digest = base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()
    template = _environment().get_template("report.html.j2")
    return template.render(
        r=report,
        severities=SEVERITY_LABELS,
        states=STATES,
        heat=heat_color,
        script=Markup(SCRIPT),
        script_hash=f"sha256-{digest}",
    )
