"""Reports for the ministries: what the SOC saw, as one self-contained HTML file.

Data gathering (:mod:`respond.report.sources` reads, :mod:`respond.report.frames` and
:mod:`respond.report.summary` compute, :mod:`respond.report.build` assembles) is kept
apart from rendering (:mod:`respond.report.charts`, :mod:`respond.report.render`).
:mod:`respond.report.attack` also writes the ATT&CK Navigator layer.
"""

from respond.report.attack import (
    NAVIGATOR_VERSIONS,
    attack_matrix,
    load_technique_tactics,
    navigator_layer,
)
from respond.report.build import Report, ReportData, build_report, inventory_ministries
from respond.report.files import write_report
from respond.report.frames import alerts_frame, incidents_frame
from respond.report.labels import LANGUAGES, Language, labels
from respond.report.render import render_html
from respond.report.sources import ReportSourceError, read_elastic
from respond.report.sqlite import read_sqlite
from respond.report.summary import technique_counts

__all__ = [
    "LANGUAGES",
    "NAVIGATOR_VERSIONS",
    "Language",
    "Report",
    "ReportData",
    "ReportSourceError",
    "alerts_frame",
    "attack_matrix",
    "build_report",
    "incidents_frame",
    "inventory_ministries",
    "labels",
    "load_technique_tactics",
    "navigator_layer",
    "read_elastic",
    "read_sqlite",
    "render_html",
    "technique_counts",
    "write_report",
]
